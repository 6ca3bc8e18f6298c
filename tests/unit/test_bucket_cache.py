"""The bucket-existence cache: a deletion or creation through one worker invalidates what every
other worker of the same server cached, and the lifetime bounds what is trusted at all."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any, cast

import pytest

from s3proxy.backends import bucket_cache
from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import BucketCache, Generation
from s3proxy.backends.buckets import MARKER_DIR, BucketRegistry
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ListEntry, ListPage, ObjectAttributes, ObjectInfo, PutObjectInput

TENANT = TenantLayout("alice", home=UpstreamRoot("main", "homes", "alice/"))
MARKER = f"alice/{MARKER_DIR}photos"


class MarkerStore:
    """Just enough of an upstream for bucket markers; counts the HEADs it answers."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.heads = 0
        self.before_head_answer: Any = None

    async def head_object(self, bucket: str, key: str, conditions: Any) -> object:
        self.heads += 1
        present = key in self.keys
        if self.before_head_answer is not None:
            await self.before_head_answer()
        if not present:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return ObjectInfo(0, '"d41d8cd98f00b204e9800998ecf8427e"', "", ObjectAttributes())

    async def put_object(self, request: PutObjectInput) -> object:
        self.keys.add(request.key)
        return object()

    async def delete_object(self, bucket: str, key: str) -> None:
        self.keys.discard(key)


def registries(store: MarkerStore, cache: BucketCache) -> tuple[BucketRegistry, BucketRegistry]:
    """Two workers' registries of one tenant, over one upstream, sharing one generation."""
    backends = cast(Mapping[str, Backend], {"main": store})
    return (
        BucketRegistry(TENANT, backends, frozenset(), cache),
        BucketRegistry(TENANT, backends, frozenset(), cache),
    )


def test_a_deletion_elsewhere_is_seen_before_the_cache_expires() -> None:
    store, cache = MarkerStore(), BucketCache(lifetime=3600)
    first, second = registries(store, cache)

    async def scenario() -> None:
        await first.create("photos")
        assert await second.exists("photos")
        heads = store.heads
        assert await second.exists("photos")  # cached: no upstream request
        assert store.heads == heads
        await first.delete("photos")
        assert not await second.exists("photos")
        with pytest.raises(S3Error) as raised:
            await second.require("photos")
        assert raised.value.code is S3ErrorCode.NoSuchBucket

    asyncio.run(scenario())


def test_an_answer_overtaken_by_a_deletion_is_not_trusted() -> None:
    """The HEAD said "exists", but the bucket was deleted while the answer travelled back."""
    store, cache = MarkerStore(), BucketCache(lifetime=3600)
    first, second = registries(store, cache)

    async def scenario() -> None:
        await first.create("photos")

        async def delete_meanwhile() -> None:
            store.before_head_answer = None
            await first.delete("photos")

        store.before_head_answer = delete_meanwhile
        assert await second.exists("photos")  # what the upstream said at the time
        assert not await second.exists("photos")

    asyncio.run(scenario())


def test_lifetime_zero_asks_the_upstream_every_time() -> None:
    store, cache = MarkerStore(), BucketCache(lifetime=0)
    first, _ = registries(store, cache)

    async def scenario() -> None:
        await first.create("photos")
        before = store.heads
        for _ in range(3):
            assert await first.exists("photos")
        assert store.heads == before + 3

    asyncio.run(scenario())


def test_an_expired_entry_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store, cache = MarkerStore(), BucketCache(lifetime=10)
    first, _ = registries(store, cache)
    clock = [1000.0]
    monkeypatch.setattr(bucket_cache.time, "monotonic", lambda: clock[0])

    async def scenario() -> None:
        await first.create("photos")
        assert await first.exists("photos")
        store.keys.clear()  # deleted by another replica: only the lifetime bounds this
        clock[0] += 9.9
        assert await first.exists("photos")
        clock[0] += 0.2
        assert not await first.exists("photos")

    asyncio.run(scenario())


def test_the_generation_is_shared_with_forked_processes() -> None:
    generation = Generation(slots=3)
    pid = os.fork()
    if pid == 0:  # a worker: bumps its own slot only
        generation.use_slot(2)
        generation.bump()
        generation.bump()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert generation.current() == 2
    generation.bump()  # slot 0: every writer has its own word, no increment is lost
    assert generation.current() == 3


def test_a_slot_outside_the_array_is_refused() -> None:
    with pytest.raises(ValueError):
        Generation(slots=2).use_slot(2)


def test_listing_shows_only_bucket_markers() -> None:
    """SeaweedFS lists an emptied marker directory as an entry named by the prefix itself; a
    mapped bucket's settings record starts with ".": neither is a bucket (an empty name broke
    ``aws s3 ls`` after ``aws s3 rb``)."""

    class Listing:
        async def list_objects(self, bucket: str, prefix: str, *args: Any) -> ListPage:
            names = ["", ".mapped/", "photos", "x"]
            entries = [
                ListEntry(prefix + name, '""', 0, "2026-01-01T00:00:00.000Z") for name in names
            ]
            return ListPage(entries, [], None)

    registry = BucketRegistry(
        TENANT, cast(Mapping[str, Backend], {"main": Listing()}), frozenset(), BucketCache(60)
    )
    assert [name for name, _ in asyncio.run(registry.list())] == ["photos"]
