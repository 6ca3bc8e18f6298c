"""How the wave 14 I model-based fuzz reaches a gateway: straight into the ASGI app over a local
store (:class:`InProcess`), or over HTTP to a real ``s3proxy serve`` (:class:`OverHttp`), each
request signed by botocore with the party's key (SigV4 header) or sent anonymously."""

from __future__ import annotations

import asyncio
import contextvars
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.s3http import send, sign
from tests.support.w14i_model import SCOPED_BUCKET, SCOPED_PREFIX

KEYS = {
    "a": ("AKW14IA000000000", "w14i-a-secret-aaaaaaaaaaaaaaaaaaaa"),
    "as": ("AKW14IASCOPED000", "w14i-as-secret-cccccccccccccccccc"),
    "b": ("AKW14IB000000000", "w14i-b-secret-bbbbbbbbbbbbbbbbbbbb"),
}
SCOPED_ALLOW = [
    {
        "actions": ["read", "list", "write", "delete"],
        "buckets": [SCOPED_BUCKET],
        "prefixes": [SCOPED_PREFIX],
    }
]
HOME_BUCKET = "w14ihomezq"
HOME_PREFIX = "w14iprefixzq/"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        if self.status < 300 or not self.body:
            return None
        return ET.fromstring(self.body).findtext("Code")


class Transport(Protocol):
    def send(
        self,
        party: str,
        method: str,
        name: str | None,
        key: str | None = None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer: ...

    def close(self) -> None: ...


def tenants(upstream: str) -> dict[str, Any]:
    """Tenants a and b (a with a scoped key too), homes in one upstream bucket."""
    return {
        tenant: {
            "keys": [{"access_key": KEYS[tenant][0], "secret_key": KEYS[tenant][1]}]
            + (
                [{"access_key": KEYS["as"][0], "secret_key": KEYS["as"][1], "allow": SCOPED_ALLOW}]
                if tenant == "a"
                else []
            ),
            "home": {
                "upstream": upstream,
                "bucket": HOME_BUCKET,
                "prefix": HOME_PREFIX + tenant + "/",
            },
        }
        for tenant in ("a", "b")
    }


def path_and_query(name: str | None, key: str | None, query: list[tuple[str, str]]) -> str:
    path = "/"
    if name is not None:
        path += name
        if key is not None:
            path += "/" + quote(key, safe="/~")
    if query:
        pairs = [
            quote(n, safe="-_.~") + ("=" + quote(v, safe="-_.~") if v else "") for n, v in query
        ]
        path += "?" + "&".join(pairs)
    return path


def signed_as(
    party: str, method: str, url: str, headers: dict[str, str] | None, body: bytes
) -> dict[str, str]:
    """``headers`` signed with ``party``'s key; the anonymous party sends them with a Host only."""
    sent = dict(headers or {})
    if party != "anon":
        return sign(method, url, *KEYS[party], sent, body)
    sent["Host"] = urlsplit(url).netloc
    return sent


class InProcess:
    """One gateway over a fresh local store under ``root``, in its own event loop."""

    ENDPOINT = "http://127.0.0.1:9000"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        settings = Settings.model_validate(
            {
                "server": {"secret": "s" * 32},
                "upstreams": {"w14istore": {"type": "local", "path": str(root)}},
                "tenants": tenants("w14istore"),
            }
        )
        self.gateway = Gateway(settings)
        self.app = S3App(self.gateway)

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
        url = self.ENDPOINT + path_and_query(name, key, query or [])
        sent_headers = signed_as(party, method, url, headers, body)
        return self.loop.run_until_complete(self._call(method, url, sent_headers, body))

    async def _call(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        split = urlsplit(url)
        raw = [(n.lower().encode(), v.encode()) for n, v in headers.items()]
        if body or method in ("PUT", "POST"):
            raw.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "http_version": "1.1",
            "scheme": "http",
            "method": method,
            "path": unquote(split.path),
            "raw_path": split.path.encode(),
            "query_string": split.query.encode(),
            "headers": raw,
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 9000),
        }
        sent: list[dict[str, Any]] = []
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if given:
                await asyncio.sleep(3600)
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send_message(message: dict[str, Any]) -> None:
            sent.append(message)

        task = asyncio.create_task(
            self.app(scope, receive, send_message), context=contextvars.Context()
        )
        await asyncio.wait_for(task, 60)
        head = {n.decode().lower(): v.decode("latin-1") for n, v in sent[0]["headers"]}
        payload = b"".join(m.get("body", b"") for m in sent[1:])
        return Answer(int(sent[0]["status"]), head, payload)

    def close(self) -> None:
        self.loop.run_until_complete(self.gateway.close())
        self.loop.close()


class OverHttp:
    """A real proxy at ``endpoint`` (tests/integration/conftest.start_proxy)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

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
        url = self.endpoint + path_and_query(name, key, query or [])
        sent_headers = signed_as(party, method, url, headers, body)
        raw = send(method, url, sent_headers, body)
        return Answer(raw.status, {n.lower(): v for n, v in raw.headers}, raw.body)

    def close(self) -> None:
        pass
