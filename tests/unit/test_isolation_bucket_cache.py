"""One tenant's bucket churn must not cost another tenant anything (wave 8, C).

Every request checks that its bucket exists, answered from a per-process cache that a
creation, deletion or settings change invalidates. That invalidation used to be one counter
for every tenant: a tenant creating, deleting or re-tagging buckets in a loop made each of
every other tenant's requests pay an upstream HEAD. These tests count those HEADs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from s3proxy import cors_requests
from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import FAMILIES, BucketCache, Generation
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ObjectAttributes, ObjectInfo, PutObjectInput


def tenant(name: str) -> TenantLayout:
    return TenantLayout(name, home=UpstreamRoot("main", "homes", f"{name}/"))


class Markers:
    """Just enough of an upstream for bucket markers; counts HEADs per tenant home."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.heads: dict[str, int] = {}

    async def head_object(self, bucket: str, key: str, conditions: Any) -> ObjectInfo:
        home = key.split("/", 1)[0]
        self.heads[home] = self.heads.get(home, 0) + 1
        if key not in self.keys:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return ObjectInfo(0, '"d41d8cd98f00b204e9800998ecf8427e"', "", ObjectAttributes())

    async def put_object(self, request: PutObjectInput) -> object:
        self.keys.add(request.key)
        return object()

    async def delete_object(self, bucket: str, key: str) -> None:
        self.keys.discard(key)


def backends(store: Markers) -> Mapping[str, Backend]:
    return cast(Mapping[str, Backend], {"main": store})


def different_families(first: str, second: str) -> bool:
    cache = BucketCache()
    return cache.for_tenant(first).family != cache.for_tenant(second).family


def test_another_tenants_bucket_churn_leaves_a_tenants_cached_answers_alone() -> None:
    assert different_families("alice", "bob")
    store, cache = Markers(), BucketCache(lifetime=3600)
    alice = BucketRegistry(tenant("alice"), backends(store), frozenset(), cache)
    bob = BucketRegistry(tenant("bob"), backends(store), frozenset(), cache)

    async def scenario() -> None:
        await bob.create("photos")
        assert await bob.exists("photos")
        heads = store.heads["bob"]
        for round_ in range(20):
            await alice.create(f"churn-{round_}")
            alice.cache.generation.bump()  # as a settings change (tags, CORS, ACL) does
            await alice.delete(f"churn-{round_}")
            assert await bob.exists("photos")
        assert store.heads["bob"] == heads  # every answer came from bob's cache

    asyncio.run(scenario())


def test_a_tenants_own_changes_still_reach_all_its_workers() -> None:
    """The invalidation the generation exists for: a deletion through one worker is seen by
    the tenant's other workers at once, whatever the other tenants do."""
    store, cache = Markers(), BucketCache(lifetime=3600)
    first = BucketRegistry(tenant("alice"), backends(store), frozenset(), cache)
    second = BucketRegistry(tenant("alice"), backends(store), frozenset(), cache)

    async def scenario() -> None:
        await first.create("photos")
        assert await second.exists("photos")
        await first.delete("photos")
        assert not await second.exists("photos")

    asyncio.run(scenario())


def test_a_remembered_absence_ends_when_that_tenant_creates_the_bucket() -> None:
    """Anonymous and cross-tenant lookups remember "no such bucket" per tenant; the tenant's
    own creation must end that, its family's generation being the one that moved."""
    store = Markers()
    storage = MappedStorage(tenant("carol"), backends(store), 1)

    async def scenario() -> None:
        assert not await cors_requests.has_bucket(storage, "later")
        heads = store.heads["carol"]
        assert not await cors_requests.has_bucket(storage, "later")
        assert store.heads["carol"] == heads  # remembered
        await storage.buckets.create("later")
        assert await cors_requests.has_bucket(storage, "later")
        await storage.buckets.delete("later")

    asyncio.run(scenario())


def test_families_are_shared_with_forked_processes_one_word_per_writer() -> None:
    generation = Generation(slots=2)
    generation.use_slot(1)
    generation.bump(FAMILIES - 1)
    generation.use_slot(0)
    generation.bump(FAMILIES - 1)
    assert generation.current(FAMILIES - 1) == 2
    assert all(generation.current(family) == 0 for family in range(FAMILIES - 1))
