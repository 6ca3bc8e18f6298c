"""Quotas (s3proxy.quotas): the accounting, the local store's exact check at commit, the early
check before a body moves, the config rule, ``s3proxy stats`` and the admin ``/usage``."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy.admin_app import create_admin_app
from s3proxy.app import Gateway, S3App
from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.index import usage_under
from s3proxy.backends.mapped import MappedStorage
from s3proxy.cli import main
from s3proxy.config import ConfigError, Settings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CopyObjectInput,
    CreateMultipartInput,
    ObjectAttributes,
    PutObjectInput,
    QuotaScope,
)
from s3proxy.quotas import (
    Limit,
    QuotaPolicy,
    Usage,
    after_write,
    distinct_roots,
    exceeded,
)
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.local_helpers import BUCKET, MiB, blob_files, chunks, get, put, run, upload_part

KEYS = ("AKQUOTATENANT", "quota-secret-aaaaaaaaaaaaaaaaaaa")


def scope(max_bytes: int | None = None, max_objects: int | None = None) -> QuotaScope:
    return QuotaScope("tenant", (("test", BUCKET, "t/"),), max_bytes, max_objects)


# -- accounting --------------------------------------------------------------------------------


def test_a_new_object_counts_its_bytes_and_one_object() -> None:
    assert after_write(Usage(2, 100), None, 10) == Usage(3, 110)


def test_an_overwrite_counts_the_difference_and_no_object() -> None:
    assert after_write(Usage(2, 100), 40, 10) == Usage(2, 70)
    assert after_write(Usage(2, 100), 40, 50) == Usage(2, 110)


@pytest.mark.parametrize(
    ("limits", "before", "replaced", "size", "refused"),
    [
        ((100, None), Usage(1, 90), None, 10, False),  # exactly at the limit is allowed
        ((100, None), Usage(1, 90), None, 11, True),
        ((None, 2), Usage(2, 0), None, 0, True),  # a third object, even an empty one
        ((None, 2), Usage(2, 50), 10, 20, False),  # an overwrite adds no object
        ((100, None), Usage(1, 90), 40, 50, False),  # overwrite: the old size is subtracted
        ((50, None), Usage(1, 90), 40, 30, False),  # already over (quota lowered): shrinking ok
        ((50, None), Usage(1, 90), 40, 41, True),  # ... growing is not
    ],
)
def test_what_is_refused(
    limits: tuple[int | None, int | None],
    before: Usage,
    replaced: int | None,
    size: int,
    refused: bool,
) -> None:
    assert exceeded(scope(*limits), before, after_write(before, replaced, size)) is refused


def test_nested_roots_are_counted_once() -> None:
    home = UpstreamRoot("u", "b", "t/")
    inside = UpstreamRoot("u", "b", "t/x/")
    other = UpstreamRoot("u", "c", "t/")
    assert distinct_roots([inside, home, other]) == (("u", "b", "t/"), ("u", "c", "t/"))


def test_a_policy_gives_the_tenant_and_bucket_scopes() -> None:
    layout = TenantLayout("t", UpstreamRoot("u", "b", "t/"))
    policy = QuotaPolicy(layout, Limit(100), {"small": Limit(None, 2)})
    assert [s.name for s in policy.scopes("small")] == ["tenant", "bucket small"]
    assert policy.scopes("small")[1].roots == (("u", "b", "t/small/"),)
    assert [s.name for s in policy.scopes("other")] == ["tenant"]
    assert QuotaPolicy(layout, None, {"small": Limit(1)}).scopes("other") == ()


# -- the local store: exact, at commit ---------------------------------------------------------


async def quota_put(store: LocalStore, key: str, data: bytes, quota: QuotaScope) -> None:
    await store.put_object(
        PutObjectInput(BUCKET, key, chunks(data), len(data), ObjectAttributes(), quota=(quota,))
    )


def refused(error: pytest.ExceptionInfo[S3Error]) -> bool:
    return error.value.code is S3ErrorCode.QuotaExceeded and error.value.status == 403


def test_a_put_over_quota_stores_nothing(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await quota_put(store, "t/a", b"x" * 60, scope(100))
        with pytest.raises(S3Error) as error:
            await quota_put(store, "t/b", b"y" * 41, scope(100))
        assert refused(error)
        with pytest.raises(S3Error):
            await get(store, "t/b")
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(1, 60)
        await quota_put(store, "t/b", b"y" * 40, scope(100))  # exactly to the limit

    run(tmp_path, scenario)
    assert len(blob_files(tmp_path)) == 2  # the refused body's blob was not kept


def test_overwrites_and_deletes_free_room(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await quota_put(store, "t/a", b"x" * 80, scope(100, 1))
        await quota_put(store, "t/a", b"z" * 100, scope(100, 1))  # 80 replaced by 100
        with pytest.raises(S3Error) as error:
            await quota_put(store, "t/b", b"", scope(100, 1))  # a second object
        assert refused(error)
        await store.delete_object(BUCKET, "t/a")
        await quota_put(store, "t/b", b"y" * 100, scope(100, 1))

    run(tmp_path, scenario)


def test_objects_outside_the_roots_do_not_count(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "other/a", b"x" * 500)
        await quota_put(store, "t/a", b"x" * 100, scope(100))

    run(tmp_path, scenario)


def test_counters_follow_every_write_and_leave_out_markers(tmp_path: Path) -> None:
    """The counters the triggers keep equal a fresh scan after a random mix of writes."""
    rng = random.Random(15)
    roots = (("test", BUCKET, "t/"), ("test", BUCKET, "t/b/"), ("test", "other", ""))

    async def scenario(store: LocalStore) -> None:
        for root in roots:
            assert await store.usage((root,)) == Usage()  # registered: triggers count from here
        keys = ["t/a", "t/b/x", "t/b/y", "t/.buckets/b", "t/.s3proxy-layout", "t/.uploads/b/d"]
        keys += ["u/z"]
        for _ in range(60):
            key, bucket = rng.choice(keys), rng.choice([BUCKET, "other"])
            if rng.random() < 0.3:
                await store.delete_object(bucket, key)
            else:
                await put(store, key, b"x" * rng.randrange(50), bucket=bucket)
        for root in roots:
            scanned = Usage(*usage_under(store.index.db, root[1], root[2]))
            assert await store.usage((root,)) == scanned
        before = await store.usage((roots[0],))
        await put(store, "t/.buckets/new", b"marker")
        await put(store, "t/.s3proxy-layout", b"marker")
        await put(store, "t/.uploads/b/0123.acl.public-read", b"")  # an open upload's mark
        assert await store.usage((roots[0],)) == before == scanned_usage(store, roots[0])

    run(tmp_path, scenario)


OLD_USAGE_ROOTS = """
CREATE TABLE usage_roots (
    bucket TEXT NOT NULL, prefix BLOB NOT NULL, upper BLOB, markers BLOB NOT NULL,
    markers_upper BLOB, layout_marker BLOB NOT NULL, objects INTEGER NOT NULL,
    bytes INTEGER NOT NULL, PRIMARY KEY (bucket, prefix)
) WITHOUT ROWID;
CREATE TRIGGER usage_added AFTER INSERT ON objects BEGIN
    UPDATE usage_roots SET objects = objects + 1 WHERE bucket = NEW.bucket;
