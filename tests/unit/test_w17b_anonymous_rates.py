"""Anonymous requests are held to their bucket owner's rate limits (wave 17, B), in process on
the local store.

Before, anonymous requests took no rate token at all: a tenant limited to 1,000 bytes a second
read its ``public-read`` bucket unsigned, or wrote its ``public-read-write`` one, at any rate
(and so could anyone), past the limit that keeps the shared upstream fair. They now have token
buckets of their own per owner at the owner's rates, so the owner's signed requests still never
wait for them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import (
    call_anonymous,
    call_app,
    http_scope,
    local_tenants_settings,
    own_context,
    tenant_keys,
)

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W17BRATES0"
BIG = 50_000
"""Bytes of one body: 50 s of debt at 1,000 B/s, far past the 10 x max_wait a request waits."""
LIMITS = {
    "ann": {"limits": {"bytes_per_second": 1000}},  # public-read-write: anonymous PUTs
    "ari": {"limits": {"bytes_per_second": 1000}},  # public-read: anonymous GETs
    "amos": {"limits": {"requests_per_second": 1}},  # public-read: one request a second
}
BUCKETS = {"ann": ("ann-open", "public-read-write"), "ari": ("ari-open", "public-read")}
BUCKETS["amos"] = ("amos-open", "public-read")


def _settings(root: Path, limited: bool) -> Settings:
    settings = local_tenants_settings(str(root), LIMITS, TAG, LIMITS if limited else None)
    server = settings.server.model_copy(
        update={"limits": settings.server.limits.model_copy(update={"max_wait": 0.1})}
    )
    return settings.model_copy(update={"server": server})


async def _signed(app: S3App, who: str, method: str, path: str, body: bytes = b"", **h: str) -> int:
    url = f"{ENDPOINT}{path}"
    answer = await own_context(call_app(app, method, url, tenant_keys(who, TAG), body, h))
    return answer.status


async def _anonymous_put(app: S3App, path: str, body: bytes) -> tuple[int, bytes]:
    """An unsigned PUT of ``body``, as a browser or curl sends one (Content-Length)."""
    sent: list[dict[str, Any]] = []
    scope = http_scope("PUT", path, headers={"content-length": str(len(body))})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def request() -> None:
        await app(scope, receive, send)

    await own_context(request())
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(sent[0]["status"]), answer


def _run(root: Path, limited: bool, scenario: Callable[[S3App], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(root, limited))
        try:
            await scenario(S3App(gateway))
        finally:
            await gateway.close()

    asyncio.run(main())


def test_anonymous_requests_keep_to_their_owners_rates(tmp_path: Path) -> None:
    async def set_up(app: S3App) -> None:  # no limits yet: the owners' own writes are free
        for owner, (bucket, acl) in BUCKETS.items():
            assert await _signed(app, owner, "PUT", f"/{bucket}", **{"x-amz-acl": acl}) == 200
            assert await _signed(app, owner, "PUT", f"/{bucket}/big", b"b" * BIG) == 200
            assert await _signed(app, owner, "PUT", f"/{bucket}/tiny", b"t") == 200

    async def limited(app: S3App) -> None:
        # Anonymous writes: the first PUT is let in and takes its 50,000 bytes ahead ...
        assert (await _anonymous_put(app, "/ann-open/up", b"u" * BIG))[0] == 200
        status, body = await _anonymous_put(app, "/ann-open/up2", b"u")
        assert (status, b"<Code>SlowDown</Code>" in body) == (503, True)  # ... the next waits
        # Anonymous reads: the whole-object GET is charged as it is sent ...
        status, body = await call_anonymous(app, "GET", "/ari-open/big")
        assert (status, len(body)) == (200, BIG)
        status, body = await call_anonymous(app, "GET", "/ari-open/tiny")
        assert (status, b"<Code>SlowDown</Code>" in body) == (503, True)
        # ... in buckets of their own: the owners' signed requests do not wait for them.
        assert await _signed(app, "ann", "GET", "/ann-open/tiny") == 200
        assert await _signed(app, "ari", "GET", "/ari-open/tiny") == 200
        # A request a second: the second unsigned one in a row would wait past max_wait.
        assert (await call_anonymous(app, "HEAD", "/amos-open/tiny"))[0] == 200
        assert (await call_anonymous(app, "HEAD", "/amos-open/tiny"))[0] == 503
        assert await _signed(app, "amos", "HEAD", "/amos-open/tiny") == 200

    _run(tmp_path, False, set_up)
    _run(tmp_path, True, limited)
