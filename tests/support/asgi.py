"""ASGI HTTP scopes as Hypercorn hands them to the app (routing and parsing tests), and one
signed request sent straight into the app in process (admission and grant tests)."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from s3proxy.config import Settings
from tests.support.s3http import sign


def http_scope(
    method: str, path: str, query: str = "", headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A scope for ``method path?query`` with ``headers`` (names lower-cased) and a Host."""
    raw = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    raw.append((b"host", b"127.0.0.1:9000"))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw,
    }


@dataclass
class Answer:
    """What an ASGI app sent for one request, and how often it asked for the request body."""

    status: int
    headers: dict[str, str]
    body: bytes
    receives: int

    @property
    def code(self) -> str | None:
        """The S3 error code of an error answer."""
        return (
            ET.fromstring(self.body).findtext("Code") if self.status >= 400 and self.body else None
        )


async def call_app(
    app: Callable[..., Awaitable[None]],
    method: str,
    url: str,
    keys: tuple[str, str],
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Send one SigV4-signed request (botocore's signer) straight into ``app``, in process."""
    signed = sign(method, url, *keys, dict(headers or {}), body)
    split = urlsplit(url)
    raw = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": split.path,
        "raw_path": split.path.encode(),
        "query_string": split.query.encode(),
        "headers": raw,
    }
    receives = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal receives
        receives += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    head = {name.decode().lower(): value.decode() for name, value in sent[0]["headers"]}
    payload = b"".join(message.get("body", b"") for message in sent[1:])
    return Answer(int(sent[0]["status"]), head, payload, receives)


def own_context(request: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run one request in a task with a fresh context, as a server runs each request."""
    return asyncio.create_task(request, context=contextvars.Context())


async def call_anonymous(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    query: str = "",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send one unsigned request with an empty body into ``app``; its status and body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def request() -> None:
        await app(http_scope(method, path, query, headers), receive, send)

    await own_context(request())
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(sent[0]["status"]), body


def tenant_keys(name: str, tag: str) -> tuple[str, str]:
    """Tenant ``name``'s access and secret key in a test whose keys carry ``tag``."""
    return (f"AK{name.upper()}{tag}", f"{name}-secret-" + "s" * 24)


def local_tenants_settings(
    root: str, names: Iterable[str], tag: str, extra: Mapping[str, dict[str, Any]] | None = None
) -> Settings:
    """Tenants ``names`` on one local store under ``root``, each with one key
    (:func:`tenant_keys`) and a home; ``extra`` adds settings to a tenant by name."""
    tenants: dict[str, Any] = {}
    for name in names:
        access, secret = tenant_keys(name, tag)
        tenants[name] = {
            "keys": [{"access_key": access, "secret_key": secret}],
            "home": {"upstream": "store", "bucket": "home"},
            **(extra or {}).get(name, {}),
        }
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": root}},
            "tenants": tenants,
        }
    )


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scoped_tenant_settings(
    scoped: tuple[str, str], allow: list[dict[str, Any]], whole: tuple[str, str]
) -> Settings:
    """One tenant ``t`` with a scoped key (``allow``) and a whole-tenant key, its home on an
    upstream nobody listens on: any upstream request ends in a 5xx, so a 403 with no receive
    call proves a refusal read no body byte and made no upstream request."""
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {
                "u": {
                    "endpoint": f"http://127.0.0.1:{closed_port()}",
                    "access_key": "up",
                    "secret_key": "up-secret",
                    "connect_timeout": 2,
                }
            },
            "tenants": {
                "t": {
                    "keys": [
                        {"access_key": scoped[0], "secret_key": scoped[1], "allow": allow},
                        {"access_key": whole[0], "secret_key": whole[1]},
                    ],
                    "home": {"upstream": "u", "bucket": "home"},
                }
            },
        }
    )
