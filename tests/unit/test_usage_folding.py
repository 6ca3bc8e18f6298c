"""Folding the quota usage records of exited processes (s3proxy.backends.usage_folding), over
the in-memory upstream of test_quotas_upstream made to honour conditional PUTs as SeaweedFS
does (only the quoted ETag in If-Match) or as Ceph RGW 16 does (only the bare one).

Time is a fake clock in s3proxy.backends.usage_records (the horizon is an hour); a live
process's heartbeat is its publish with ``beat=True``, as its timer would run it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from s3proxy.backends import usage_folding, usage_records
from s3proxy.backends.usage_records import UsageBook
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import PutObjectInput, PutObjectOutput, QuotaScope
from s3proxy.quotas import Root, Usage
from tests.unit.test_quotas_upstream import (
    BUCKET_ROOT,
    TENANT_ROOT,
    Upstream,
    _etag,
    at,
    process,
    write,
)

HORIZON = 3600.0
USAGE = "t/.usage/"
TENANT = QuotaScope("tenant", (TENANT_ROOT,), max_bytes=10**6)
DOCS = QuotaScope("bucket docs", (BUCKET_ROOT,), max_objects=1000)
BOTH = (TENANT_ROOT, BUCKET_ROOT)


class Clock:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Conditional(Upstream):
    """Honours If-None-Match: * and If-Match (one form of the ETag), and yields to other tasks
    at every request so that racing folders interleave."""

    def __init__(self, bare: bool = False) -> None:
        super().__init__()
        self.bare = bare

    async def get_object(self, *args: Any) -> Any:
        await asyncio.sleep(0)
        return await super().get_object(*args)

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        await asyncio.sleep(0)
        current = self.objects.get((request.bucket, request.key))
        wanted = request.conditions
        if wanted.if_none_match == "*" and current is not None:
            raise S3Error(S3ErrorCode.PreconditionFailed)
        if wanted.if_match is not None:
            etag = _etag(current) if current is not None else None
            form = etag.strip('"') if etag is not None and self.bare else etag
            if etag is None:
                raise S3Error(S3ErrorCode.NoSuchKey)
            if wanted.if_match != form:
                raise S3Error(S3ErrorCode.PreconditionFailed)
        return await super().put_object(request)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock()
    monkeypatch.setattr(usage_records, "time", found)
    usage_records.configure(0.0, HORIZON)
    return found


def records(upstream: Upstream) -> dict[str, dict[str, Any]]:
    return {
        key[len(USAGE) :]: json.loads(data)
        for (_, key), data in upstream.objects.items()
        if key.startswith(USAGE) and key[len(USAGE) :] != "baseline" and key[len(USAGE)] != "."
    }


async def exited(upstream: Upstream, sizes: list[int], key: str) -> None:
    """A process that wrote objects of ``sizes`` and stopped (its record published)."""
    gone = process(upstream)
    for n, size in enumerate(sizes):
        await gone.guarded(
            (TENANT, DOCS), at(f"{key}{n}"), size, write(upstream, f"{key}{n}", size)
        )
    await gone.close()


async def read(book: UsageBook, roots: tuple[Root, ...] = (TENANT_ROOT,)) -> Usage:
    """What ``book`` sees, once any fold its read started has finished."""
    total = await book.total(roots)
    folding = book._folding
    if folding is not None:
        await folding
    return total


@pytest.mark.parametrize("bare", [False, True], ids=["quoted-etag", "bare-etag"])
def test_folding_keeps_usage_and_removes_exited_records(clock: Clock, bare: bool) -> None:
    upstream = Conditional(bare)

    async def check() -> None:
        for name, sizes in {"a": [5, 7], "b": [11], "c": [3, 3, 3]}.items():
            await exited(upstream, sizes, name)
        folder = process(upstream)
        before = await read(folder, BOTH)
        assert before == Usage(12, 64)  # each object counted under both roots
        assert len(records(upstream)) == 3
        clock.now += HORIZON  # unchanged for the horizon: taken for exited, closed and folded
        assert await read(folder, BOTH) == before
        assert await read(folder, BOTH) == before  # the folded view, read back
        assert all(r.get("closed") for r in records(upstream).values())
        assert await read(process(upstream), BOTH) == before
        clock.now += HORIZON  # closed and folded for the horizon: removed
        assert await read(folder, BOTH) == before
        assert records(upstream) == {}
        baseline = json.loads(upstream.objects[("homes", f"{USAGE}baseline")])
        assert "folded" not in baseline
        assert await read(process(upstream), BOTH) == before
        # A write after it all is counted once, by every process.
        writer = process(upstream)
        await writer.guarded((TENANT,), at("z"), 9, write(upstream, "z", 9))
        await writer.close()
        assert await read(folder, BOTH) == Usage(13, 73)
        assert await read(process(upstream), BOTH) == Usage(13, 73)

    asyncio.run(check())


def test_a_live_process_that_beats_is_never_folded(clock: Clock) -> None:
    upstream = Conditional()

    async def check() -> None:
        await exited(upstream, [4], "dead")
        live = process(upstream)
        await live.guarded((TENANT,), at("live"), 6, write(upstream, "live", 6))
        await live._publish()
        name = live._name
        folder = process(upstream)
        assert await read(folder) == Usage(2, 10)
        for _ in range(7):  # more than a horizon, the live process beating each sixth of it
            clock.now += HORIZON / 6
            await live._publish(beat=True)
            assert await read(folder) == Usage(2, 10)
        state = records(upstream)
        assert not state[name].get("closed")
        assert [n for n, r in state.items() if r.get("closed")] != []  # the dead one was
        await live.guarded((TENANT,), at("more"), 1, write(upstream, "more", 1))
        await live._publish()
        assert live._name == name  # its writes were never refused
        assert await read(folder) == Usage(3, 11)

    asyncio.run(check())


def test_a_process_taken_for_gone_keeps_counting_under_a_new_name(clock: Clock) -> None:
    """A paused process whose record was closed: its next write learns it, and it goes on
    under a new record with what it counted beyond the folded figures."""
    upstream = Conditional()

    async def check() -> None:
        paused = process(upstream)
        await paused.guarded((TENANT,), at("p"), 10, write(upstream, "p", 10))
        await paused._publish()
        old = paused._name
        folder = process(upstream)
        assert await read(folder) == Usage(1, 10)
        clock.now += HORIZON
        assert await read(folder) == Usage(1, 10)
        assert records(upstream)[old].get("closed")
        await paused.guarded((TENANT,), at("q"), 5, write(upstream, "q", 5))
        await paused._publish()
        assert paused._name != old
        assert records(upstream)[paused._name]["roots"][0]["usage"] == [1, 5]
        for book in (folder, paused, process(upstream)):
            assert await read(book) == Usage(2, 15)

    asyncio.run(check())


def test_a_write_between_the_read_and_the_close_keeps_the_record(clock: Clock) -> None:
    upstream = Conditional()

    async def check() -> None:
        slow = process(upstream)
        await slow.guarded((TENANT,), at("s"), 8, write(upstream, "s", 8))
        await slow._publish()
        folder = process(upstream)
        assert await read(folder) == Usage(1, 8)
        clock.now += HORIZON
        # The process writes after the folder judged it stale, before the folder closes it.
        await slow.guarded((TENANT,), at("t"), 2, write(upstream, "t", 2))
        await slow._publish()
        await folder.fold()
        assert not records(upstream)[slow._name].get("closed")
        assert await read(folder) == Usage(2, 10)

    asyncio.run(check())


def test_two_folders_racing_fold_each_record_once(clock: Clock) -> None:
    upstream = Conditional()

    async def check() -> None:
        for name, sizes in {"a": [5], "b": [7, 1], "c": [2]}.items():
            await exited(upstream, sizes, name)
        one, two = process(upstream), process(upstream)
        before = await read(one, BOTH)
        assert await read(two, BOTH) == before == Usage(8, 30)
        clock.now += HORIZON
        await asyncio.gather(one.total([TENANT_ROOT]), two.total([TENANT_ROOT]))
        await asyncio.gather(*(t for t in (one._folding, two._folding) if t is not None))
        baseline = json.loads(upstream.objects[("homes", f"{USAGE}baseline")])
        assert sorted(baseline["folded"]) == sorted(records(upstream))
        for book in (one, two, process(upstream)):
            assert await read(book, BOTH) == before
        clock.now += HORIZON
        await asyncio.gather(one.total([TENANT_ROOT]), two.total([TENANT_ROOT]))
        await asyncio.gather(*(t for t in (one._folding, two._folding) if t is not None))
        assert records(upstream) == {}
        for book in (one, two, process(upstream)):
            assert await read(book, BOTH) == before

    asyncio.run(check())


def test_an_upstream_that_ignores_conditions_folds_nothing(clock: Clock) -> None:
    upstream = Upstream()  # writes whatever the conditions say

    async def check() -> None:
        await exited(upstream, [5, 6], "a")
        folder = process(upstream)
        before = await read(folder)
        clock.now += 3 * HORIZON
        assert await read(folder) == before
        assert [r.get("closed") for r in records(upstream).values()] == [None]
        assert folder._conditional is False

    asyncio.run(check())


class Refusing(Upstream):
    """Answers 501 NotImplemented to any conditional PUT (an upstream without them)."""

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        wanted = request.conditions
        if wanted.if_match is not None or wanted.if_none_match is not None:
            raise S3Error(S3ErrorCode.NotImplemented)
        return await super().put_object(request)


def test_an_upstream_that_refuses_conditions_still_counts_and_folds_nothing(
    clock: Clock,
) -> None:
    upstream = Refusing()

    async def check() -> None:
        await exited(upstream, [5, 6], "a")  # its record is published all the same
        folder = process(upstream)
        before = await read(folder)
        assert before.bytes == 11
        clock.now += 3 * HORIZON
        assert await read(folder) == before
        assert [r.get("closed") for r in records(upstream).values()] == [None]
        assert folder._conditional is False

    asyncio.run(check())


def test_a_record_with_an_offset_folds_only_what_it_added_after_it(clock: Clock) -> None:
    """The baseline was retaken (deleted by hand) after the process published: its record's
    figures are the baseline's offset for it, and folding adds only what lies beyond."""
    upstream = Conditional()

    async def check() -> None:
        await exited(upstream, [5, 2], "a")
        del upstream.objects[("homes", f"{USAGE}baseline")]
        folder = process(upstream)
        assert await read(folder) == Usage(2, 7)
        clock.now += HORIZON
        assert await read(folder) == Usage(2, 7)
        assert await read(folder) == Usage(2, 7)
        assert await read(process(upstream)) == Usage(2, 7)

    asyncio.run(check())


def test_a_record_closed_but_not_folded_is_folded_once_by_racing_folders(clock: Clock) -> None:
    """A folder stopped between closing a record and folding it: the next folders finish it,
    once between them."""
    upstream = Conditional()

    async def check() -> None:
        await exited(upstream, [5], "a")
        await exited(upstream, [3], "b")
        (name, _), *_ = records(upstream).items()
        one, two = process(upstream), process(upstream)
        assert await read(one) == await read(two) == Usage(2, 8)
        found = await one._place.get(name)
        assert found is not None
        assert await usage_folding.close(one._place, name, found[1], found[0])
        assert await read(one) == await read(two) == Usage(2, 8)  # a closed record counts
        clock.now += HORIZON
        await asyncio.gather(one.total([TENANT_ROOT]), two.total([TENANT_ROOT]))
        await asyncio.gather(*(t for t in (one._folding, two._folding) if t is not None))
        for book in (one, two, process(upstream)):
            assert await read(book) == Usage(2, 8)

    asyncio.run(check())