END;
CREATE TRIGGER usage_removed AFTER DELETE ON objects BEGIN
    UPDATE usage_roots SET objects = objects - 1 WHERE bucket = OLD.bucket;
END;
"""


def test_a_store_from_before_upload_marks_were_left_out_counts_them_no_more(
    tmp_path: Path,
) -> None:
    """A store whose count cache (and triggers) predate the upload marks' range gets them
    afresh: the marks of open uploads count nothing."""

    async def nothing(store: LocalStore) -> None:
        pass

    run(tmp_path, nothing)
    db = sqlite3.connect(tmp_path / "index.sqlite3")
    db.executescript(
        "DROP TRIGGER usage_added; DROP TRIGGER usage_removed; DROP TABLE usage_roots;"
        + OLD_USAGE_ROOTS
    )
    db.close()

    async def scenario(store: LocalStore) -> None:
        await put(store, "t/.uploads/b/0123.acl.public-read", b"")
        await quota_put(store, "t/a", b"x", scope(100, 1))  # exactly at one object
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(1, 1)

    run(tmp_path, scenario)


def scanned_usage(store: LocalStore, root: tuple[str, str, str]) -> Usage:
    return Usage(*usage_under(store.index.db, root[1], root[2]))


def test_concurrent_writes_cannot_both_pass(tmp_path: Path) -> None:
    """The early check sees room for each; the commit, one at a time, lets one in."""

    async def scenario(store: LocalStore) -> None:
        writes = [quota_put(store, f"t/{n}", b"x" * 60, scope(100)) for n in range(4)]
        results = await asyncio.gather(*writes, return_exceptions=True)
        failures = [r for r in results if isinstance(r, S3Error)]
        assert len(failures) == 3
        assert {f.code for f in failures} == {S3ErrorCode.QuotaExceeded}
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(1, 60)

    run(tmp_path, scenario)


def test_a_copy_over_quota_stores_nothing(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await quota_put(store, "t/a", b"x" * 60, scope(100))
        copy = CopyObjectInput(BUCKET, "t/a", BUCKET, "t/b", False, ObjectAttributes())
        with pytest.raises(S3Error) as error:
            await store.copy_object(
                CopyObjectInput(
                    BUCKET, "t/a", BUCKET, "t/b", False, ObjectAttributes(), quota=(scope(100),)
                )
            )
        assert refused(error)
        with pytest.raises(S3Error):
            await get(store, "t/b")
        await store.copy_object(copy)  # without a quota the same copy is fine
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(2, 120)

    run(tmp_path, scenario)


def test_a_complete_over_quota_stores_nothing_and_keeps_the_upload(tmp_path: Path) -> None:
    """Over an object quota (its parts' bytes already count: a Complete adds no byte)."""
    part = b"p" * (5 * MiB)

    async def scenario(store: LocalStore) -> None:
        upload = await store.create_multipart_upload(
            CreateMultipartInput(BUCKET, "t/big", ObjectAttributes())
        )
        etag = await upload_part(store, "t/big", upload, 1, part)
        request = CompleteMultipartInput(
            BUCKET, "t/big", upload, [CompletedPart(1, etag)], quota=(scope(max_objects=0),)
        )
        with pytest.raises(S3Error) as error:
            await store.complete_multipart_upload(request)
        assert refused(error)
        with pytest.raises(S3Error):
            await get(store, "t/big")
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(0, 5 * MiB, 5 * MiB)
        bigger = CompleteMultipartInput(
            BUCKET, "t/big", upload, [CompletedPart(1, etag)], quota=(scope(5 * MiB, 1),)
        )
        await store.complete_multipart_upload(bigger)  # the upload was still there
        assert await store.usage((("test", BUCKET, "t/"),)) == Usage(1, 5 * MiB)

    run(tmp_path, scenario)


# -- the early check: before any body byte moves ----------------------------------------------


async def untouchable() -> AsyncIterator[bytes]:
    raise AssertionError("the body was read")
    yield b""  # pragma: no cover


def test_a_put_over_quota_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        layout = TenantLayout("t", UpstreamRoot("test", BUCKET, "t/"))
        storage = MappedStorage(layout, {"test": store}, 0, quotas=QuotaPolicy(layout, Limit(10)))
        storage.buckets.require = _exists  # type: ignore[method-assign]
        request = PutObjectInput("docs", "k", untouchable(), 11, ObjectAttributes())
        with pytest.raises(S3Error) as error:
            await storage.put_object(request)
        assert refused(error)

    run(tmp_path, scenario)


async def _exists(bucket: str) -> None:
    return None


# -- configuration, the gateway, /usage and stats ----------------------------------------------


def local_settings(root: Path, quota: dict[str, Any], buckets: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"local": {"type": "local", "path": str(root)}},
            "tenants": {
                "t": {
                    "keys": [{"access_key": KEYS[0], "secret_key": KEYS[1]}],
                    "home": {"upstream": "local", "bucket": "data"},
                    "quota": quota,
                    "bucket_quotas": buckets,
                },
                "free": {
                    "keys": [{"access_key": "AKFREE", "secret_key": "f" * 32}],
                    "home": {"upstream": "local", "bucket": "data"},
                },
            },
        }
    )


