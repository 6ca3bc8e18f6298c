"""A bucket's existence check that the upstream fails (503, a timeout) is not an absence
(wave 17 R2, s3proxy.cors_requests.has_bucket).

Two tenants may both have a bucket ``pub``; an anonymous (or granted) read gets the one public
longest (s3proxy.name_claims). The look-up confirms each home's bucket with a HEAD of its
marker, and any error of that HEAD counted as "no such bucket" and was remembered for a cache
lifetime: one failed HEAD on the first owner's home (a busy or restarting upstream) served the
later tenant's bucket under the name for the next ``bucket_cache_seconds``, even after the
upstream answered again. Now such a failure fails the look-up (503), and the next read finds
the first owner's bucket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.asgi import call_anonymous, call_app
from tests.unit.test_w17r_slow_home import ENDPOINT, FIRST, LATER, _settings


def test_a_failed_existence_check_does_not_hand_the_name_to_another_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def setup() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            for keys, body in ((FIRST, b"first's"), (LATER, b"later's")):
                public = {"x-amz-acl": "public-read"}
                assert (await call_app(app, "PUT", f"{ENDPOINT}/pub", keys, b"", public)).status
                put = await call_app(app, "PUT", f"{ENDPOINT}/pub/k", keys, body)
                assert put.status == 200
                if keys is FIRST:  # public since different seconds: the first owner's wins
                    time.sleep(1.1)
        finally:
            await gateway.close()

    asyncio.run(setup())
    exists = BucketRegistry.exists
    failed: list[str] = []

    async def flaky(self: BucketRegistry, bucket: str, fresh: bool = False) -> bool:
        if self.tenant.name == "first" and not failed:
            failed.append(bucket)  # the upstream fails this one HEAD, then answers again
            raise S3Error(S3ErrorCode.ServiceUnavailable)
        return await exists(self, bucket, fresh)

    monkeypatch.setattr(BucketRegistry, "exists", flaky)

    async def read() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            status, body = await call_anonymous(app, "GET", "/pub/k")
            assert failed == ["pub"]
            assert body != b"later's", "served another tenant's object under the name"
            assert status == 503
            assert await call_anonymous(app, "GET", "/pub/k") == (200, b"first's")
        finally:
            await gateway.close()

    asyncio.run(read())
