"""A private *mapped* bucket is refused before its owner's anonymous slots (wave 18, review R2
of 261d6f7).

Wave 18 C refused a created bucket that grants nothing before an anonymous request waits for
one of its owner's anonymous slots (s3proxy.anonymous.gates_for): waiting there, it got 503
SlowDown while the slots were full where a name nobody has got 403, so anyone could test names
for a tenant's private buckets. A bucket the configuration maps (``tenants.*.buckets``) took
the other branch of the look-up and still waited: a private mapped bucket answered 503 while
the owner's slots were full. It is now refused first too; a public one still waits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from s3proxy.anonymous import gates_for
from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from s3proxy.cors_requests import UNSIGNED_LOOKUPS
from tests.support.asgi import call_anonymous, call_app

ENDPOINT = "http://127.0.0.1:9000"
OWNER = ("AKR2FMAPPER00001", "mapper-secret-" + "m" * 24)
TENANT = "r2f-mapper"  # its own anonymous slots: gates_for's are per process and owner


def _code(body: bytes) -> bytes:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0] if b"<Code>" in body else b""


def test_a_mapped_private_bucket_answers_as_a_name_nobody_has(tmp_path: Path) -> None:
    for name in ("private-upstream", "public-upstream"):
        (tmp_path / name).mkdir()
    mapped = {"upstream": "store"}
    limits = {"max_concurrent_requests": 1, "max_wait": 0.2}
    settings = Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "limits": limits},
            "upstreams": {"store": {"type": "local", "path": str(tmp_path)}},
            "tenants": {
                TENANT: {
                    "keys": [{"access_key": OWNER[0], "secret_key": OWNER[1]}],
                    "home": {"upstream": "store", "bucket": "home-mapper"},
                    "buckets": {
                        "private-mapped": {**mapped, "bucket": "private-upstream"},
                        "public-mapped": {**mapped, "bucket": "public-upstream"},
                    },
                },
            },
        }
    )

    async def main() -> None:
        gateway = Gateway(settings)
        app = S3App(gateway)
        held = None
        try:
            for bucket in ("private-mapped", "public-mapped"):
                put = await call_app(app, "PUT", f"{ENDPOINT}/{bucket}/k", OWNER, b"owner's")
                assert put.status == 200, put.body
            acl = {"x-amz-acl": "public-read"}
            made = await call_app(app, "PUT", f"{ENDPOINT}/public-mapped?acl", OWNER, b"", acl)
            assert made.status == 200, made.body
            assert (await call_anonymous(app, "GET", "/public-mapped/k")) == (200, b"owner's")
            private = await call_anonymous(app, "GET", "/private-mapped/k")
            assert (private[0], _code(private[1])) == (403, b"AccessDenied")

            held, _ = gates_for(TENANT, settings.server.limits)
            await held.enter(0)  # the owner's one anonymous slot: a reader holds it
            nobody = await call_anonymous(app, "GET", "/nobody-has-this/k")
            assert (nobody[0], _code(nobody[1])) == (403, b"AccessDenied")
            for path, query in (("/private-mapped/k", ""), ("/private-mapped", "list-type=2")):
                private = await call_anonymous(app, "GET", path, query)
                assert (private[0], _code(private[1])) == (403, b"AccessDenied"), path  # was 503
            # A public bucket's reader waits for the slot, as before.
            public = await call_anonymous(app, "GET", "/public-mapped/k")
            assert (public[0], _code(public[1])) == (503, b"SlowDown")
        finally:
            if held is not None:
                held.leave()
            await gateway.close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_public_mapped_buckets_readers_never_wait_for_the_shared_look_up_slots(
    tmp_path: Path,
) -> None:
    """The check above reads the bucket's settings under the few look-up slots every tenant's
    unsigned requests share (cors_requests.UNSIGNED_LOOKUPS); with the settings cached it takes
    none, so a flood of look-ups for names nobody has cannot make a public mapped bucket's
    readers wait and get 503 (review R3 of the check's first form)."""
    (tmp_path / "public-upstream").mkdir()
    settings = Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": str(tmp_path)}},
            "tenants": {
                TENANT + "-2": {
                    "keys": [{"access_key": OWNER[0], "secret_key": OWNER[1]}],
                    "home": {"upstream": "store", "bucket": "home-mapper"},
                    "buckets": {
                        "public-mapped": {"upstream": "store", "bucket": "public-upstream"}
                    },
                },
            },
        }
    )

    async def main() -> None:
        gateway = Gateway(settings)
        app = S3App(gateway)
        taken = 0
        try:
            put = await call_app(app, "PUT", f"{ENDPOINT}/public-mapped/k", OWNER, b"owner's")
            assert put.status == 200, put.body
            acl = {"x-amz-acl": "public-read"}
            made = await call_app(app, "PUT", f"{ENDPOINT}/public-mapped?acl", OWNER, b"", acl)
            assert made.status == 200, made.body
            assert (await call_anonymous(app, "GET", "/public-mapped/k")) == (200, b"owner's")
            for _ in range(UNSIGNED_LOOKUPS.limit):  # look-ups for names nobody has hold them
                await UNSIGNED_LOOKUPS.enter(0)
                taken += 1
            assert (await call_anonymous(app, "GET", "/public-mapped/k")) == (200, b"owner's")
        finally:
            for _ in range(taken):
                UNSIGNED_LOOKUPS.leave()
            await gateway.close()

    asyncio.run(asyncio.wait_for(main(), 60))
