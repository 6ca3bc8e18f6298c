"""Deletes across tenants (wave 13 C2), in process on the local store.

DeleteObjects signed by another tenant in a bucket whose ACL grants it READ was a whole-request
403; S3 judges a DeleteObjects key by key (s3:DeleteObject on each) and answers 200 naming
AccessDenied for every key, deleting nothing. An anonymous DeleteObject in a
``public-read-write`` bucket was 403, where S3's WRITE grant (s3:DeleteObject) carries it out:
now it is the owner's own delete, its quota freed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import (
    Answer,
    call_anonymous,
    call_app,
    local_tenants_settings,
    own_context,
    tenant_keys,
)

ENDPOINT = "http://127.0.0.1:9000"
NAME = "open-bucket"


def _keys(name: str) -> tuple[str, str]:
    return tenant_keys(name, "DELETES000")


def _settings(root: Path) -> Settings:
    quota = {"ann": {"quota": {"max_objects": 1}}}
    return local_tenants_settings(str(root), ("ann", "bob"), "DELETES000", quota)


class Calls:
    def __init__(self, app: S3App) -> None:
        self.app = app

    async def signed(
        self, who: str, method: str, path: str = "", body: bytes = b"", **headers: str
    ) -> Answer:
        url = f"{ENDPOINT}/{NAME}{path}"
        return await own_context(call_app(self.app, method, url, _keys(who), body, headers))

    async def anonymous(
        self, method: str, key: str, query: str = "", **headers: str
    ) -> tuple[int, bytes]:
        return await call_anonymous(self.app, method, f"/{NAME}/{key}", query, headers)

    async def delete_objects(self, who: str, *keys: str, md5: str | None = None) -> Answer:
        objects = "".join(f"<Object><Key>{key}</Key></Object>" for key in keys)
        body = f"<Delete>{objects}</Delete>".encode()
        digest = md5 or base64.b64encode(hashlib.md5(body).digest()).decode()
        return await self.signed(who, "POST", "?delete", body, **{"content-md5": digest})


def _run(root: Path, scenario: Callable[[Calls], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(root))
        try:
            await scenario(Calls(S3App(gateway)))
        finally:
            await gateway.close()

    asyncio.run(main())


def test_another_tenants_delete_objects_is_refused_key_by_key(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT")).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        # A bucket granting bob nothing: NoSuchBucket, as before (nothing learnt about it).
        assert (await calls.delete_objects("bob", "k")).status == 404
        for acl in ("public-read", "authenticated-read"):
            answer = await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": acl})
            assert answer.status == 200
            answer = await calls.delete_objects("bob", "k", "missing")
            assert answer.status == 200, answer.body
            assert answer.body.count(b"<Code>AccessDenied</Code>") == 2
            assert b"<Deleted>" not in answer.body
            assert (await calls.signed("bob", "GET", "/k")).body == b"ann's"  # still there
            # The body is checked as for any DeleteObjects.
            bad = await calls.delete_objects("bob", "k", md5="1B2M2Y8AsgTpgAmY7PhCfg==")
            assert bad.status == 400 and b"BadDigest" in bad.body
        # public-read-write: S3 would delete; a signed foreign write stays 403 (send it unsigned).
        assert (
            await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": "public-read-write"})
        ).status == 200
        assert (await calls.delete_objects("bob", "k")).status == 403
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"

    _run(tmp_path, scenario)


def test_anonymous_delete_in_a_public_read_write_bucket_is_the_owners(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT", "", **{"x-amz-acl": "public-read"})).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        assert (await calls.anonymous("DELETE", "k"))[0] == 403  # READ grants no delete
        assert (
            await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": "public-read-write"})
        ).status == 200
        # What WRITE does not grant everyone: a version's delete, bypassing retention.
        assert (await calls.anonymous("DELETE", "k", "versionId=null"))[0] == 403
        bypass = {"x-amz-bypass-governance-retention": "true"}
        assert (await calls.anonymous("DELETE", "k", **bypass))[0] == 403
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"
        assert (await calls.anonymous("DELETE", "k"))[0] == 204
        assert (await calls.signed("ann", "GET", "/k")).status == 404
        assert (await calls.anonymous("DELETE", "k"))[0] == 204  # gone already: S3's 204 too
        # ann's quota (one object) was freed: her next object fits.
        assert (await calls.signed("ann", "PUT", "/k2", b"again")).status == 200
        assert (await calls.signed("ann", "PUT", "/k3", b"over")).status == 403

    _run(tmp_path, scenario)
