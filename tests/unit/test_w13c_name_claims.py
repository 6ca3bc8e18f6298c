"""Whose bucket a name several tenants have is, for anonymous readers and other tenants
(s3proxy.name_claims, wave 13 C), in process on the local store.

Before, a name two tenants had was served to nobody: any tenant could make another's public
bucket unreachable to every anonymous reader by creating a bucket of that name. Now a private
bucket claims nothing, and of several granting ones the one granting longest keeps the name."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.records import read_record, write_record
from s3proxy.config import Settings
from tests.support.asgi import (
    Answer,
    call_anonymous,
    call_app,
    http_scope,
    local_tenants_settings,
    own_context,
    tenant_keys,
)
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
TENANTS = ("ann", "bob", "cat")
NAME = "shared-name"
PUBLIC = {"x-amz-acl": "public-read"}


def _keys(name: str) -> tuple[str, str]:
    return tenant_keys(name, "CLAIMS0000")


def _settings(root: Path) -> Settings:
    return local_tenants_settings(str(root), TENANTS, "CLAIMS0000")


_own = own_context


class Calls:
    def __init__(self, app: S3App) -> None:
        self.app = app

    async def signed(
        self, who: str, method: str, key: str | None = None, body: bytes = b"", **headers: str
    ) -> Answer:
        url = object_url(ENDPOINT, NAME, key) if key else f"{ENDPOINT}/{NAME}"
        return await _own(call_app(self.app, method, url, _keys(who), body, headers))

    async def acl(self, who: str, acl: str) -> None:
        url = f"{ENDPOINT}/{NAME}?acl"
        headers = {"x-amz-acl": acl}
        answer = await _own(call_app(self.app, "PUT", url, _keys(who), headers=headers))
        assert answer.status == 200

    async def anonymous(
        self, key: str | None = None, query: str = "", method: str = "GET", **headers: str
    ) -> tuple[int, bytes]:
        path = f"/{NAME}/{key}" if key else f"/{NAME}"
        return await call_anonymous(self.app, method, path, query, headers)


def _run(root: Path, scenario: Callable[[Gateway, Calls], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(root))
        try:
            await scenario(gateway, Calls(S3App(gateway)))
        finally:
            await gateway.close()

    asyncio.run(main())


async def _bucket(calls: Calls, who: str, acl: dict[str, str] | None = None) -> None:
    assert (await calls.signed(who, "PUT", **(acl or {}))).status == 200
    assert (await calls.signed(who, "PUT", "k", f"{who}'s".encode())).status == 200


def test_a_private_bucket_of_the_same_name_never_hides_a_public_one(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", PUBLIC)
        assert await calls.anonymous("k") == (200, b"ann's")
        await _bucket(calls, "bob")  # bob squats the name, privately
        assert await calls.anonymous("k") == (200, b"ann's")
        status, listing = await calls.anonymous(None, "list-type=2")
        assert status == 200 and b"<Key>k</Key>" in listing
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"  # another tenant
        assert (await calls.signed("bob", "GET", "k")).body == b"bob's"  # his own wins for him
        # bob's private bucket is never served: once ann's is private too, nobody's is.
        await calls.acl("ann", "private")
        assert (await calls.anonymous("k"))[0] == 403
        assert (await calls.signed("cat", "GET", "k")).status == 404

    _run(tmp_path, scenario)


def test_the_bucket_public_longest_keeps_the_name(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", PUBLIC)
        await _bucket(calls, "bob", PUBLIC)  # later: takes nothing over
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        # ann stops granting: bob's is the one public now.
        await calls.acl("ann", "private")
        assert await calls.anonymous("k") == (200, b"bob's")
        # public again, ann is the later one: bob keeps the name.
        await calls.acl("ann", "public-read")
        assert await calls.anonymous("k") == (200, b"bob's")
        # public-read-write still grants reads: bob's time goes on.
        await calls.acl("bob", "public-read-write")
        assert await calls.anonymous("k") == (200, b"bob's")
        # authenticated-read: for anonymous readers bob's stopped, for tenants it goes on.
        await calls.acl("bob", "authenticated-read")
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"bob's"
        await calls.acl("bob", "public-read")
        # bob deletes his bucket: the name is ann's again.
        assert (await calls.signed("bob", "DELETE", "k")).status == 204
        assert (await calls.signed("bob", "DELETE")).status == 204
        assert await calls.anonymous("k") == (200, b"ann's")

    _run(tmp_path, scenario)


def test_a_public_object_in_a_private_bucket_is_not_hidden(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT")).status == 200
        assert (await calls.signed("ann", "PUT", "k", b"ann's", **PUBLIC)).status == 200
        assert (await calls.signed("ann", "PUT", "private", b"no")).status == 200
        await _bucket(calls, "bob")
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        assert (await calls.anonymous("private"))[0] == 403
        assert (await calls.anonymous(None, "list-type=2"))[0] == 403
        # bob makes his bucket public later: ann's object is the older grant and keeps its
        # key; the rest of the name (listings, other keys) is bob's.
        await calls.acl("bob", "public-read")
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("bob", "PUT", "mine", b"bob's")).status == 200
        assert await calls.anonymous("mine") == (200, b"bob's")
        status, listing = await calls.anonymous(None, "list-type=2")
        assert status == 200 and b"<Key>mine</Key>" in listing

    _run(tmp_path, scenario)


def test_claims_of_the_same_time_serve_nobody(tmp_path: Path) -> None:
    """Never guessed: two buckets public since the same instant (a race to the microsecond),
    or both of unknown time, leave the name to nobody, as every name two tenants had before."""

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", PUBLIC)
        await _bucket(calls, "bob", PUBLIC)
        backend = gateway.backends["store"]
        for who in ("ann", "bob"):
            marker = f"{who}/.buckets/{NAME}"
            found = await read_record(backend, "home", marker, 4096)
            assert found is not None
            record = json.loads(found[0])
            assert record["acl"] == "public-read" and "public_since" in record
            record["public_since"] = record["granted_since"] = "2026-01-01T00:00:00.000000Z"
            await write_record(backend, "home", marker, json.dumps(record).encode())
        for storage in gateway.runtime.storages.values():  # as if another replica wrote them
            storage.buckets.cache.generation.bump()
        assert (await calls.anonymous("k"))[0] == 403
        assert (await calls.signed("cat", "GET", "k")).status == 404

    _run(tmp_path, scenario)


def test_what_a_readable_bucket_does_not_grant_is_access_denied(tmp_path: Path) -> None:
    """S3's answer to another account's write, delete or ACL read in a bucket whose ACL lets it
    list the bucket is 403 AccessDenied (the bucket's existence is no secret to it); it was
    NoSuchBucket. A bucket that grants nothing (its objects' ACLs aside) still answers
    NoSuchBucket: nothing is learnt about it."""

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", {"x-amz-acl": "authenticated-read"})
        bucket_url = f"{ENDPOINT}/{NAME}"
        cat = _keys("cat")
        copy = {"x-amz-copy-source": f"/{NAME}/k"}
        refused = [
            ("PUT", object_url(ENDPOINT, NAME, "new"), b"cat's", {}),
            ("DELETE", object_url(ENDPOINT, NAME, "k"), b"", {}),
            ("GET", f"{bucket_url}?acl", b"", {}),
            ("POST", object_url(ENDPOINT, NAME, "up") + "?uploads", b"", {}),
            ("PUT", object_url(ENDPOINT, NAME, "copied"), b"", copy),  # a copy into it
            ("DELETE", bucket_url, b"", {}),
        ]
        for method, url, body, headers in refused:
            answer = await _own(call_app(calls.app, method, url, cat, body, headers))
            assert (answer.status, answer.code) == (403, "AccessDenied"), (method, url)
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"  # reads still served
        listing = await _own(call_app(calls.app, "GET", f"{bucket_url}?list-type=2", _keys("ann")))
        assert listing.body.count(b"<Key>") == 1  # nothing written, nothing deleted
        # Private again, with one object public by its own ACL: as before, nothing learnt,
        # but for that very key, which cat may GET: S3's 403 there (wave 16; 404 before).
        await calls.acl("ann", "private")
        assert (await calls.signed("ann", "PUT", "k", b"ann's", **PUBLIC)).status == 200
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        for method, url, body, headers in refused:
            answer = await _own(call_app(calls.app, method, url, cat, body, headers))
            wanted = (403, "AccessDenied") if url.endswith(f"/{NAME}/k") else (404, "NoSuchBucket")
            assert (answer.status, answer.code) == wanted, (method, url)

    _run(tmp_path, scenario)


def test_anonymous_copies_and_uploads_into_a_public_read_write_bucket_are_not_implemented(
    tmp_path: Path,
) -> None:
    """S3's WRITE grant lets everyone copy and upload in parts into a public-read-write
    bucket; the gateway carries out only the plain PUT, so the rest is 501 there (it was 403,
    as if S3 forbade them), and still 403 in a bucket that grants no writes."""

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", {"x-amz-acl": "public-read"})
        copy = {"x-amz-copy-source": f"/{NAME}/k"}
        attempts = [("new", "", copy), ("new", "uploads", {})]
        for key, query, headers in attempts:
            method = "POST" if query else "PUT"
            status, body = await calls.anonymous(key, query, method, **headers)
            assert status == 403 and b"AccessDenied" in body, (query, headers)
        await calls.acl("ann", "public-read-write")
        for key, query, headers in attempts:
            method = "POST" if query else "PUT"
            status, body = await calls.anonymous(key, query, method, **headers)
            assert status == 501 and b"NotImplemented" in body, (query, headers)
        private = {"x-amz-copy-source": "/not-public/k"}  # a source S3 would not read: 403
        assert (await calls.anonymous("new", "", "PUT", **private))[0] == 403
        # An encoded / is part of the bucket name (grants.copy_source_name), never a path into
        # the public bucket: no source S3 would read (wave 18: it was read as /NAME/k, 501).
        slashed = {"x-amz-copy-source": f"{NAME}%2Fk"}
        assert (await calls.anonymous("new", "", "PUT", **slashed))[0] == 403
        acl = {"x-amz-acl": "public-read", **copy}  # needs s3:PutObjectAcl: S3's 403
        status, _ = await calls.anonymous("new", "", "PUT", **acl)
        assert status == 403
        listing = await _own(
            call_app(calls.app, "GET", f"{ENDPOINT}/{NAME}?list-type=2", _keys("ann"))
        )
        assert listing.body.count(b"<Key>") == 1  # nothing written

    _run(tmp_path, scenario)


def test_a_squatted_public_bucket_keeps_its_cors(tmp_path: Path) -> None:
    """Browsers are anonymous readers too: the preflight and the CORS headers of a public
    bucket's answers follow the name's claim, so bob's private bucket of the same name takes
    neither away (before, a name two tenants had was refused to every preflight)."""
    rules = (
        b"<CORSConfiguration><CORSRule><AllowedOrigin>https://site.test</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
    )
    md5 = base64.b64encode(hashlib.md5(rules).digest()).decode()

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", PUBLIC)
        cors = await _own(
            call_app(
                calls.app, "PUT", f"{ENDPOINT}/{NAME}?cors", _keys("ann"), rules,
                {"content-md5": md5},
            )
        )  # fmt: skip
        assert cors.status == 200
        await _bucket(calls, "bob")
        origin = {"origin": "https://site.test", "access-control-request-method": "GET"}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await _own(calls.app(http_scope("OPTIONS", f"/{NAME}/k", "", origin), receive, send))
        assert sent[0]["status"] == 200
        sent.clear()
        get = {"origin": "https://site.test"}
        await _own(calls.app(http_scope("GET", f"/{NAME}/k", "", get), receive, send))
        assert sent[0]["status"] == 200
        headers = {name.decode().lower(): value.decode() for name, value in sent[0]["headers"]}
        assert headers.get("access-control-allow-origin") == "https://site.test"

    _run(tmp_path, scenario)


def test_a_later_bucket_costs_a_public_ones_readers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bob's bucket, created after ann's was public, cannot hold an older public object: its
    object ACL records are never read for ann's readers, however many bob makes public (else a
    squatter could make each read of ann's bucket cost upstream requests)."""
    from s3proxy import name_claims  # new in wave 13: the other tests run on the baseline too

    read: list[str] = []
    real = name_claims.object_acl.granting

    async def granting(storage: Any, *args: Any) -> Any:
        read.append(storage.tenant.name)
        return await real(storage, *args)

    monkeypatch.setattr(name_claims.object_acl, "granting", granting)

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        await _bucket(calls, "ann", PUBLIC)
        # public for an hour already (a Last-Modified has whole seconds: within the second
        # ann's grant began, an object's time cannot tell which came first)
        backend, marker = gateway.backends["store"], f"ann/.buckets/{NAME}"
        found = await read_record(backend, "home", marker, 4096)
        assert found is not None
        record = json.loads(found[0])
        record["public_since"] = record["granted_since"] = "2000-01-01T00:00:00.000000Z"
        await write_record(backend, "home", marker, json.dumps(record).encode())
        gateway.runtime.storages["ann"].buckets.cache.generation.bump()
        assert (await calls.signed("bob", "PUT")).status == 200
        assert (await calls.signed("bob", "PUT", "k", b"bob's", **PUBLIC)).status == 200
        read.clear()
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        assert read == []

    _run(tmp_path, scenario)
