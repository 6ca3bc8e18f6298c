"""Copies out of another tenant's bucket that grants READ (s3proxy.granted_reads._copy, wave 12
M), in process on the local store: the write is the caller's (its quota, its scoped key's
grants), the owner's usage does not move, and a source granted by nothing stays NoSuchBucket
(the lanes: tests/integration/test_w12m_granted_copies.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import Answer, call_app

ENDPOINT = "http://127.0.0.1:9000"
ALICE = ("AKALICE0000000000001", "alice-secret-aaaaaaaaaaaaaaaaaa")
BOB = ("AKBOB00000000000002", "bob-secret-bbbbbbbbbbbbbbbbbbbbb")
BOB_SCOPED = ("AKBOBSCOPED000000003", "bob-scoped-secret-cccccccccccc")
CAROL = ("AKCAROL000000000004", "carol-secret-dddddddddddddddddd")
SOURCE = {"x-amz-copy-source": "/alices/src"}
BODY = b"thirteen byte"


def settings(store: Path) -> Settings:
    def key(pair: tuple[str, str], **extra: Any) -> dict[str, Any]:
        return {"access_key": pair[0], "secret_key": pair[1], **extra}

    home = {"upstream": "u", "bucket": "home"}
    scoped = [{"actions": ["read", "write", "list"], "buckets": ["bobs"]}]
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"u": {"type": "local", "path": str(store)}},
            "tenants": {
                "alice": {"keys": [key(ALICE)], "home": home, "quota": {"max_bytes": 20}},
                "bob": {
                    "keys": [key(BOB), key(BOB_SCOPED, allow=scoped)],
                    "home": home,
                    "quota": {"max_bytes": 10},
                },
                "carol": {"keys": [key(CAROL)], "home": home},
            },
        }
    )


def test_a_granted_copy_writes_in_the_callers_quota_and_grants(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        async def call(
            keys: tuple[str, str], method: str, path: str, body: bytes = b"", **headers: str
        ) -> Answer:
            return await call_app(app, method, f"{ENDPOINT}/{path}", keys, body, headers)

        for keys, bucket in ((ALICE, "alices"), (BOB, "bobs"), (CAROL, "carols")):
            assert (await call(keys, "PUT", bucket)).status == 200
        assert (await call(ALICE, "PUT", "alices/src", BODY)).status == 200
        copy = await call(CAROL, "PUT", "carols/c", **SOURCE)
        assert (copy.status, copy.code) == (404, "NoSuchBucket")  # alice's bucket is private
        acl = {"x-amz-acl": "public-read"}
        assert (await call(ALICE, "PUT", "alices?acl", **acl)).status == 200
        copy = await call(CAROL, "PUT", "carols/c", **SOURCE)
        assert copy.status == 200, copy.body
        assert (await call(CAROL, "GET", "carols/c")).body == BODY
        # bob's quota (10 bytes) refuses the 13-byte copy; alice's own (20) would have taken it.
        over = await call(BOB, "PUT", "bobs/c", **SOURCE)
        assert (over.status, over.code) == (403, "QuotaExceeded")
        # alice's quota holds her 13 bytes only: carol's copy counted nothing there.
        assert (await call(ALICE, "PUT", "alices/more", b"1234567")).status == 200
        full = await call(ALICE, "PUT", "alices/full", b"x")
        assert (full.status, full.code) == (403, "QuotaExceeded")
        # A scoped key reads only the buckets its grants name, copy sources included.
        scoped = await call(BOB_SCOPED, "PUT", "bobs/s", **SOURCE)
        assert (scoped.status, scoped.code) == (403, "AccessDenied")

    async def main() -> None:
        gateway = Gateway(settings(tmp_path))
        try:
            await scenario(S3App(gateway))
        finally:
            await gateway.close()

    asyncio.run(main())
