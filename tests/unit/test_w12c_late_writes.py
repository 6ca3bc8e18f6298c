"""A write through one replica into a bucket deleted through another (wave 12, C).

Replicas share nothing but the upstream: the second one's cache still says the bucket exists.
A write that lands within ``RECHECK_SECONDS`` of the upstream's last "exists" is answered as
before (no request); one that lands later asks the upstream again, is undone and answered
NoSuchBucket when the bucket is gone, and renews the answer when it is not, so a stream of
writes costs one HEAD per ``RECHECK_SECONDS``. The clock is the tests' own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import cast

import pytest

from s3proxy.backends import bucket_race, buckets
from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import BucketCache
from s3proxy.backends.bucket_race import RECHECK_SECONDS, kept_or_undone
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.test_bucket_cache import TENANT, MarkerStore


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    fake = SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(bucket_race, "time", fake)
    monkeypatch.setattr(buckets, "time", fake)
    return now


def _replicas(store: MarkerStore) -> tuple[BucketRegistry, BucketRegistry]:
    """One tenant's registries in two replicas: one upstream, nothing else shared."""
    backends = cast(Mapping[str, Backend], {"main": store})
    return (
        BucketRegistry(TENANT, backends, frozenset(), BucketCache(lifetime=3600)),
        BucketRegistry(TENANT, backends, frozenset(), BucketCache(lifetime=3600)),
    )


class Undo:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def test_a_late_write_into_a_bucket_deleted_elsewhere_is_undone(clock: list[float]) -> None:
    store = MarkerStore()
    one, two = _replicas(store)
    undo = Undo()

    async def scenario() -> None:
        await one.create("photos")
        looked_at = two.cache.current()
        assert await two.exists("photos")  # cached for an hour in the second replica
        await one.delete("photos")
        clock[0] += RECHECK_SECONDS + 0.5  # the write took that long, or came that late
        assert await two.exists("photos")  # the cache alone still believes in it
        with pytest.raises(S3Error) as raised:
            await kept_or_undone(two, "photos", looked_at, undo)
        assert raised.value.code is S3ErrorCode.NoSuchBucket
        assert undo.calls == 1
        assert not await two.exists("photos")  # and the replica knows it from now on

    asyncio.run(scenario())


def test_a_write_soon_after_the_check_costs_no_request(clock: list[float]) -> None:
    """Within the window a deletion elsewhere goes unseen by the write (the next create of the
    name removes what it wrote: test_w12c_replicas); the usual case pays nothing."""
    store = MarkerStore()
    one, two = _replicas(store)
    undo = Undo()

    async def scenario() -> None:
        await one.create("photos")
        looked_at = two.cache.current()
        assert await two.exists("photos")
        heads = store.heads
        clock[0] += RECHECK_SECONDS - 0.01
        await kept_or_undone(two, "photos", looked_at, undo)
        assert (store.heads, undo.calls) == (heads, 0)

    asyncio.run(scenario())


def test_a_stream_of_writes_asks_once_per_window(clock: list[float]) -> None:
    store = MarkerStore()
    _, two = _replicas(store)
    undo = Undo()

    async def scenario() -> None:
        await two.create("photos")
        looked_at = two.cache.current()
        assert await two.exists("photos")
        heads = store.heads
        for _ in range(16):  # a write every 0.25 s for 4 s
            clock[0] += 0.25
            await kept_or_undone(two, "photos", looked_at, undo)
        assert undo.calls == 0
        # Asked at 1.25, 2.5 and 3.75 s: each time the last answer was over a second old.
        assert RECHECK_SECONDS == 1.0
        assert store.heads - heads == 3

    asyncio.run(scenario())
