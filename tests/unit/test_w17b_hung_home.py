"""One tenant's home upstream that hangs no longer stalls the look-ups of every other tenant's
buckets (wave 17, B), in process: one tenant on a local store, one on an upstream that accepts
connections and never answers.

An unsigned request (and a read signed by another tenant, and a CORS preflight) finds its
bucket's tenant by listing every home's bucket names (s3proxy.bucket_index). The hung home's
listing waited for the upstream's read timeout, and then, its names unknown, a HEAD per name
did again: every anonymous read of every tenant's public bucket waited twice the read timeout
(10 minutes with the defaults), and past 4 at once was 503. Now a look-up waits for a home's
listing at most LOOKUP_WAIT, then goes on without it — when the names it held when last
listed rule the bucket out (wave 17 R2: here it was listed once, with no buckets, before its
upstream hung; a home never listed answers 503 SlowDown instead, tests/unit/test_w17r2_*),
and the bucket's grant is older than that listing (wave 17 R5: a bucket the hung home created
since could hold an older one; tests/unit/test_w17r5_*)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.config import Settings
from tests.support.asgi import call_anonymous, call_app, own_context

ENDPOINT = "http://127.0.0.1:9000"
LIVE = ("AKLIVEHOME000001", "live-secret-" + "l" * 24)
READER = ("AKREADERHOME0001", "reader-secret-" + "r" * 24)
READ_TIMEOUT = 60.0
"""The hung upstream's: a look-up that waits for it (twice) takes far past the test's bound."""


@pytest.fixture()
def hung_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()
    for connection in held:
        connection.close()


def _settings(root: Path, port: int) -> Settings:
    hung = {"access_key": "a", "secret_key": "b", "read_timeout": READ_TIMEOUT}
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {
                "store": {"type": "local", "path": str(root)},
                "hung": {"endpoint": f"http://127.0.0.1:{port}", **hung},
            },
            "tenants": {
                "live": {
                    "keys": [{"access_key": LIVE[0], "secret_key": LIVE[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                },
                "reader": {
                    "keys": [{"access_key": READER[0], "secret_key": READER[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                },
                "stuck": {
                    "keys": [{"access_key": "AKSTUCKHOME00001", "secret_key": "s" * 30}],
                    "home": {"upstream": "hung", "bucket": "home"},
                },
            },
        }
    )


def test_a_hung_home_does_not_stall_other_tenants_lookups(
    tmp_path: Path, hung_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.2, raising=False)
    monkeypatch.setattr("s3proxy.name_claims.CLOCK_MARGIN", timedelta(0))  # one clock here
    listed = BucketRegistry.names
    answered: list[str] = []

    async def names(self: BucketRegistry, limit: int) -> set[str] | None:
        if self.tenant.name == "stuck" and not answered:
            answered.append("stuck")  # its first listing answers (no buckets), then it hangs
            return set()
        return await listed(self, limit)

    monkeypatch.setattr(BucketRegistry, "names", names)

    async def main() -> None:
        gateway = Gateway(_settings(tmp_path, hung_port))
        app = S3App(gateway)
        try:
            public = {"x-amz-acl": "public-read"}
            made = await call_app(app, "PUT", f"{ENDPOINT}/open-bucket", LIVE, b"", public)
            assert made.status == 200
            put = await call_app(app, "PUT", f"{ENDPOINT}/open-bucket/k", LIVE, b"data")
            assert put.status == 200
            first = await call_anonymous(app, "GET", "/open-bucket/k")  # every home listed
            assert first == (200, b"data") and answered == ["stuck"]
            gateway.runtime.storages["stuck"].buckets.cache.generation.bump()  # listed again
            for _ in range(3):  # the first waits for the listings, the others for nothing
                read = call_anonymous(app, "GET", "/open-bucket/k")
                assert await asyncio.wait_for(read, 20) == (200, b"data")
            signed = own_context(call_app(app, "GET", f"{ENDPOINT}/open-bucket/k", READER))
            answer = await asyncio.wait_for(signed, 20)  # another tenant's granted read
            assert (answer.status, answer.body) == (200, b"data")
        finally:
            await gateway.close()

    asyncio.run(main())
