"""A home left out of a bucket look-up no longer tells anyone which private buckets it holds
(wave 18 C; s3proxy.bucket_index).

An unsigned request, or one signed by another tenant for a bucket it does not have, finds the
bucket's owner through every home's listed bucket names. A home whose listing is slow (past
LOOKUP_WAIT) is left out when the names it held when last listed do not include the bucket;
when they do, the look-up answered 503 SlowDown (wave 17 R2: that bucket may be public, and
going on without it could hand its name to another tenant's bucket). So while one tenant's home
was slow, anyone could test bucket names: a private bucket of that tenant answered 503, a name
nobody has 403 (anonymous) or NoSuchBucket (another tenant) — the private bucket's existence,
which every other path hides (tests/integration/test_isolation_probe.py), and every reader of
another tenant's public bucket of the same name got 503 for it.

A bucket whose marker was empty when its home was last listed had no settings then, so it
granted nothing (no ACL, no object ACL: the first object grant flags the record); a grant it
got since began after that listing, which the claim's bound already covers (wave 17 R5). Such
a name now rules the left-out home out as an absent one does. A bucket with settings may grant,
so its name still answers 503, as before."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from s3proxy.anonymous import gates_for
from s3proxy.app import Gateway, S3App
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.asgi import call_anonymous, call_app, own_context
from tests.support.waiting import DEADLINE

ENDPOINT = "http://127.0.0.1:9000"
OWNER = ("AKOWNERHOME00001", "owner-secret-" + "o" * 24)
PROBER = ("AKPROBERHOME0001", "prober-secret-" + "p" * 24)


def _settings(root: Path, **limits: float) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "limits": limits},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                "owner": {
                    "keys": [{"access_key": OWNER[0], "secret_key": OWNER[1]}],
                    "home": {"upstream": "store", "bucket": "home-owner"},
                },
                "prober": {
                    "keys": [{"access_key": PROBER[0], "secret_key": PROBER[1]}],
                    "home": {"upstream": "store", "bucket": "home-prober"},
                },
            },
        }
    )


def _code(body: bytes) -> bytes:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0] if b"<Code>" in body else b""


def test_a_slow_homes_private_bucket_answers_as_a_name_nobody_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every home's first listing is waited for, however loaded the box: then the wait is short.
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", DEADLINE)
    monkeypatch.setattr("s3proxy.name_claims.CLOCK_MARGIN", timedelta(0))  # one clock here
    listed = BucketRegistry.names
    released = asyncio.Event()
    slow: list[str] = []

    async def names(self: BucketRegistry, limit: int) -> set[str] | None:
        if self.tenant.name in slow:
            await released.wait()  # the owner's home: slower than any look-up waits
        return await listed(self, limit)

    monkeypatch.setattr(BucketRegistry, "names", names)

    async def main() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            for bucket, headers in (("hidden", {}), ("shown", {"x-amz-acl": "public-read"})):
                made = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}", OWNER, b"", headers)
                assert made.status == 200
                put = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}/k", OWNER, b"owner's")
                assert put.status == 200
            # Every home listed once, quickly: the owner's names are known.
            assert (await call_anonymous(app, "GET", "/shown/k")) == (200, b"owner's")
            slow.append("owner")
            monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.05)
            gateway.runtime.storages["owner"].buckets.cache.generation.bump()  # list again

            nobody = await call_anonymous(app, "GET", "/nobody-has-this/k")
            hidden = await call_anonymous(app, "GET", "/hidden/k")
            assert nobody[0] == 403 and _code(nobody[1]) == b"AccessDenied"
            assert (hidden[0], _code(hidden[1])) == (nobody[0], _code(nobody[1]))

            async def signed(path: str) -> tuple[int, bytes]:
                answer = await own_context(call_app(app, "GET", f"{ENDPOINT}{path}", PROBER))
                return answer.status, _code(answer.body)

            assert await signed("/nobody-has-this/k") == (404, b"NoSuchBucket")
            assert await signed("/hidden/k") == (404, b"NoSuchBucket")
            assert await signed("/hidden") == await signed("/nobody-has-this")

            # A bucket with settings may grant: still not guessed without its home.
            shown = await call_anonymous(app, "GET", "/shown/k")
            assert shown[0] == 503 and _code(shown[1]) == b"SlowDown"
        finally:
            released.set()
            await gateway.close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_private_bucket_is_refused_before_its_owners_anonymous_slots(tmp_path: Path) -> None:
    """Anonymous requests for a tenant's buckets take that tenant's own anonymous slots
    (s3proxy.anonymous.gates_for), and a bucket of one holder took one before its grant was
    looked at. So once the slots were full — readers of the tenant's public objects, or
    anyone reading one slowly — a request for a private bucket of that tenant waited and got
    503 SlowDown where a name nobody has got 403: the private bucket's name, and whose it is,
    for anyone who tried names. A bucket that grants nothing is now refused before any slot."""
    settings = _settings(tmp_path, max_concurrent_requests=1, max_wait=0.2)

    async def main() -> None:
        gateway = Gateway(settings)
        app = S3App(gateway)
        held = None
        try:
            for bucket, headers in (("hidden", {}), ("shown", {"x-amz-acl": "public-read"})):
                made = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}", OWNER, b"", headers)
                assert made.status == 200
                put = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}/k", OWNER, b"owner's")
                assert put.status == 200
            assert (await call_anonymous(app, "GET", "/shown/k")) == (200, b"owner's")
            held, _ = gates_for("owner", settings.server.limits)
            await held.enter(0)  # the owner's one anonymous slot: a reader holds it

            nobody = await call_anonymous(app, "GET", "/nobody-has-this/k")
            assert nobody[0] == 403 and _code(nobody[1]) == b"AccessDenied"
            for path, query in (("/hidden/k", ""), ("/hidden", ""), ("/hidden", "list-type=2")):
                hidden = await call_anonymous(app, "GET", path, query)
                assert (hidden[0], _code(hidden[1])) == (403, b"AccessDenied"), (path, query)
            # A public bucket's reader waits for the slot, as before.
            shown = await call_anonymous(app, "GET", "/shown/k")
            assert shown[0] == 503 and _code(shown[1]) == b"SlowDown"
        finally:
            if held is not None:
                held.leave()
            await gateway.close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_home_that_fails_its_lookups_does_not_fail_every_tenants_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home whose upstream refuses the gateway (rotated credentials: 500 InternalError on
    its listing and on each HEAD) was asked by HEAD for every name an anonymous or granted
    read looked up, and that HEAD's error was the answer: every tenant's public buckets
    answered 500 while one tenant's home was broken. A failed HEAD now leaves the home out as
    a slow one is: a name its last listed names rule out is served from the others (with the
    same bound on the grant's age), one they hold is 503 SlowDown, never another's bucket."""
    monkeypatch.setattr("s3proxy.name_claims.CLOCK_MARGIN", timedelta(0))  # one clock here
    listed, exists = BucketRegistry.names, BucketRegistry.exists
    broken: list[str] = []

    async def names(self: BucketRegistry, limit: int) -> set[str] | None:
        if self.tenant.name in broken:
            raise S3Error(S3ErrorCode.InternalError, "refused")
        return await listed(self, limit)

    async def head(self: BucketRegistry, bucket: str, fresh: bool = False) -> bool:
        if self.tenant.name in broken:
            raise S3Error(S3ErrorCode.InternalError, "refused")
        return await exists(self, bucket, fresh)

    monkeypatch.setattr(BucketRegistry, "names", names)
    monkeypatch.setattr(BucketRegistry, "exists", head)
    public = {"x-amz-acl": "public-read"}

    async def main() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            for keys, bucket in ((PROBER, "open"), (PROBER, "both"), (OWNER, "both")):
                made = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}", keys, b"", public)
                assert made.status == 200
                put = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}/k", keys, keys[0].encode())
                assert put.status == 200
            # Every home listed once: the owner's names are known.
            assert (await call_anonymous(app, "GET", "/open/k")) == (200, PROBER[0].encode())
            broken.append("owner")
            gateway.runtime.storages["owner"].buckets.cache.generation.bump()  # list again

            assert (await call_anonymous(app, "GET", "/open/k")) == (200, PROBER[0].encode())
            nobody = await call_anonymous(app, "GET", "/nobody-has-this/k")
            assert (nobody[0], _code(nobody[1])) == (403, b"AccessDenied")
            # A name the broken home holds may be its (public longer): never another's.
            both = await call_anonymous(app, "GET", "/both/k")
            assert (both[0], _code(both[1])) == (503, b"SlowDown")
        finally:
            await gateway.close()

    asyncio.run(asyncio.wait_for(main(), 60))
