"""How the wave 15 I fuzz reaches two gateway replicas on one upstream: each request goes to the
replica the state machine's last ``route`` rule chose (one of them, or each in turn), and the
replica window README documents ("What replicas share": a bucket created, deleted or given new
settings through one replica is seen by the others within ``server.bucket_cache_seconds``) is
modelled explicitly: a request naming a bucket (its path or its copy source) that another
replica changed less than :attr:`Replicas.window` seconds ago waits until the window has
passed, so every answer the model checks is one a single server would give, and a difference
that outlives the window is a finding. What counts as a change is kept wide (any bucket-level
write, any ACL or tagging write, any Complete): a wait costs only time. The exception is an
anonymous write (:meth:`Replicas.anonymous_write`): never waited for, it may be refused within
the window but never carried out where the stored ACL refuses it (wave 15 I's finding)."""

from __future__ import annotations

import time
from urllib.parse import unquote

from tests.support.w14i_transport import Answer, OverHttp

ROUTES = ("first", "second", "alternate")


class Replicas:
    """Two (or more) replicas' endpoints, one transport; see the module's docstring."""

    def __init__(self, endpoints: list[str], window: float) -> None:
        self.replicas = [OverHttp(endpoint) for endpoint in endpoints]
        self.window = window
        self.mode = "alternate"
        self.turn = 0
        self.changed: dict[str, tuple[float, int]] = {}
        """Bucket name → (when the last change through a replica was answered, that replica)."""
        self.waited = 0.0
        self.last = 0
        """The replica the last request went to (for assertion messages)."""
        self.unsettled = False
        """Whether the last request was an anonymous write sent within another replica's
        window (:meth:`anonymous_write`)."""

    def route(self, mode: str) -> None:
        self.mode = mode

    def choose(self) -> int:
        if self.mode == "first":
            return 0
        if self.mode == "second":
            return len(self.replicas) - 1
        self.turn += 1
        return self.turn % len(self.replicas)

    def send(
        self,
        party: str,
        method: str,
        name: str | None,
        key: str | None = None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        index = self.last = self.choose()
        names = self.names(name, headers or {})
        self.unsettled = self.anonymous_write(party, method, key, query or [], headers or {})
        if self.unsettled:
            self.unsettled = any(self.within(n, index) for n in names)
        else:
            self.settle(names, index)
        answer = self.replicas[index].send(party, method, name, key, query, headers, body)
        if answer.status < 300 and self.changes(method, key, query or [], headers or {}):
            for changed in names:
                self.changed[changed] = (time.monotonic(), index)
        return answer

    @staticmethod
    def names(name: str | None, headers: dict[str, str]) -> list[str]:
        """The buckets a request names: its path's, and its copy source's."""
        found = [name] if name is not None else []
        source = headers.get("x-amz-copy-source")
        if source:
            found.append(unquote(source).lstrip("/").split("/", 1)[0])
        return found

    @staticmethod
    def changes(
        method: str, key: str | None, query: list[tuple[str, str]], headers: dict[str, str]
    ) -> bool:
        """Whether a request (answered 2xx) may change what another replica caches."""
        if method in ("GET", "HEAD"):
            return False
        named = {n for n, _ in query}
        if key is None and method in ("PUT", "DELETE"):
            return True  # CreateBucket, DeleteBucket, bucket ACL and tags
        if named & {"acl", "tagging"} or "x-amz-acl" in headers:
            return True
        return method == "POST" and "uploadId" in named  # a Complete writes the object's ACL

    @staticmethod
    def anonymous_write(
        party: str, method: str, key: str | None, query: list[tuple[str, str]],
        headers: dict[str, str],
    ) -> bool:  # fmt: skip
        """An anonymous PutObject, DeleteObject or DeleteObjects: judged by the bucket's ACL as
        stored (README), so never waited for; within the window it may only be refused (403,
        as for a grant not yet seen), never carried out where the stored ACL refuses it."""
        if party != "anon" or any(n.startswith("x-amz-") for n in headers):
            return False
        named = {n for n, _ in query}
        if key is None:
            return method == "POST" and named == {"delete"}
        return method in ("PUT", "DELETE") and not named

    def within(self, name: str, index: int) -> bool:
        """Whether another replica changed ``name`` less than the window ago."""
        when, by = self.changed.get(name, (0.0, index))
        return by != index and when + self.window > time.monotonic()

    def settle(self, names: list[str], index: int) -> None:
        """Wait out the window of any of ``names`` another replica changed."""
        for name in names:
            when, by = self.changed.get(name, (0.0, index))
            if by == index:
                continue
            left = when + self.window - time.monotonic()
            if left > 0:
                time.sleep(left)
                self.waited += left
            self.changed.pop(name, None)

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()