def test_quotas_on_s3_upstreams_need_a_home() -> None:
    """Their usage records live in the home; a tenant with one is accepted."""
    tenant: dict[str, Any] = {
        "keys": [{"access_key": "AKX", "secret_key": "x" * 32}],
        "buckets": {"data": {"upstream": "s3", "bucket": "data"}},
        "quota": {"max_bytes": 1},
    }
    upstreams = {"s3": {"endpoint": "http://127.0.0.1:1"}}
    with pytest.raises((ConfigError, ValueError), match="has none"):
        Settings.model_validate({"upstreams": upstreams, "tenants": {"t": tenant}})
    tenant["home"] = {"upstream": "s3", "bucket": "homes"}
    Settings.model_validate({"upstreams": upstreams, "tenants": {"t": tenant}})


def test_a_tenant_quota_needs_one_local_store(tmp_path: Path) -> None:
    tenant = {
        "keys": [{"access_key": "AKX", "secret_key": "x" * 32}],
        "home": {"upstream": "one", "bucket": "b"},
        "buckets": {"far": {"upstream": "two", "bucket": "c"}},
    }
    stores = {
        "one": {"type": "local", "path": str(tmp_path / "1")},
        "two": {"type": "local", "path": str(tmp_path / "2")},
    }
    with pytest.raises((ConfigError, ValueError), match="on that store"):
        Settings.model_validate(
            {"upstreams": stores, "tenants": {"t": {**tenant, "quota": {"max_bytes": 1}}}}
        )
    Settings.model_validate(
        {"upstreams": stores, "tenants": {"t": {**tenant, "bucket_quotas": {"far": {}}}}}
    )


