"""A scripted S3 upstream for :mod:`benchmarks.request_path`: answers at the connection pool.

Why: with the in-memory backend that benchmark measures the gateway down to the ``Backend``
interface, and none of the S3 backend's own work per request (its read wrappers, the headers
it stores and reads back, signing the upstream request, reading the answer) is in its figure.
Here the real S3 backend runs, and only its connection pool is replaced
(:meth:`install`): each request is answered at once, in process, from a dict, with the headers
SeaweedFS 4.48 sends (``Server: SeaweedFS``, an ``x-amz-request-id``), so no socket, no HTTP
parsing and no other process is measured (:mod:`benchmarks.native_small_reads` measures the
native client's own reads). A benchmark stub, never a test double: it knows only what the
benchmark's bucket and small objects need, and answers anything else 501 so the run fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

LAST_MODIFIED = "Thu, 03 Dec 2026 12:00:00 GMT"
KEPT = ("content-type", "cache-control", "content-disposition", "content-encoding", "expires")
"""Request headers SeaweedFS keeps with an object and answers on its reads (and x-amz-meta-*)."""
EMPTY_LIST = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult'
    b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>'
    b"<MaxKeys>1000</MaxKeys><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
    b"<EncodingType>url</EncodingType></ListBucketResult>"
)

NO_UPLOADS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult'
    b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><KeyMarker></KeyMarker>'
    b"<UploadIdMarker></UploadIdMarker><MaxUploads>1</MaxUploads><IsTruncated>false</IsTruncated>"
    b"</ListMultipartUploadsResult>"
)


class ScriptedResponse:
    """What the S3 backend reads of an answer (``UpstreamResponse``): the body is all here."""

    __slots__ = ("_body", "_read", "headers", "method", "status")

    def __init__(self, method: str, status: int, headers: Any, body: bytes) -> None:
        self.method = method
        self.status = status
        self.headers = headers
        self._body = body
        self._read = False

    @property
    def content(self) -> ScriptedResponse:
        return self

    async def read(self, n: int = -1) -> bytes:
        if self._read:
            return b""
        self._read = True
        return self._body

    async def readexactly(self, n: int) -> bytes:
        self._read = True
        return self._body[:n]

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        yield await self.read(), True

    async def iter_any(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def at_eof(self) -> bool:
        return self._read

    def release(self) -> None:
        return None

    def close(self) -> None:
        return None


class ScriptedPool:
    """The pool of :mod:`s3proxy.backends.upstream_pool` as far as the backend calls it."""

    closed = False

    def __init__(self) -> None:
        from s3proxy.backends.upstream_response import Headers

        self._headers = Headers
        self.objects: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}
        self.buckets: set[str] = set()
        self.requests = 0

    def _answer(
        self, method: str, status: int, pairs: list[tuple[str, str]], body: bytes = b""
    ) -> ScriptedResponse:
        pairs = [
            ("Server", "SeaweedFS"),
            ("x-amz-request-id", "1765000000000000000"),
            *pairs,
            ("Content-Length", str(len(body))),
        ]
        sent = b"" if method == "HEAD" else body
        return ScriptedResponse(method, status, self._headers(pairs), sent)

    async def request(
        self,
        method: str,
        host: str,
        port: int,
        target: str,
        headers: dict[str, str],
        body: AsyncIterator[bytes] | bytes | None = None,
    ) -> ScriptedResponse:
        self.requests += 1
        path, _, query = target.partition("?")
        bucket, _, key = unquote(path[1:]).partition("/")
        if not key:
            return self._bucket(method, bucket, query)
        name = f"{bucket}/{key}"
        if method == "PUT":
            if query or "x-amz-copy-source" in headers:
                return self._answer(method, 501, [])
            data = body if isinstance(body, bytes) else b"".join([c async for c in body or ()])
            if headers.get("if-none-match") == "*" and name in self.objects:
                return self._answer(method, 412, [], _error("PreconditionFailed"))
            etag = f'"{hashlib.md5(data).hexdigest()}"'
            kept = [(n, v) for n, v in headers.items() if n in KEPT or n.startswith("x-amz-meta-")]
            self.objects[name] = (data, [("ETag", etag), ("Last-Modified", LAST_MODIFIED), *kept])
            return self._answer(method, 200, [("ETag", etag)])
        if method in ("GET", "HEAD"):
            found = self.objects.get(name)
            if found is None or query:
                status = 404 if found is None else 501
                return self._answer(method, status, [], _error("NoSuchKey"))
            return self._answer(method, 200, [*found[1], ("Accept-Ranges", "bytes")], found[0])
        if method == "DELETE":
            self.objects.pop(name, None)
            return self._answer(method, 204, [])
        return self._answer(method, 501, [], _error("NotImplemented"))

    def _bucket(self, method: str, bucket: str, query: str) -> ScriptedResponse:
        if method == "PUT" and not query:
            self.buckets.add(bucket)
            return self._answer(method, 200, [])
        if bucket not in self.buckets:
            return self._answer(method, 404, [], _error("NoSuchBucket"))
        if method == "HEAD":
            return self._answer(method, 200, [])
        if method == "GET" and "list-type=2" in query:
            return self._answer(method, 200, [("Content-Type", "application/xml")], EMPTY_LIST)
        if method == "GET" and "uploads=" in query:
            return self._answer(method, 200, [("Content-Type", "application/xml")], NO_UPLOADS)
        return self._answer(method, 501, [], _error("NotImplemented"))

    async def close(self) -> None:
        return None


def _error(code: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>scripted</Message></Error>".encode()


def install(backend: Any, buckets: tuple[str, ...]) -> ScriptedPool:
    """Answer every request of ``backend`` (an ``S3Upstream`` of the native client) from a
    :class:`ScriptedPool` that holds ``buckets`` (the tenants' homes): its per-tenant pools
    all become this one."""
    pool = ScriptedPool()
    pool.buckets.update(buckets)
    backend._pool = lambda: pool
    return pool
