"""Reads across tenants: what a bucket name the caller does not have costs upstream (wave 11 L).

Before answering NoSuchBucket, a signed read looks for another tenant whose ACL grants it
(s3proxy.granted_reads), and an unsigned one for the bucket's tenant (s3proxy.anonymous). Each
other tenant's home was asked with one HEAD per name, for every new name (1,000 HEADs per GET
with 1,000 tenants), and the caller's own home was asked twice. Now each home's bucket names are
listed once per cache lifetime (s3proxy.bucket_index) and the handler's own absence is reused.
Counted in process in front of a local store, never timed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from s3proxy import granted_reads
from s3proxy.app import Gateway, S3App
from s3proxy.backends import bucket_cache
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import write_record
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.asgi import call_app
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
TENANTS = [f"t{n:02d}" for n in range(12)]
PUBLIC = {"x-amz-acl": "public-read"}


def _keys(name: str) -> tuple[str, str]:
    return (f"AK{name.upper()}TENANT000", f"{name}-secret-" + "s" * 24)


def _settings(root: Path, **server: Any) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, **server},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": _keys(name)[0], "secret_key": _keys(name)[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                }
                for name in TENANTS
            },
        }
    )


def _count(gateway: Gateway) -> list[tuple[str, str]]:
    """Every HEAD and listing the store answers, as (call, tenant whose home it reads)."""
    store = gateway.backends["store"]
    assert isinstance(store, LocalStore)
    calls: list[tuple[str, str]] = []
    head_object, list_objects = store.head_object, store.list_objects

    async def head(bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(("head", key.split("/", 1)[0]))
        return await head_object(bucket, key, *args, **kwargs)

    async def listing(bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(("list", prefix.split("/", 1)[0]))
        return await list_objects(bucket, prefix, *args, **kwargs)

    store.head_object = head  # type: ignore[method-assign]
    store.list_objects = listing  # type: ignore[method-assign]
    return calls


async def _unsigned_get(app: S3App, path: str) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:9000")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def _run(tmp_path: Path, scenario: Any, **server: Any) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(tmp_path, **server))
        try:
            await scenario(gateway, S3App(gateway), _count(gateway))
        finally:
            await gateway.close()

    asyncio.run(main())


def test_made_up_names_cost_no_request_per_tenant_once_the_homes_are_listed(
    tmp_path: Path,
) -> None:
    async def scenario(gateway: Gateway, app: S3App, calls: list[tuple[str, str]]) -> None:
        caller = _keys("t00")
        first = await call_app(app, "GET", object_url(ENDPOINT, "made-up-0", "k"), caller)
        assert (first.status, first.code) == (404, "NoSuchBucket")
        others = sorted(tenant for call, tenant in calls if tenant != "t00")
        assert others == TENANTS[1:]  # each other home asked once (listed), no more
        for n in range(1, 6):  # new names each time: nothing to remember per name
            calls.clear()
            answer = await call_app(app, "GET", object_url(ENDPOINT, f"made-up-{n}", "k"), caller)
            assert (answer.status, answer.code) == (404, "NoSuchBucket")
            assert calls == [("head", "t00")]  # the caller's own check, asked once
        calls.clear()
        assert await _unsigned_get(app, "/made-up-9/k") == 403  # anonymous: AccessDenied
        assert [call for call in calls if call[0] == "head"] == []  # no home asked by HEAD

    _run(tmp_path, scenario)


def test_a_granted_bucket_is_found_and_one_created_through_this_server_at_once(
    tmp_path: Path,
) -> None:
    async def scenario(gateway: Gateway, app: S3App, calls: list[tuple[str, str]]) -> None:
        owner, reader = _keys("t05"), _keys("t00")
        await call_app(
            app, "PUT", f"{ENDPOINT}/shared", owner, headers={"x-amz-acl": "public-read"}
        )
        await call_app(app, "PUT", object_url(ENDPOINT, "shared", "k"), owner, b"data")
        served = await call_app(app, "GET", object_url(ENDPOINT, "shared", "k"), reader)
        assert (served.status, served.body) == (200, b"data")
        # Created after every home was listed: this server sees it at the next look-up.
        await call_app(app, "PUT", f"{ENDPOINT}/later", owner, headers={"x-amz-acl": "public-read"})
        await call_app(app, "PUT", object_url(ENDPOINT, "later", "k"), owner, b"later")
        calls.clear()
        later = await call_app(app, "GET", object_url(ENDPOINT, "later", "k"), reader)
        assert (later.status, later.body) == (200, b"later")
        assert [call for call in calls if call[0] == "list"] == [("list", "t05")]  # its home only

    _run(tmp_path, scenario)


def test_a_bucket_created_through_another_replica_is_found_within_the_lifetime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(bucket_cache.time, "monotonic", lambda: now[0])

    async def scenario(gateway: Gateway, app: S3App, calls: list[tuple[str, str]]) -> None:
        storages = gateway.runtime.storages
        assert await granted_reads.holders_of("elsewhere", storages, "t00") == []
        # Another replica creates it: this server's generation does not move.
        await write_record(gateway.backends["store"], "home", "t07/.buckets/elsewhere")
        assert await granted_reads.holders_of("elsewhere", storages, "t00") == []
        now[0] += 10.5  # past server.bucket_cache_seconds (10)
        found = await granted_reads.holders_of("elsewhere", storages, "t00")
        assert found == [storages["t07"]]

    _run(tmp_path, scenario)


def test_with_the_cache_off_every_home_is_asked_and_nothing_listed(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, app: S3App, calls: list[tuple[str, str]]) -> None:
        for name in ("gone-1", "gone-2"):
            calls.clear()
            answer = await call_app(app, "GET", object_url(ENDPOINT, name, "k"), _keys("t00"))
            assert (answer.status, answer.code) == (404, "NoSuchBucket")
            assert sorted(tenant for _, tenant in calls) == TENANTS  # one HEAD each, as before
            assert all(call == "head" for call, _ in calls)

    _run(tmp_path, scenario, bucket_cache_seconds=0)


@pytest.mark.parametrize("why", ["too many names", "listing fails"])
def test_a_home_not_listed_is_asked_by_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """A home whose names are not kept is never taken for one without the bucket."""
    if why == "too many names":
        monkeypatch.setattr("s3proxy.bucket_index.MAX_NAMES", 1)

    async def scenario(gateway: Gateway, app: S3App, calls: list[tuple[str, str]]) -> None:
        owner, reader = _keys("t05"), _keys("t00")
        for name in ("first", "second"):
            await call_app(app, "PUT", f"{ENDPOINT}/{name}", owner, headers=PUBLIC)
        await call_app(app, "PUT", object_url(ENDPOINT, "second", "k"), owner, b"data")
        if why == "listing fails":
            store = gateway.backends["store"]
            listing = store.list_objects

            async def failing(bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
                if prefix.startswith("t05/"):
                    raise S3Error(S3ErrorCode.SlowDown)
                return await listing(bucket, prefix, *args, **kwargs)

            store.list_objects = failing  # type: ignore[method-assign]
        served = await call_app(app, "GET", object_url(ENDPOINT, "second", "k"), reader)
        assert (served.status, served.body) == (200, b"data")
        calls.clear()
        made_up = await call_app(app, "GET", object_url(ENDPOINT, "made-up", "k"), reader)
        assert (made_up.status, made_up.code) == (404, "NoSuchBucket")
        assert sorted(calls) == [("head", "t00"), ("head", "t05")]  # not listed again

    _run(tmp_path, scenario)
