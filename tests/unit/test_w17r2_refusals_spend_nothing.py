"""An unsigned request the gateway refuses takes none of the bucket owner's anonymous rate
tokens (wave 17 R2, s3proxy.anonymous): only a request an ACL grants is held to the owner's
rates.

Why: the token was taken before the gateway asked whether anything grants the request, so
unsigned requests to an owner's private bucket, or unsigned PUTs into its public-read one, all
refused 403, drained its tokens: its public readers then got 503, and a private bucket (503
once drained) told itself apart from a missing name (always 403)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import (
    call_anonymous,
    call_app,
    local_tenants_settings,
    own_context,
    tenant_keys,
)
from tests.unit.test_w17b_anonymous_rates import _anonymous_put

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W17R2RATES"
LIMITS = {"iola": {"limits": {"requests_per_second": 1}}}
"""One request a second: a second request in a row that took a token waits past max_wait."""


def _settings(root: Path, limited: bool) -> Settings:
    settings = local_tenants_settings(str(root), LIMITS, TAG, LIMITS if limited else None)
    server = settings.server.model_copy(
        update={"limits": settings.server.limits.model_copy(update={"max_wait": 0.1})}
    )
    return settings.model_copy(update={"server": server})


async def _signed(app: S3App, method: str, path: str, body: bytes = b"", acl: str = "") -> int:
    headers = {"x-amz-acl": acl} if acl else {}
    url = f"{ENDPOINT}{path}"
    answer = await own_context(call_app(app, method, url, tenant_keys("iola", TAG), body, headers))
    return int(answer.status)


def test_refused_unsigned_requests_leave_the_owners_rate_alone(tmp_path: Path) -> None:
    async def run(limited: bool) -> None:
        gateway = Gateway(_settings(tmp_path, limited))
        app = S3App(gateway)
        try:
            if not limited:
                assert await _signed(app, "PUT", "/iola-open", acl="public-read") == 200
                assert await _signed(app, "PUT", "/iola-open/tiny", b"t") == 200
                assert await _signed(app, "PUT", "/iola-private") == 200
                assert await _signed(app, "PUT", "/iola-private/k", b"p") == 200
                return
            for _ in range(3):  # a private bucket answers as a missing name, every time
                assert (await call_anonymous(app, "GET", "/iola-private/k"))[0] == 403
                assert (await call_anonymous(app, "GET", "/iola-nothing/k"))[0] == 403
                assert (await _anonymous_put(app, "/iola-open/up", b"u"))[0] == 403  # public-read
            assert await call_anonymous(app, "GET", "/iola-open/tiny") == (200, b"t")
            status, body = await call_anonymous(app, "GET", "/iola-open/tiny")
            assert (status, b"<Code>SlowDown</Code>" in body) == (503, True)  # granted: held
        finally:
            await gateway.close()

    asyncio.run(run(False))
    asyncio.run(run(True))
