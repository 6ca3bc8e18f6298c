"""DeleteBucket's tombstone (wave 12, C2; s3proxy.backends.buckets): written before the marker
goes, so that a crash in between leaves the bucket (a tombstone beside a marker means nothing),
never a deleted bucket without one, whose late writes the next CreateBucket would adopt."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import BucketCache
from s3proxy.backends.buckets import TOMBSTONE_DIR, BucketRegistry
from s3proxy.model import ListEntry, ListPage, PutObjectInput
from tests.unit.test_bucket_cache import MARKER, TENANT, MarkerStore

TOMBSTONE = f"alice/{TOMBSTONE_DIR}photos"


class OrderedStore(MarkerStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    async def put_object(self, request: PutObjectInput) -> object:
        self.writes.append(("put", request.key))
        return await super().put_object(request)

    async def delete_object(self, bucket: str, key: str) -> None:
        self.writes.append(("delete", key))
        await super().delete_object(bucket, key)


def _registry(store: MarkerStore) -> BucketRegistry:
    backends = cast(Mapping[str, Backend], {"main": store})
    return BucketRegistry(TENANT, backends, frozenset(), BucketCache(lifetime=3600))


def test_a_delete_writes_the_tombstone_before_the_marker_goes() -> None:
    store = OrderedStore()
    registry = _registry(store)

    async def scenario() -> list[Any]:
        await registry.create("photos")
        fresh = await registry.was_deleted("photos")
        await registry.delete("photos")
        deleted = await registry.was_deleted("photos")
        await registry.forget_deletion("photos")
        return [fresh, deleted, await registry.was_deleted("photos")]

    assert asyncio.run(scenario()) == [False, True, False]
    assert store.writes[1:3] == [("put", TOMBSTONE), ("delete", MARKER)]
    assert store.keys == set()


class ListingStore(MarkerStore):
    async def list_objects(
        self, bucket: str, prefix: str, delimiter: str, _s: Any, _m: int, _t: Any = None
    ) -> ListPage:
        under = sorted(key[len(prefix) :] for key in self.keys if key.startswith(prefix))
        entries = [ListEntry(prefix + name, '"e"', 0, "") for name in under if "/" not in name]
        rolled = {prefix + name.split("/")[0] + "/" for name in under if "/" in name}
        return ListPage(entries, sorted(rolled), None)


def test_a_tombstone_is_no_bucket() -> None:
    """Neither found as a bucket (a path-style ".deleted%2Fphotos") nor listed as one
    (ListBuckets, the bucket-name index); the bucket it names is gone."""
    store = ListingStore()
    store.keys.update({TOMBSTONE, "alice/.buckets/docs"})
    registry = _registry(store)

    async def scenario() -> tuple[bool, set[str] | None]:
        found = await registry.exists(".deleted/photos") or await registry.exists("photos")
        return found, await registry.names(10)

    assert asyncio.run(scenario()) == (False, {"docs"})
