"""Reads signed by another tenant's key (s3proxy.granted_reads), in process on the local store:
served exactly where the owner's ACL grants them, and otherwise the very answer the caller got
before the path existed (the lanes: tests/integration/test_authenticated_read.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from s3proxy import granted_reads
from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import Answer, call_app

ENDPOINT = "http://127.0.0.1:9000"
ALICE = ("AKALICE0000000000001", "alice-secret-aaaaaaaaaaaaaaaaaa")
BOB = ("AKBOB00000000000002", "bob-secret-bbbbbbbbbbbbbbbbbbbbb")
BOB_SCOPED = ("AKBOBSCOPED000000003", "bob-scoped-secret-cccccccccccc")
CAROL = ("AKCAROL000000000004", "carol-secret-dddddddddddddddddd")
DAVE = ("AKDAVE0000000000005", "dave-secret-eeeeeeeeeeeeeeeeeee")
BUCKET = "granted-reads"


def settings(store: Path, **server: Any) -> Settings:
    def tenant(*keys: dict[str, Any]) -> dict[str, Any]:
        return {"keys": list(keys), "home": {"upstream": "u", "bucket": "home"}}

    def key(pair: tuple[str, str], **extra: Any) -> dict[str, Any]:
        return {"access_key": pair[0], "secret_key": pair[1], **extra}

    scoped = [{"actions": ["read", "list"], "buckets": ["bob-*"]}]
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, **server},
            "upstreams": {"u": {"type": "local", "path": str(store)}},
            "tenants": {
                "alice": tenant(key(ALICE)),
                "bob": tenant(key(BOB), key(BOB_SCOPED, allow=scoped)),
                "carol": tenant(key(CAROL)),
                "dave": {  # no home: only a bucket mapped in the configuration
                    "keys": [key(DAVE)],
                    "buckets": {"dave-mapped": {"upstream": "u", "bucket": "dave-upstream"}},
                },
            },
        }
    )


class Client:
    def __init__(self, gateway: Gateway) -> None:
        self.app = S3App(gateway)

    async def __call__(
        self,
        keys: tuple[str, str],
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        return await call_app(self.app, method, f"{ENDPOINT}/{path}", keys, body, headers)


def run(store: Path, scenario: Any, **server: Any) -> None:
    async def main() -> None:
        gateway = Gateway(settings(store, **server))
        try:
            await scenario(Client(gateway))
        finally:
            await gateway.close()

    asyncio.run(main())


def outcome(answer: Answer) -> tuple[int, str | None]:
    return answer.status, answer.code


NO_BUCKET = (404, "NoSuchBucket")


async def alices_bucket(call: Client) -> None:
    assert (await call(ALICE, "PUT", BUCKET)).status == 200
    assert (await call(ALICE, "PUT", f"{BUCKET}/private.txt", b"alice only")).status == 200
    signed = {"x-amz-acl": "authenticated-read"}
    assert (await call(ALICE, "PUT", f"{BUCKET}/signed.txt", b"tenants", signed)).status == 200


def test_an_authenticated_read_object_is_served_to_other_tenants(tmp_path: Path) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        got = await call(BOB, "GET", f"{BUCKET}/signed.txt")
        assert (got.status, got.body) == (200, b"tenants")
        assert (await call(BOB, "HEAD", f"{BUCKET}/signed.txt")).status == 200
        # Everything else on that key is S3's 403 (an ACL's READ is s3:GetObject alone; bob
        # reads the object, so its key is no news to him: NoSuchBucket before wave 16) ...
        for method, path in [
            ("GET", f"{BUCKET}/signed.txt?acl"),
            ("GET", f"{BUCKET}/signed.txt?tagging"),
            ("PUT", f"{BUCKET}/signed.txt"),
            ("DELETE", f"{BUCKET}/signed.txt"),
        ]:
            answer = await call(BOB, method, path, b"x" if method == "PUT" else b"")
            assert outcome(answer) == (403, "AccessDenied"), (method, path)
        # ... and everywhere else is what bob got before: the bucket does not exist for him.
        for method, path in [
            ("GET", f"{BUCKET}/private.txt"),
            ("GET", f"{BUCKET}/missing.txt"),
            ("GET", f"{BUCKET}/private.txt?acl"),
            ("PUT", f"{BUCKET}/missing.txt"),
            ("GET", f"{BUCKET}?list-type=2"),
            ("GET", f"{BUCKET}?acl"),
        ]:
            answer = await call(BOB, method, path, b"x" if method == "PUT" else b"")
            assert outcome(answer) == NO_BUCKET, (method, path)
        # A scoped key of bob's whose grants do not name the bucket: refused by them, as before.
        scoped = await call(BOB_SCOPED, "GET", f"{BUCKET}/signed.txt")
        assert outcome(scoped) == (403, "AccessDenied")
        # An overwrite without the ACL makes it private again, for everyone but alice.
        assert (await call(ALICE, "PUT", f"{BUCKET}/signed.txt", b"now private")).status == 200
        assert outcome(await call(BOB, "GET", f"{BUCKET}/signed.txt")) == NO_BUCKET
        mine = await call(ALICE, "GET", f"{BUCKET}/signed.txt")
        assert mine.body == b"now private"

    run(tmp_path, scenario)


def test_an_authenticated_read_bucket(tmp_path: Path) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        acl = {"x-amz-acl": "authenticated-read"}
        assert (await call(ALICE, "PUT", f"{BUCKET}?acl", headers=acl)).status == 200
        got = await call(CAROL, "GET", f"{BUCKET}/private.txt")
        assert (got.status, got.body) == (200, b"alice only")
        listing = await call(CAROL, "GET", f"{BUCKET}?list-type=2")
        assert listing.status == 200 and b"<Key>private.txt</Key>" in listing.body
        assert (await call(CAROL, "GET", BUCKET)).status == 200  # ListObjects V1
        uploads = await call(CAROL, "GET", f"{BUCKET}?uploads")  # READ: ListBucketMultipartUploads
        assert uploads.status == 200 and b"<ListMultipartUploadsResult" in uploads.body
        missing = await call(CAROL, "GET", f"{BUCKET}/missing.txt")
        assert outcome(missing) == (404, "NoSuchKey")
        for method, path in [
            ("PUT", f"{BUCKET}/new.txt"),
            ("DELETE", f"{BUCKET}/private.txt"),
            ("GET", f"{BUCKET}?acl"),
            ("GET", f"{BUCKET}/private.txt?tagging"),
            ("DELETE", BUCKET),
        ]:
            answer = await call(CAROL, method, path, b"x" if method == "PUT" else b"")
            # S3's answer where the bucket's ACL lets carol list it (NoSuchBucket before w13c)
            assert outcome(answer) == (403, "AccessDenied"), (method, path)
        # bob makes a bucket of the same name: his own wins for him, and for carol the name
        # stays alice's, the one bucket that grants her (a private one never hides it, w13c).
        assert (await call(BOB, "PUT", BUCKET)).status == 200
        own = await call(BOB, "GET", f"{BUCKET}/private.txt")
        assert outcome(own) == (404, "NoSuchKey")
        assert (await call(CAROL, "GET", f"{BUCKET}/private.txt")).body == b"alice only"
        assert (await call(BOB, "DELETE", BUCKET)).status == 204
        assert (await call(CAROL, "GET", f"{BUCKET}/private.txt")).status == 200

    run(tmp_path, scenario)


def test_public_read_write_takes_no_signed_foreign_write(tmp_path: Path) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        acl = {"x-amz-acl": "public-read-write"}
        assert (await call(ALICE, "PUT", f"{BUCKET}?acl", headers=acl)).status == 200
        assert (await call(BOB, "GET", f"{BUCKET}/private.txt")).body == b"alice only"
        put = await call(BOB, "PUT", f"{BUCKET}/drop.txt", b"bob's")
        assert outcome(put) == (403, "AccessDenied") and b"unsigned" in put.body
        assert outcome(await call(ALICE, "GET", f"{BUCKET}/drop.txt")) == (404, "NoSuchKey")

    run(tmp_path, scenario)


def test_the_kill_switch_turns_the_path_off(tmp_path: Path) -> None:
    async def grant(call: Client) -> None:
        await alices_bucket(call)
        acl = {"x-amz-acl": "authenticated-read"}
        assert (await call(ALICE, "PUT", f"{BUCKET}?acl", headers=acl)).status == 200

    async def switched(call: Client) -> None:
        assert outcome(await call(BOB, "GET", f"{BUCKET}/signed.txt")) == NO_BUCKET
        acl = await call(ALICE, "GET", f"{BUCKET}?acl")
        assert b"AuthenticatedUsers" not in acl.body
        refused = await call(ALICE, "PUT", f"{BUCKET}/x", b"x", {"x-amz-acl": "authenticated-read"})
        assert outcome(refused) == (403, "AccessDenied")

    run(tmp_path, grant)
    run(tmp_path, switched, allow_public_acls=False)


@pytest.mark.parametrize("target", ["bucket", "object"])
def test_acl_documents_name_authenticated_users(tmp_path: Path, target: str) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        path = BUCKET if target == "bucket" else f"{BUCKET}/private.txt"
        acl = {"x-amz-acl": "authenticated-read"}
        assert (await call(ALICE, "PUT", f"{path}?acl", headers=acl)).status == 200
        body = (await call(ALICE, "GET", f"{path}?acl")).body
        assert (
            b'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            b'xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers'
            b"</URI></Grantee><Permission>READ</Permission></Grant>"
        ) in body
        assert b"AllUsers" not in body

    run(tmp_path, scenario)


def test_an_expected_bucket_owner_is_never_served_another_tenants_bucket(tmp_path: Path) -> None:
    owners = settings(tmp_path).owner_ids()

    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        path = f"{BUCKET}/signed.txt"
        for expected in (owners["bob"], owners["alice"]):
            answer = await call(BOB, "GET", path, headers={"x-amz-expected-bucket-owner": expected})
            assert outcome(answer) == (403, "AccessDenied"), expected
        assert (await call(BOB, "GET", path)).body == b"tenants"

    run(tmp_path, scenario)


def test_a_tenant_without_a_home_reads_too(tmp_path: Path) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        got = await call(DAVE, "GET", f"{BUCKET}/signed.txt")
        assert (got.status, got.body) == (200, b"tenants")
        assert outcome(await call(DAVE, "GET", f"{BUCKET}/private.txt")) == NO_BUCKET

    run(tmp_path, scenario)


def test_requests_in_the_callers_own_buckets_never_look_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path costs nothing where it does not apply: answers of the caller's own buckets,
    errors included (NoSuchKey, a refused write), never look for another owner."""

    async def never(*args: object) -> None:
        raise AssertionError("looked for another tenant's bucket")

    monkeypatch.setattr(granted_reads, "holders_of", never)

    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        assert (await call(ALICE, "GET", f"{BUCKET}/signed.txt")).body == b"tenants"
        missing = await call(ALICE, "GET", f"{BUCKET}/missing.txt")
        assert outcome(missing) == (404, "NoSuchKey")
        assert (await call(ALICE, "HEAD", f"{BUCKET}/missing.txt")).status == 404
        listing = await call(ALICE, "GET", f"{BUCKET}?list-type=2")
        assert b"<Key>private.txt</Key>" in listing.body

    run(tmp_path, scenario)
