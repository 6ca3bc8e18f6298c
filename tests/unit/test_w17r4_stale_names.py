"""Review reproduction (wave 17 R4): a late home's *last names* hand a bucket it created since
to another tenant (s3proxy.bucket_index, wave 17 R2, 8784f5d).

R2 leaves a home out of a bucket look-up (its listing past LOOKUP_WAIT, or ended unreachable)
when the names it held when last listed, "however long ago", do not include the bucket. Those
names say nothing of a bucket the tenant created after that listing. Here the first owner's
home is listed while it holds no bucket; it then creates ``pub`` and makes it public; a second
tenant makes its own ``pub`` public just after (so the first owner's is the one public
longest, the one every anonymous reader must get). Once those names are stale and the
first owner's home is slow (or its listing fails unreachable), an anonymous GET /pub/k is
served from the second tenant's bucket: another tenant's object under the name. Due: the first
owner's object, or 503 SlowDown while its home is late (R2's answer when the last names include
the bucket or are unknown). Passes on 4f402ef (which waited for the home, or asked it with a
HEAD); fails on HEAD in both variants."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.asgi import call_anonymous, call_app

ENDPOINT = "http://127.0.0.1:9000"
FIRST = ("AKFIRSTHOME00004", "first-secret-" + "f" * 24)
LATER = ("AKLATERHOME00004", "later-secret-" + "l" * 24)
LIFETIME = 0.3
"""server.bucket_cache_seconds: the names' lifetime."""
SLOW = 0.6
"""How long the first owner's home takes to list once busy (past LOOKUP_WAIT, patched to 0.2)."""


def _settings(root: Path) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "bucket_cache_seconds": LIFETIME},
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


@pytest.mark.parametrize("home", ["slow", "unreachable"])
def test_last_names_do_not_rule_out_a_bucket_created_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str
) -> None:
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.2, raising=False)
    public = {"x-amz-acl": "public-read"}
    listed = BucketRegistry.names
    busy: set[str] = set()

    async def names(self: BucketRegistry, limit: int) -> set[str] | None:
        if self.tenant.name in busy:
            if home == "unreachable":  # its upstream answers 503 for now
                raise S3Error(S3ErrorCode.ServiceUnavailable)
            await asyncio.sleep(SLOW)
        return await listed(self, limit)

    monkeypatch.setattr(BucketRegistry, "names", names)

    async def run() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            # The index lists both homes: the first owner holds no bucket yet.
            assert (await call_anonymous(app, "GET", "/pub/k"))[0] == 403
            for keys, body in ((FIRST, b"first's"), (LATER, b"later's")):
                made = await call_app(app, "PUT", f"{ENDPOINT}/pub", keys, b"", public)
                assert made.status == 200
                put = await call_app(app, "PUT", f"{ENDPOINT}/pub/k", keys, body)
                assert put.status == 200
            # The first owner's is public longest (by the records' microseconds): it wins.
            busy.add("first")  # its upstream is busy now: listings past LOOKUP_WAIT
            # Its names are stale already: its creation moved its generation (wave 17 R5 took
            # out the waits here, for the lifetime and for public times seconds apart).
            for _ in range(5):
                status, body = await call_anonymous(app, "GET", "/pub/k")
                assert body != b"later's", "served another tenant's object under the name"
                assert (status, body) == (200, b"first's") or status == 503
                await asyncio.sleep(SLOW / 3)
        finally:
            await gateway.close()

    asyncio.run(run())
