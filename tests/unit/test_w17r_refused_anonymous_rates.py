"""Review reproduction (wave 17 R): anonymous requests the gateway refuses (403 AccessDenied:
a private bucket, a private object) spend their bucket owner's anonymous rate tokens
(s3proxy.anonymous_rates, wave 17 B).

anonymous.serve takes the owner's rate token once the bucket's one holder is known and only
then asks whether anything is public (``_claim``). One unsigned request a second to any of
the owner's private buckets (answered 403, no upstream byte moved) is thus enough for every
anonymous reader of the owner's public buckets to be answered 503 SlowDown, and a missing
name (403 at once, no token) and a private bucket's (503 once drained) answer differently.

Fixed in wave 17 R2: the token is taken once the request is granted. (R2 renamed the owner
from "amos": the anonymous rate buckets are per process and owner name, so sharing the name
with tests/unit/test_w17b_anonymous_rates.py made that test's result depend on which ran
first in a worker.)"""

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

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W17RRATES0"
LIMITS = {"rhea": {"limits": {"requests_per_second": 1}}}


def _settings(root: Path, limited: bool) -> Settings:
    settings = local_tenants_settings(str(root), LIMITS, TAG, LIMITS if limited else None)
    server = settings.server.model_copy(
        update={"limits": settings.server.limits.model_copy(update={"max_wait": 0.1})}
    )
    return settings.model_copy(update={"server": server})


async def _signed(app: S3App, method: str, path: str, body: bytes = b"", acl: str = "") -> int:
    keys = tenant_keys("rhea", TAG)
    headers = {"x-amz-acl": acl} if acl else {}
    answer = await own_context(call_app(app, method, f"{ENDPOINT}{path}", keys, body, headers))
    return int(answer.status)


def test_refused_anonymous_requests_spend_no_rate_token(tmp_path: Path) -> None:
    async def set_up() -> None:
        gateway = Gateway(_settings(tmp_path, False))
        app = S3App(gateway)
        try:
            assert await _signed(app, "PUT", "/rhea-open", acl="public-read") == 200
            assert await _signed(app, "PUT", "/rhea-open/tiny", b"t") == 200
            assert await _signed(app, "PUT", "/rhea-private") == 200
        finally:
            await gateway.close()

    async def limited() -> None:
        gateway = Gateway(_settings(tmp_path, True))
        app = S3App(gateway)
        try:
            # someone probes the owner's private bucket: refused, nothing served
            assert (await call_anonymous(app, "GET", "/rhea-private/x"))[0] == 403
            # the owner's public object, read by someone else right after
            status, body = await call_anonymous(app, "GET", "/rhea-open/tiny")
            assert (status, body) == (200, b"t"), body
        finally:
            await gateway.close()

    asyncio.run(set_up())
    asyncio.run(limited())
