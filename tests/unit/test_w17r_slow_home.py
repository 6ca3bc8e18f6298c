"""Review reproduction (wave 17 R): a home slower than LOOKUP_WAIT hands its public bucket's
name to a later bucket of the same name (s3proxy.bucket_index, wave 17 B).

Two tenants may create the same bucket name; an anonymous read goes to the one whose bucket has
been public longest (s3proxy.name_claims), so "a bucket created later under a public bucket's
name neither hides nor takes it". Since wave 17 a look-up leaves out a home whose listing has
run past LOOKUP_WAIT (2 s): while the first owner's home is merely slow (a busy shared upstream),
its bucket counts as absent and the anonymous read is served from the later tenant's bucket:
another tenant's object under the first owner's name (and an anonymous PUT into a
public-read-write bucket lands there too). Before, such a home was waited for.

Fixed in wave 17 R2: a home left out whose last names may hold the name (here never listed:
a fresh index) answers 503 SlowDown, S3's "try again", and the retry once its listing ended
reads the first owner's object. (R's proof asked for 200 on the first read, which needs the
look-up to wait for a slow home: that wait is what wave 17 B removed for a hung one.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.config import Settings
from tests.support.asgi import call_anonymous, call_app

ENDPOINT = "http://127.0.0.1:9000"
FIRST = ("AKFIRSTHOME00001", "first-secret-" + "f" * 24)
LATER = ("AKLATERHOME00001", "later-secret-" + "l" * 24)
SLOW = 0.6
"""How long the first owner's home takes to list: a busy upstream, not a dead one."""


def _settings(root: Path) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                "first": {
                    "keys": [{"access_key": FIRST[0], "secret_key": FIRST[1]}],
                    "home": {"upstream": "store", "bucket": "home-first"},
                },
                "later": {
                    "keys": [{"access_key": LATER[0], "secret_key": LATER[1]}],
                    "home": {"upstream": "store", "bucket": "home-later"},
                },
            },
        }
    )


def test_a_slow_home_does_not_give_its_public_name_to_another_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.2, raising=False)
    public = {"x-amz-acl": "public-read"}

    async def setup() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            for keys, body in ((FIRST, b"first's"), (LATER, b"later's")):
                made = await call_app(app, "PUT", f"{ENDPOINT}/pub", keys, b"", public)
                assert made.status == 200
                put = await call_app(app, "PUT", f"{ENDPOINT}/pub/k", keys, body)
                assert put.status == 200
                if keys is FIRST:  # public since different seconds: the first owner's wins
                    time.sleep(1.1)
            assert await call_anonymous(app, "GET", "/pub/k") == (200, b"first's")
        finally:
            await gateway.close()

    asyncio.run(setup())

    listed = BucketRegistry.names

    async def names(self: BucketRegistry, limit: int) -> set[str] | None:
        if self.tenant.name == "first":
            await asyncio.sleep(SLOW)
        return await listed(self, limit)

    monkeypatch.setattr(BucketRegistry, "names", names)

    async def read() -> None:
        gateway = Gateway(_settings(tmp_path))  # a fresh index (a restart, or a lifetime)
        app = S3App(gateway)
        try:
            status, body = await call_anonymous(app, "GET", "/pub/k")
            assert body != b"later's", "served another tenant's object under the name"
            assert status == 503 and b"<Code>SlowDown</Code>" in body
            for _ in range(100):  # the client retries; the home's listing ends meanwhile
                await asyncio.sleep(SLOW / 10)
                status, body = await call_anonymous(app, "GET", "/pub/k")
                assert body != b"later's", "served another tenant's object under the name"
                if status != 503:
                    break
            assert (status, body) == (200, b"first's")
        finally:
            await gateway.close()

    asyncio.run(read())
