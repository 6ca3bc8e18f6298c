"""Quotas across processes (wave 12 L): each process takes at most its share of a quota's room
before it exchanges records, so processes that have not yet seen each other's writes cannot
each let in the whole room (two workers stored 60 MB under a 30 MB quota)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import pytest

from s3proxy.backends import usage_records
from s3proxy.backends.usage_records import UsageBook
from s3proxy.backends.usage_share import past_share
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import PutObjectOutput, QuotaScope
from s3proxy.quotas import Usage
from tests.unit.test_quotas_upstream import TENANT_ROOT, Upstream, at, process

LIMIT = QuotaScope("tenant", (TENANT_ROOT,), max_bytes=100)
OBJECTS = QuotaScope("tenant", (TENANT_ROOT,), max_objects=10)


@pytest.fixture(autouse=True)
def two_workers() -> Iterator[None]:
    """Two workers; records published and re-read only by exchanges (the interval is an hour,
    so the timers never fire within a test)."""
    usage_records.configure(3600.0, workers=2)
    yield
    usage_records.configure(5.0)
    usage_records._books.clear()


def stored(upstream: Upstream) -> int:
    return sum(len(v) for (_, k), v in upstream.objects.items() if k.startswith("t/docs/"))


async def fill(book: UsageBook, upstream: Upstream, name: str, count: int, size: int) -> int:
    """Write ``count`` objects of ``size`` bytes at once through ``book``; how many passed."""

    async def one(i: int) -> bool:
        key = f"{name}{i}"

        async def put() -> PutObjectOutput:
            for _ in range(3):  # a write in flight for a few turns of the loop
                await asyncio.sleep(0)
            upstream.put(at(key).key, b"x" * size)
            return PutObjectOutput('"e"')

        try:
            await book.guarded((LIMIT,), at(key), size, put)
        except S3Error as error:
            assert error.code is S3ErrorCode.QuotaExceeded
            return False
        return True

    return sum(await asyncio.gather(*(one(i) for i in range(count))))


def test_a_share_is_a_fraction_of_the_room_the_others_left() -> None:
    scope = QuotaScope("s", (TENANT_ROOT,), max_bytes=100)
    # Room 100 among 2: a share is 100 / (2 x 2) = 25. 20 unpublished + 5 fits; + 10 passes.
    assert not past_share(scope, Usage(2, 20), Usage(2, 20), Usage(1, 5), 2)
    assert past_share(scope, Usage(2, 20), Usage(2, 20), Usage(1, 10), 2)
    # Others' published 60: room 40, share 10.
    assert past_share(scope, Usage(1, 70), Usage(1, 10), Usage(0, 5), 2)
    assert not past_share(scope, Usage(1, 65), Usage(1, 5), Usage(0, 5), 2)
    # Past the room altogether: the quota check refuses, no exchange needed.
    assert not past_share(scope, Usage(1, 90), Usage(0, 0), Usage(1, 20), 2)
    # Not growing, or far from the limit, or one process: never past.
    assert not past_share(scope, Usage(9, 99), Usage(9, 99), Usage(0, -5), 2)
    assert not past_share(scope, Usage(), Usage(), Usage(1, 25), 2)
    assert not past_share(scope, Usage(), Usage(), Usage(1, 50), 1)
    # Objects have their share too: 10 objects among 2, a share of 2.5.
    objects = QuotaScope("s", (TENANT_ROOT,), max_objects=10)
    assert not past_share(objects, Usage(2, 0), Usage(2, 0), Usage(0, 9), 2)
    assert past_share(objects, Usage(2, 0), Usage(2, 0), Usage(1, 0), 2)


def test_a_process_with_a_stale_view_lets_in_one_share_at_most() -> None:
    upstream = Upstream()

    async def check() -> None:
        one, two = process(upstream), process(upstream)
        assert await fill(one, upstream, "a", 1, 10) == 1  # both have read the records once
        assert await fill(two, upstream, "b", 1, 10) == 1
        for _ in range(15):
            await fill(one, upstream, "c" + str(_), 1, 10)
        for _ in range(15):
            await fill(two, upstream, "d" + str(_), 1, 10)
        # Before: each let in the whole room it saw, 190 bytes stored under a 100-byte quota.
        # Now two's stale view lets in one share (100 / 4) before its exchange shows one's.
        assert 100 <= stored(upstream) <= 125

    asyncio.run(check())


def test_two_processes_writing_at_once_stay_near_the_limit() -> None:
    upstream = Upstream()

    async def check() -> None:
        one, two = process(upstream), process(upstream)
        await asyncio.gather(fill(one, upstream, "a", 30, 5), fill(two, upstream, "b", 30, 5))
        # Before: 200 (each process let in its own view's 100). Now at most the other's
        # share (100 / 4) beyond the limit.
        assert 100 <= stored(upstream) <= 125

    asyncio.run(check())


def test_one_write_larger_than_a_share_still_fits_the_room() -> None:
    upstream = Upstream()

    async def check() -> None:
        one = process(upstream)
        assert await fill(one, upstream, "big", 1, 90) == 1
        assert stored(upstream) == 90

    asyncio.run(check())


def test_objects_are_shared_out_too() -> None:
    upstream = Upstream()

    async def check() -> None:
        one, two = process(upstream), process(upstream)
        for book, name in ((one, "a"), (two, "b")):
            for i in range(12):
                with contextlib.suppress(S3Error):
                    await book.guarded((OBJECTS,), at(f"{name}{i}"), 0, _put(upstream, name, i))
        assert len([k for _, k in upstream.objects if k.startswith("t/docs/")]) <= 11

    asyncio.run(check())


def _put(upstream: Upstream, name: str, i: int) -> Callable[[], Awaitable[PutObjectOutput]]:
    async def put() -> PutObjectOutput:
        upstream.put(at(f"{name}{i}").key, b"")
        return PutObjectOutput('"e"')

    return put


def test_a_tenant_far_from_its_quota_pays_no_extra_request() -> None:
    upstream = Upstream()
    roomy = QuotaScope("tenant", (TENANT_ROOT,), max_bytes=10**9)

    async def check() -> None:
        one = process(upstream)
        for i in range(20):
            key = f"k{i}"

            async def put(key: str = key) -> PutObjectOutput:
                upstream.put(at(key).key, b"x" * 1000)
                return PutObjectOutput('"e"')

            await one.guarded((roomy,), at(key), 1000, put)
        records = [r for r in upstream.requests if ".usage/" in r]
        # One read of the records (LIST + baseline GET) and the one baseline write: no exchange.
        assert not any(r.startswith("PUT t/.usage/") and "baseline" not in r for r in records)
        assert sum(r.startswith("LIST t/.usage/") for r in records) == 1

    asyncio.run(check())


def test_a_write_in_flight_holds_back_the_next_one_at_most_the_sync_interval() -> None:
    upstream = Upstream()

    async def check() -> None:
        usage_records.configure(0.05, workers=2)  # patience: one quota_sync_seconds
        one = process(upstream)
        gate = asyncio.Event()

        async def slow() -> PutObjectOutput:
            await gate.wait()  # a slow upload: ends only when the test says so
            return PutObjectOutput('"e"')

        first = asyncio.create_task(one.guarded((LIMIT,), at("slow"), 20, slow))
        while not one._held:
            await asyncio.sleep(0)
        # 20 in flight, a share is 25: another 10 waits for the slow one, then goes ahead.
        await asyncio.wait_for(one.guarded((LIMIT,), at("next"), 10, _now), 5)
        assert not first.done()
        gate.set()
        await first
        assert await one.total([TENANT_ROOT]) == Usage(2, 30)

    asyncio.run(check())


async def _now() -> PutObjectOutput:
    return PutObjectOutput('"e"')
