"""Which key encoding a layout root uses: new roots, existing plain deployments, refusals.

A real local store plays the upstream; MappedStorage is driven as the gateway drives it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest

from s3proxy.backends.key_encoding import MARKER, KeyEncodings
from s3proxy.backends.local import LocalStore
from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import KeyEncoding, TenantLayout, UpstreamRoot
from s3proxy.listing import ListQuery
from s3proxy.model import ObjectAttributes, PutObjectInput, ReadConditions
from tests.unit.local_helpers import BUCKET, chunks

HOME = UpstreamRoot("up", BUCKET, "home/")
TENANT = TenantLayout("t", home=HOME, buckets={"mapped": UpstreamRoot("up", BUCKET, "m/")})


def shard(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:1]


def storage(
    store: LocalStore, configured: KeyEncoding | None, default: KeyEncoding = "flat"
) -> MappedStorage:
    backends = {"up": store}
    encodings = KeyEncodings(backends, configured, {"up": default})
    return MappedStorage(TENANT, backends, 1, encodings=encodings)


async def put(mapped: MappedStorage, bucket: str, key: str, body: bytes = b"x") -> None:
    await mapped.put_object(
        PutObjectInput(bucket, key, chunks(body), len(body), ObjectAttributes())
    )


async def upstream_keys(store: LocalStore) -> list[str]:
    page = await store.list_objects(BUCKET, "", None, None, 1000)
    return [entry.key for entry in page.entries]


async def listed(mapped: MappedStorage, bucket: str) -> list[str]:
    page = await mapped.list_objects(bucket, ListQuery("", None, None, 1000))
    return [entry.key for entry in page.entries]


def run(tmp_path: Path, scenario: object) -> None:
    async def main() -> None:
        store = LocalStore("up", tmp_path / "store")
        try:
            await scenario(store)  # type: ignore[operator]
        finally:
            await store.close()

    asyncio.run(main())


def test_a_new_home_is_flat_and_records_it(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        mapped = storage(store, None)
        await mapped.buckets.create("bkt")  # bucket records do not make a home "used"
        await put(mapped, "bkt", "a/../b")
        assert await upstream_keys(store) == [
            "home/.buckets/bkt",
            f"home/{MARKER}",
            f"home/bkt/{shard('a/../b')}/a-2f-2e-2e-2fb",
        ]
        marker = await store.head_object(BUCKET, f"home/{MARKER}", ReadConditions())
        assert marker.attributes.metadata == {"key-encoding": "flat"}
        assert await listed(mapped, "bkt") == ["a/../b"]
        # Another process (or replica) reads the record, whatever its own default.
        assert await listed(storage(store, None, default="plain"), "bkt") == ["a/../b"]

    run(tmp_path, scenario)


def test_an_existing_plain_home_keeps_working(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        old = storage(store, "plain")
        await old.buckets.create("bkt")
        await put(old, "bkt", "old/key")
        upgraded = storage(store, None)  # a new version, default flat
        await put(upgraded, "bkt", "new/key")
        assert await listed(upgraded, "bkt") == ["new/key", "old/key"]
        assert f"home/bkt/{shard('new/key')}/new/key" in await upstream_keys(store)
        assert f"home/{MARKER}" not in await upstream_keys(store)

    run(tmp_path, scenario)


@pytest.mark.parametrize(("first", "then"), [("plain", "flat"), ("flat", "plain")])
def test_changing_the_encoding_of_a_used_root_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, first: KeyEncoding, then: KeyEncoding
) -> None:
    async def scenario(store: LocalStore) -> None:
        await storage(store, first).buckets.create("bkt")
        await put(storage(store, first), "bkt", "k")
        changed = storage(store, then)
        for _attempt in range(2):
            with pytest.raises(S3Error) as caught:
                await listed(changed, "bkt")
            assert caught.value.code is S3ErrorCode.InternalError
        assert await upstream_keys(store) == [
            "home/.buckets/bkt",
            *([f"home/{MARKER}"] if first == "flat" else []),
            f"home/bkt/{shard('k')}/k",
        ]

    with caplog.at_level(logging.ERROR, "s3proxy"):
        run(tmp_path, scenario)
    refusals = [record.getMessage() for record in caplog.records]
    assert len(refusals) == 1  # logged once, not per request
    assert "Changing the key encoding is a new layout" in refusals[0]
    assert f"set layout.key_encoding: {first}" in refusals[0]


def test_a_mapped_bucket_root_has_its_own_record(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        mapped = storage(store, None)
        await put(mapped, "mapped", "x.y")
        assert await upstream_keys(store) == [f"m/{MARKER}", f"m/{shard('x.y')}/x-2ey"]
        assert await listed(mapped, "mapped") == ["x.y"]

    run(tmp_path, scenario)


def test_the_local_store_default_is_plain(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        mapped = storage(store, None, default="plain")
        await put(mapped, "mapped", "x.y")
        assert await upstream_keys(store) == [f"m/{shard('x.y')}/x.y"]

    run(tmp_path, scenario)


def test_defaults_by_upstream_kind(tmp_path: Path) -> None:
    from s3proxy.config import Settings

    upstreams = {
        "s3": {"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "s"},
        "disk": {"type": "local", "path": str(tmp_path)},
    }
    tenants = {"t": {"keys": [{"access_key": "AKT", "secret_key": "secret-t-0123"}]}}
    settings = Settings.model_validate({"upstreams": upstreams, "tenants": tenants})
    assert settings.key_encoding_defaults() == {"s3": "flat", "disk": "plain"}
    pinned = Settings.model_validate(
        {"upstreams": upstreams, "tenants": tenants, "layout": {"key_encoding": "plain"}}
    )
    assert pinned.key_encoding_defaults() == {"s3": "plain", "disk": "plain"}
