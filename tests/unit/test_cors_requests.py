"""The unsigned preflight finds its tenant, refuses alike whatever is missing, and costs no
upstream request for a request without Origin or a repeated made-up bucket name."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from s3proxy import cors_requests
from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_settings import with_cors
from s3proxy.backends.local import LocalStore
from s3proxy.backends.mapped import MappedStorage
from s3proxy.cors import CorsRule
from s3proxy.cors_requests import add_response_headers, preflight
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.request import parse_request
from s3proxy.responses import S3Response
from tests.support.asgi import http_scope
from tests.unit.test_bucket_settings import Counting

ORIGIN = "https://app.example"
RULE = CorsRule(allowed_methods=("GET",), allowed_origins=(ORIGIN,))
KEYS = {"AKALICE": ("alice", "s"), "AKBOB": ("bob", "s")}


def tenants(backend: Backend) -> dict[str, MappedStorage]:
    backends = cast(Mapping[str, Backend], {"main": backend})
    return {
        name: MappedStorage(TenantLayout(name, home=UpstreamRoot("main", "data", f"{name}/")),
                            backends, 0)
        for name in ("alice", "bob")
    }  # fmt: skip


def options(path: str, query: str = "", **headers: str) -> Any:
    sent = {"origin": ORIGIN, "access-control-request-method": "GET", **headers}
    return parse_request(http_scope("OPTIONS", path, query, sent))


def run(tmp_path: Path, body: Any) -> None:
    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            counting = Counting(store)
            await body(counting, tenants(cast(Backend, counting)))
        finally:
            await store.close()

    asyncio.run(main())


def test_the_owner_is_the_one_tenant_with_the_bucket_or_the_presigned_key(tmp_path: Path) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        await storages["alice"].buckets.create("site")
        await storages["alice"].buckets.settings.update("site", with_cors((RULE,)))
        answer = await preflight(options("/site/k"), storages, KEYS)
        assert dict(answer.headers)["Access-Control-Allow-Origin"] == ORIGIN
        await storages["bob"].buckets.create("site")  # now the name alone is ambiguous
        with pytest.raises(S3Error) as ambiguous:
            await preflight(options("/site/k"), storages, KEYS)
        assert ambiguous.value.code is S3ErrorCode.AccessForbidden
        signed_by_alice = "X-Amz-Credential=AKALICE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
        assert (await preflight(options("/site/k", signed_by_alice), storages, KEYS)).status == 200
        with pytest.raises(S3Error):
            await preflight(options("/site/k", "AWSAccessKeyId=AKBOB"), storages, KEYS)

    run(tmp_path, body)


def test_a_made_up_bucket_is_asked_about_once(tmp_path: Path) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        for _ in range(3):
            with pytest.raises(S3Error) as refused:
                await preflight(options("/nothing-here/k"), storages, KEYS)
            assert refused.value.code is S3ErrorCode.AccessForbidden
            assert "not enabled" in refused.value.message
        assert counting.calls == ["list_objects", "list_objects"]  # each home listed, once

    run(tmp_path, body)


def test_responses_without_origin_or_settings_cost_nothing(tmp_path: Path) -> None:
    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        alice = storages["alice"]
        await alice.buckets.create("plain")
        await alice.buckets.require("plain")
        counting.calls.clear()
        response = S3Response()
        get = parse_request(http_scope("GET", "/plain/k"))
        await add_response_headers(response, get, storages, KEYS, "alice")
        with_origin = parse_request(http_scope("GET", "/plain/k", headers={"origin": ORIGIN}))
        await add_response_headers(response, with_origin, storages, KEYS, "alice")
        assert counting.calls == [] and response.headers == []

    run(tmp_path, body)


def test_unsigned_lookups_beyond_their_slots_slow_down_without_upstream_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of unsigned preflights for ever-new names cannot queue upstream requests past the
    lookups' own slots (nor take a tenant's): the extra ones get 503 SlowDown."""
    monkeypatch.setattr(cors_requests, "UNSIGNED_WAIT", 0.01)
    gate = cors_requests.UNSIGNED_LOOKUPS

    async def body(counting: Counting, storages: dict[str, MappedStorage]) -> None:
        for _ in range(gate.limit):  # every slot busy with a lookup in flight
            await gate.enter(0)
        try:
            with pytest.raises(S3Error) as refused:
                await preflight(options("/made-up-name-1/k"), storages, KEYS)
            assert refused.value.code is S3ErrorCode.SlowDown
            assert counting.calls == []
        finally:
            for _ in range(gate.limit):
                gate.leave()
        with pytest.raises(S3Error) as answered:  # a slot free again: looked up, then refused
            await preflight(options("/made-up-name-1/k"), storages, KEYS)
        assert answered.value.code is S3ErrorCode.AccessForbidden

    run(tmp_path, body)
