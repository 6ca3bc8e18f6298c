"""Whose CORS rules answer a browser's request for a bucket name two tenants have (wave 18 K),
in process on the local store.

A preflight carries no key. For a header-signed request (``authorization`` among its
``Access-Control-Request-Headers``) the browser's request goes to its signer's own bucket, so
a public bucket's grant says nothing about it: before, a name two tenants had was answered by
the public one's rules (admitting origins the first bucket's owner never allowed, refusing
the ones it did) and, with both private, refused outright, so any tenant broke another's
header-signed browser clients by creating a bucket of its name. Now the bucket created first
answers; a preflight for an anonymous request still follows the public grant (wave 13)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.bucket_settings import with_acl, with_cors
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.records import read_record, write_record
from s3proxy.bucket_index import Found
from s3proxy.cors import CorsRule
from s3proxy.cors_requests import add_response_headers, preflight
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import parse_request
from s3proxy.responses import S3Response
from tests.support.asgi import call_app, http_scope, own_context
from tests.unit.test_bucket_settings import Counting
from tests.unit.test_cors_requests import KEYS, ORIGIN, run

EVIL = "https://evil.example"
SIGNED = "authorization,x-amz-date,x-amz-content-sha256"
ALICE_RULE = CorsRule(
    allowed_methods=("GET", "PUT"), allowed_origins=(ORIGIN,), allowed_headers=("*",)
)
BOB_RULE = CorsRule(allowed_methods=("GET", "PUT"), allowed_origins=(EVIL,), allowed_headers=("*",))
AUTH_ALICE = (
    "AWS4-HMAC-SHA256 Credential=AKALICE/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def options(origin: str, requested: str | None = SIGNED) -> Any:
    sent = {"origin": origin, "access-control-request-method": "PUT"}
    if requested is not None:
        sent["access-control-request-headers"] = requested
    return parse_request(http_scope("OPTIONS", "/site/k", "", sent))


async def allowed(storages: dict[str, MappedStorage], origin: str, **kw: Any) -> str | None:
    """The preflight's Access-Control-Allow-Origin; None: refused (403 AccessForbidden)."""
    try:
        answer = await preflight(options(origin, **kw), storages, KEYS)
    except S3Error as error:
        assert error.code is S3ErrorCode.AccessForbidden
        return None
    return dict(answer.headers)["Access-Control-Allow-Origin"]


async def created(storage: MappedStorage, when: str) -> None:
    """Give ``storage``'s bucket "site" the CreationDate ``when`` (its record's date)."""
    marker = f"{storage.tenant.name}/.buckets/site"
    backend = storage.buckets.backends["main"]
    found = await read_record(backend, "data", marker, 65536)
    assert found is not None and found[0]
    record = json.loads(found[0])
    record["created"] = when
    await write_record(backend, "data", marker, json.dumps(record).encode())
    storage.buckets.cache.generation.bump()


Body = Callable[[Counting, dict[str, MappedStorage]], Any]


def test_a_later_private_bucket_does_not_break_the_first_ones_signed_clients(
    tmp_path: Path,
) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice, bob = storages["alice"], storages["bob"]
        await alice.buckets.create("site")
        await alice.buckets.settings.update("site", with_cors((ALICE_RULE,)))
        await created(alice, "2020-01-01T00:00:00.000Z")
        assert await allowed(storages, ORIGIN) == ORIGIN
        await bob.buckets.create("site")  # private, no settings: its marker's own date
        assert await allowed(storages, ORIGIN) == ORIGIN  # was 403: alice's clients broken
        assert await allowed(storages, EVIL) is None
        # a preflight for an anonymous request: nothing of the name is public, so refused
        assert await allowed(storages, ORIGIN, requested="content-type") is None

    run(tmp_path, body)


def test_a_later_public_bucket_never_answers_for_the_first_ones_signed_clients(
    tmp_path: Path,
) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice, bob = storages["alice"], storages["bob"]
        await alice.buckets.create("site")
        await alice.buckets.settings.update("site", with_cors((ALICE_RULE,)))
        await created(alice, "2020-01-01T00:00:00.000Z")
        await bob.buckets.create("site")
        await bob.buckets.settings.update("site", with_cors((BOB_RULE,)))
        await bob.buckets.settings.update("site", with_acl("public-read"))
        await created(bob, "2021-01-01T00:00:00.000Z")
        # header-signed: alice's rules, never bob's (before: bob's public rules answered)
        assert await allowed(storages, EVIL) is None
        assert await allowed(storages, ORIGIN) == ORIGIN
        # anonymous: the public bucket's readers keep their rules (wave 13)
        assert await allowed(storages, EVIL, requested="content-type") == EVIL
        assert await allowed(storages, EVIL, requested=None) == EVIL
        # made first, bob's bucket would answer for both
        await created(bob, "2019-01-01T00:00:00.000Z")
        assert await allowed(storages, EVIL) == EVIL

    run(tmp_path, body)


def test_buckets_of_the_same_or_an_unknown_date_are_never_guessed_between(
    tmp_path: Path,
) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice, bob = storages["alice"], storages["bob"]
        for storage, rule in ((alice, ALICE_RULE), (bob, BOB_RULE)):
            await storage.buckets.create("site")
            await storage.buckets.settings.update("site", with_cors((rule,)))
            await created(storage, "2020-01-01T00:00:00.000Z")
        await bob.buckets.settings.update("site", with_acl("public-read"))  # decides nothing
        assert await allowed(storages, ORIGIN) is None
        assert await allowed(storages, EVIL) is None
        await created(bob, "not a date")  # a record whose date cannot be read
        assert await allowed(storages, ORIGIN) is None
        assert await allowed(storages, EVIL) is None

    run(tmp_path, body)


