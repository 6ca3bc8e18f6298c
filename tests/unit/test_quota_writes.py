"""Quota writes of one key: one at a time (KeyLocks), counted when stored but unanswered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.backends.quota_writes import KeyLocks, landed
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import ObjectAttributes, ObjectInfo
from s3proxy.quotas import Usage


def test_holders_of_one_key_run_one_at_a_time_and_leave_nothing() -> None:
    locks: KeyLocks[str] = KeyLocks()
    inside: list[int] = []
    most = 0

    async def writer(n: int) -> None:
        nonlocal most
        async with locks.hold(["k"]):
            inside.append(n)
            most = max(most, len(inside))
            await asyncio.sleep(0)
            inside.remove(n)

    async def go() -> None:
        await asyncio.gather(*(writer(n) for n in range(20)))

    asyncio.run(go())
    assert most == 1
    assert len(locks) == 0


def test_overlapping_sets_in_any_order_do_not_deadlock() -> None:
    locks: KeyLocks[str] = KeyLocks()
    done: list[str] = []

    async def hold(keys: list[str], name: str) -> None:
        async with locks.hold(keys):
            await asyncio.sleep(0)
            done.append(name)

    async def go() -> None:
        runs = [hold(["a", "b", "a"], "ab"), hold(["b", "a"], "ba"), hold(["b"], "b")]
        await asyncio.wait_for(asyncio.gather(*runs), 5)

    asyncio.run(go())
    assert sorted(done) == ["ab", "b", "ba"]
    assert len(locks) == 0


def test_other_keys_do_not_wait() -> None:
    locks: KeyLocks[str] = KeyLocks()

    async def go() -> None:
        async with locks.hold(["a"]):
            async with asyncio.timeout(1):
                async with locks.hold(["b"]):
                    pass

    asyncio.run(go())


def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    locks: KeyLocks[str] = KeyLocks()

    async def go() -> None:
        async with locks.hold(["k"]):
            waiter = asyncio.create_task(locks.hold(["k"]).__aenter__())
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        assert len(locks) == 0

    asyncio.run(go())


class Upstream:
    """head_object answering an object of ``size`` bytes (None: no object; an S3Error: that)."""

    def __init__(self, size: int | S3Error | None) -> None:
        self.size = size
        self.heads = 0

    async def head_object(self, *args: Any, **kwargs: Any) -> ObjectInfo:
        self.heads += 1
        if isinstance(self.size, S3Error):
            raise self.size
        if self.size is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return ObjectInfo(self.size, '"e"', "t", ObjectAttributes({}))


@pytest.mark.parametrize(
    ("there", "error", "counted"),
    [
        (100, S3ErrorCode.ServiceUnavailable, Usage(1, 100)),  # stored, answer lost
        (None, S3ErrorCode.ServiceUnavailable, Usage()),  # not stored
        (7, S3ErrorCode.InternalError, Usage()),  # another object there
        (S3Error(S3ErrorCode.ServiceUnavailable), S3ErrorCode.InternalError, Usage()),
        (100, S3ErrorCode.PreconditionFailed, Usage()),  # a refusal: not even asked
    ],
)
def test_a_failed_write_is_counted_only_when_stored_all_the_same(
    there: int | S3Error | None, error: S3ErrorCode, counted: Usage
) -> None:
    upstream = Upstream(there)
    location = UpstreamLocation("main", "ub", "k")
    found = asyncio.run(landed(upstream, location, 100, S3Error(error), Usage(1, 100)))  # type: ignore[arg-type]
    assert found == counted
    assert upstream.heads == (0 if error is S3ErrorCode.PreconditionFailed else 1)
