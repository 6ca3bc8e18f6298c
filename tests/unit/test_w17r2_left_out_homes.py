"""A home the bucket look-up goes on without (its listing slower than LOOKUP_WAIT, or ended
unreachable) is left out only when the names it held when last listed rule the bucket out;
otherwise the look-up is 503 SlowDown (wave 17 R2, s3proxy.bucket_index).

Why: two tenants may each have a bucket of one name, and an anonymous or granted reader gets
the one public longest. Leaving out a home that may hold the name served the other tenant's
bucket under it while the first owner's home was only slow (tests/unit/test_w17r_slow_home.py,
end to end). Here the rule itself, on stand-in homes: a live one that holds ``pub``, and one
whose listing hangs or fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.bucket_cache import BucketCache, TenantCache
from s3proxy.bucket_index import BucketIndex
from s3proxy.errors import S3Error, S3ErrorCode

Listing = Callable[[], Coroutine[Any, Any, set[str] | None]]


class _Registry:
    """What the index reads of a tenant's bucket registry: its cache view and its names."""

    def __init__(self, name: str, listings: list[Listing]) -> None:
        self.tenant = SimpleNamespace(name=name)
        self.cache = TenantCache(BucketCache(), 0)
        self._listings = listings

    async def names(self, limit: int) -> set[str] | None:
        listing = self._listings.pop(0) if len(self._listings) > 1 else self._listings[0]
        return await listing()


def _home(name: str, *listings: Listing) -> Any:
    return SimpleNamespace(buckets=_Registry(name, list(listings)), tenant=SimpleNamespace(home=1))


def _answers(names: set[str]) -> Listing:
    async def listing() -> set[str] | None:
        return set(names)

    return listing


def _hangs(released: asyncio.Event) -> Listing:
    async def listing() -> set[str] | None:
        await released.wait()
        return set()

    return listing


async def _unreachable() -> set[str] | None:
    raise S3Error(S3ErrorCode.ServiceUnavailable)


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.05, raising=False)


def _run(scenario: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        released = asyncio.Event()
        try:
            await asyncio.wait_for(scenario(released), 10)
        finally:
            released.set()
            await asyncio.sleep(0)

    asyncio.run(main())


def _slow_down(error: pytest.ExceptionInfo[S3Error]) -> None:
    assert error.value.code is S3ErrorCode.SlowDown
    assert error.value.status == 503


def test_a_home_never_listed_that_hangs_is_slow_down_not_another_tenants_bucket() -> None:
    async def scenario(released: asyncio.Event) -> None:
        index = BucketIndex()
        live = _home("live", _answers({"pub"}))
        stuck = _home("stuck", _hangs(released))
        with pytest.raises(S3Error) as error:
            await index.candidates("pub", [live, stuck])
        _slow_down(error)
        with pytest.raises(S3Error) as again:  # while it hangs: at once, not after a wait
            await asyncio.wait_for(index.candidates("pub", [live, stuck]), 0.04)
        _slow_down(again)

    _run(scenario)


def test_a_hung_home_is_left_out_only_where_its_last_names_rule_the_bucket_out() -> None:
    async def scenario(released: asyncio.Event) -> None:
        index = BucketIndex()
        live = _home("live", _answers({"pub", "own"}))
        stuck = _home("stuck", _answers({"pub"}), _hangs(released))
        assert await index.candidates("own", [live, stuck]) == [live]
        stuck.buckets.cache.generation.bump()  # its names expire: listed again, and it hangs
        assert await index.candidates("own", [live, stuck]) == [live]
        with pytest.raises(S3Error) as error:  # it held "pub" when last listed
            await index.candidates("pub", [live, stuck])
        _slow_down(error)

    _run(scenario)


def test_an_unreachable_home_is_left_out_only_where_its_last_names_rule_the_bucket_out() -> None:
    async def scenario(released: asyncio.Event) -> None:
        index = BucketIndex()
        live = _home("live", _answers({"pub", "own"}))
        down = _home("down", _answers({"pub"}), _unreachable)
        assert await index.candidates("pub", [live, down]) == [live, down]
        down.buckets.cache.generation.bump()  # listed again: the upstream is down now
        with pytest.raises(S3Error) as error:
            await index.candidates("pub", [live, down])
        _slow_down(error)
        with pytest.raises(S3Error) as again:  # skipped a while, still not ruled out
            await index.candidates("pub", [live, down])
        _slow_down(again)
        assert await index.candidates("own", [live, down]) == [live]

    _run(scenario)