def test_a_tenant_without_quota_has_no_policy(tmp_path: Path) -> None:
    async def check() -> None:
        gateway = Gateway(local_settings(tmp_path / "s", {"max_objects": 1}, {}))
        try:
            assert gateway.runtime.storages["free"].quotas is None
            assert gateway.runtime.storages["free"].quota_scopes("any") == ()
        finally:
            await gateway.close()

    asyncio.run(check())


async def admin_get(app: Any, path: str, query: str = "") -> tuple[int, Any]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [],
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 9001),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_through_the_gateway_and_usage_endpoint(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "s", {"max_bytes": 100}, {"small": {"max_objects": 1}})
    endpoint = "http://127.0.0.1:9000"

    async def scenario() -> None:
        gateway = Gateway(settings)
        try:
            app = S3App(gateway)
            for bucket in ("big", "small"):
                assert (
                    await call_app(app, "PUT", object_url(endpoint, bucket), KEYS)
                ).status == 200
            assert (
                await call_app(app, "PUT", object_url(endpoint, "small", "a"), KEYS, b"1" * 10)
            ).status == 200
            over = await call_app(app, "PUT", object_url(endpoint, "small", "b"), KEYS, b"1")
            assert (over.status, over.code, over.receives) == (403, "QuotaExceeded", 0)
            too_big = await call_app(app, "PUT", object_url(endpoint, "big", "a"), KEYS, b"2" * 91)
            assert (too_big.status, too_big.code, too_big.receives) == (403, "QuotaExceeded", 0)
            fits = await call_app(app, "PUT", object_url(endpoint, "big", "a"), KEYS, b"2" * 90)
            assert fits.status == 200
            copy = await call_app(
                app, "PUT", object_url(endpoint, "big", "c"), KEYS,
                headers={"x-amz-copy-source": "/small/a"},
            )  # fmt: skip
            assert (copy.status, copy.code) == (403, "QuotaExceeded")
            admin = create_admin_app(gateway)
            status, body = await admin_get(admin, "/usage")
            assert status == 200
            tenant = body["tenants"]["t"]
            assert (tenant["objects"], tenant["bytes"]) == (2, 100)
            assert tenant["quota"] == {"max_bytes": 100, "max_objects": None}
            assert tenant["buckets"]["small"] == {
                "objects": 1,
                "bytes": 10,
                "upload_bytes": 0,
                "quota": {"max_bytes": None, "max_objects": 1},
            }
            assert body["tenants"]["free"]["quota"] is None
            assert (await admin_get(admin, "/usage", "tenant=free"))[1]["tenants"].keys() == {
                "free"
            }
            assert (await admin_get(admin, "/usage", "tenant=nobody"))[0] == 404
        finally:
            await gateway.close()

    asyncio.run(scenario())

    config = tmp_path / "s3proxy.yaml"
    config.write_text(yaml.safe_dump(json.loads(settings.model_dump_json())))
    rows = _stats(["stats", "--config", str(config), "--json"])
    assert rows["tenants"]["t"] == {
        "objects": 2,
        "bytes": 100,
        "max_objects": None,
        "max_bytes": 100,
    }
    assert rows["tenants"]["free"]["objects"] == 0


def _stats(argv: list[str]) -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result