def test_a_refused_signed_request_gets_its_signers_rules(tmp_path: Path) -> None:
    """An actual request refused before its signature was accepted (no tenant yet) is read by
    the page under the rules of the key's tenant, not of the name's public bucket."""

    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice, bob = storages["alice"], storages["bob"]
        await alice.buckets.create("site")
        await alice.buckets.settings.update("site", with_cors((ALICE_RULE,)))
        await bob.buckets.create("site")
        await bob.buckets.settings.update("site", with_cors((BOB_RULE,)))
        await bob.buckets.settings.update("site", with_acl("public-read"))

        async def exposed(origin: str, authorization: str) -> str | None:
            headers = {"origin": origin, "authorization": authorization}
            request = parse_request(http_scope("PUT", "/site/k", "", headers))
            response = S3Response(status=403)
            await add_response_headers(response, request, storages, KEYS, None)
            return dict(response.headers).get("Access-Control-Allow-Origin")

        assert await exposed(ORIGIN, AUTH_ALICE) == ORIGIN
        assert await exposed(EVIL, AUTH_ALICE) is None  # bob's public rule: not alice's
        assert await exposed(EVIL, "AWS AKALICE:c2lnbmF0dXJl") is None
        assert await exposed(EVIL, "AWS4-HMAC-SHA256 garbled") is None
        assert await exposed(EVIL, "AWS AKBOB:c2lnbmF0dXJl") == EVIL

    run(tmp_path, body)


def test_a_home_left_out_may_hold_an_earlier_bucket(tmp_path: Path) -> None:
    """With a home left out by the names it held at its last listing, the first bucket found
    answers only if it is older than that listing (the left-out home can only have created one
    since): else 503 SlowDown, as the public claim answers then."""
    from s3proxy.name_claims import first_created

    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice = storages["alice"]
        await alice.buckets.create("site")
        await alice.buckets.settings.update("site", with_cors((ALICE_RULE,)))
        await created(alice, "2020-01-01T00:00:00.000Z")
        found = Found([alice])
        found.listed_before = 1577836800.0 + 3600  # 2020-01-01 01:00 UTC
        assert await first_created("site", found) is alice
        found.listed_before = 1577836800.0 + 1  # listed a second after alice's bucket was made
        with pytest.raises(S3Error) as slow:
            await first_created("site", found)
        assert slow.value.code is S3ErrorCode.SlowDown

    run(tmp_path, body)


def test_a_granted_read_carries_the_owners_rules(tmp_path: Path) -> None:
    """A read signed by another tenant is served from the owner's bucket, so the owner's rules
    decide whether the page may read it (before: the signer's, who has no such bucket: none)."""
    import base64
    import hashlib

    from tests.unit.test_w13c_name_claims import ENDPOINT, NAME, Calls, _bucket, _keys, _run

    rules = (
        b"<CORSConfiguration><CORSRule><AllowedOrigin>https://site.test</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
    )
    md5 = base64.b64encode(hashlib.md5(rules).digest()).decode()

    async def scenario(gateway: Any, calls: Calls) -> None:
        await _bucket(calls, "ann", {"x-amz-acl": "authenticated-read"})
        url = f"{ENDPOINT}/{NAME}?cors"
        cors = await own_context(
            call_app(calls.app, "PUT", url, _keys("ann"), rules, {"content-md5": md5})
        )
        assert cors.status == 200
        for origin, expected in (("https://site.test", "https://site.test"), (EVIL, None)):
            read = await calls.signed("cat", "GET", "k", origin=origin)
            assert (read.status, read.body) == (200, b"ann's")
            assert read.headers.get("access-control-allow-origin") == expected

    _run(tmp_path, scenario)


def test_a_left_out_home_that_had_the_name_is_not_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow home is left out of a look-up when its last names rule the bucket out, and an
    empty marker in them does (it granted nothing then: wave 18 C). For the first-created rule
    it still had the bucket then, so it may be the first: the preflight is refused, never
    answered by the later bucket found without it."""
    from s3proxy.backends.buckets import BucketRegistry
    from s3proxy.bucket_index import INDEX

    monkeypatch.setattr("s3proxy.name_claims.CLOCK_MARGIN", timedelta(0))
    listed = BucketRegistry.names
    released = asyncio.Event()
    slow: list[str] = []

    async def names(self: BucketRegistry, limit: int) -> Any:
        if self.tenant.name in slow:
            await released.wait()
        return await listed(self, limit)

    monkeypatch.setattr(BucketRegistry, "names", names)

    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice, bob = storages["alice"], storages["bob"]
        await alice.buckets.create("site")  # first, no settings: an empty marker
        await bob.buckets.create("site")
        await bob.buckets.settings.update("site", with_cors((BOB_RULE,)))
        monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 3600.0)
        # Both homes listed (after both buckets were made): their names are known.
        assert await INDEX.candidates("site", [alice, bob]) == [alice, bob]
        assert await allowed(storages, EVIL) is None  # alice's was made first (or the same ms)
        slow.append("alice")
        monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.0)  # never waited for
        alice.buckets.cache.generation.bump()  # listed again: it hangs
        try:
            found = await INDEX.candidates("site", [alice, bob])
            assert found == [bob] and found.listed_before is not None  # alice's left out
            assert await allowed(storages, EVIL) is None  # was bob's rules: 200
        finally:
            released.set()

    run(tmp_path, body)
