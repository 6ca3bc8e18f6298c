"""A home left out of a bucket look-up by its last names bounds what the claim may serve
(wave 17 R5; s3proxy.bucket_index, s3proxy.name_claims).

A slow or unreachable home is left out when the names it held when last listed do not include
the bucket; a bucket it created since is not in them. Such a bucket was granted only after that
listing, so the look-up carries the wall-clock time the listing was sent, and the claim serves
a grant only if it is older than that time less CLOCK_MARGIN, else 503 SlowDown. Before, the
look-up served whatever the other homes held: another tenant's bucket under a name the late
home's tenant had public longer (tests/unit/test_w17r4_stale_names.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy import name_claims
from s3proxy.acl import PUBLIC
from s3proxy.anonymous import PUBLIC_OBJECT
from s3proxy.backends.bucket_cache import BucketCache, TenantCache
from s3proxy.backends.bucket_settings import BucketSettings
from s3proxy.bucket_index import BucketIndex, Found
from s3proxy.errors import S3Error, S3ErrorCode

LISTED = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
"""When the left-out home's last names were listed (as the look-up carries it)."""


class _Registry:
    def __init__(self, name: str, listings: list[Callable[[], Coroutine[Any, Any, set[str]]]]):
        self.tenant = SimpleNamespace(name=name)
        self.cache = TenantCache(BucketCache(), 0)
        self._listings = listings

    async def names(self, limit: int) -> set[str] | None:
        listing = self._listings.pop(0) if len(self._listings) > 1 else self._listings[0]
        return await listing()


def test_a_home_left_out_by_its_names_carries_when_they_were_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("s3proxy.bucket_index.LOOKUP_WAIT", 0.05)
    seen: list[float] = []

    async def main() -> None:
        released = asyncio.Event()

        async def answers() -> set[str]:
            seen.append(time.time())  # the listing is under way: it was sent before this
            return {"other"}

        async def hangs() -> set[str]:
            await released.wait()
            return set()

        live = SimpleNamespace(buckets=_Registry("live", [answers]), tenant=SimpleNamespace(home=1))
        stuck = SimpleNamespace(
            buckets=_Registry("stuck", [answers, hangs]), tenant=SimpleNamespace(home=1)
        )
        index = BucketIndex()
        before = time.time()
        first = await index.candidates("pub", [live, stuck])
        assert first == [] and first.listed_before is None  # both answered: nothing left out
        stuck.buckets.cache.generation.bump()  # listed again: it hangs now
        try:
            found = await index.candidates("pub", [live, stuck])
        finally:
            released.set()
        assert found == []
        assert found.listed_before is not None
        assert before <= found.listed_before <= seen[1]  # the stuck home's first listing

    asyncio.run(main())


def _public(since: datetime) -> BucketSettings:
    stamp = since.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return BucketSettings(acl="public-read", created=stamp, public_since=stamp)


def _storage(name: str, settings: BucketSettings) -> Any:
    async def get(bucket: str) -> BucketSettings:
        return settings

    return SimpleNamespace(
        tenant=SimpleNamespace(name=name, buckets=(), home=1),
        buckets=SimpleNamespace(settings=SimpleNamespace(get=get)),
    )


def _look_up(
    monkeypatch: pytest.MonkeyPatch, holders: list[Any], listed: datetime | None
) -> Callable[[str], Coroutine[Any, Any, list[Any]]]:
    """name_claims.holders over an index that answers ``holders``, having left a home out by
    names listed at ``listed`` (None: none left out)."""

    class _Index:
        async def candidates(self, bucket: str, storages: Any) -> Found:
            found = Found(holders)
            found.listed_before = None if listed is None else listed.timestamp()
            return found

    async def has_bucket(storage: Any, bucket: str) -> bool:
        return True

    monkeypatch.setattr(name_claims, "INDEX", _Index())
    monkeypatch.setattr(name_claims, "has_bucket", has_bucket)

    async def look_up(bucket: str) -> list[Any]:
        return await name_claims.holders(bucket, holders)

    return look_up


@pytest.mark.parametrize(
    ("public", "served"),
    [
        (LISTED - timedelta(hours=1), True),  # public long before: no bucket created since wins
        (LISTED - name_claims.CLOCK_MARGIN, False),  # within the margin: not known to be older
        (LISTED + timedelta(seconds=1), False),  # public since: the left-out one may be older
    ],
)
def test_a_grant_is_served_only_if_older_than_the_left_out_homes_listing(
    monkeypatch: pytest.MonkeyPatch, public: datetime, served: bool
) -> None:
    later = _storage("later", _public(public))
    look_up = _look_up(monkeypatch, [later], LISTED)

    async def main() -> None:
        found = await look_up("pub")
        assert found == [later]  # one holder: its time is read all the same
        if served:
            granted = await name_claims.claim("pub", "k", found, PUBLIC, PUBLIC_OBJECT)
            assert granted is not None and granted.storage is later
        else:
            with pytest.raises(S3Error) as error:
                await name_claims.claim("pub", "k", found, PUBLIC, PUBLIC_OBJECT)
            assert error.value.code is S3ErrorCode.SlowDown and error.value.status == 503
            # A caller that passes on its one holder in a list of its own keeps the bound.
            with pytest.raises(S3Error):
                await name_claims.claim("pub", "k", [later], PUBLIC, PUBLIC_OBJECT)

    asyncio.run(main())


def test_no_home_left_out_serves_as_before_and_the_bound_is_per_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = _storage("later", _public(LISTED + timedelta(seconds=1)))

    async def main() -> None:
        found = await _look_up(monkeypatch, [later], None)("pub")
        granted = await name_claims.claim("pub", None, found, PUBLIC, PUBLIC_OBJECT)
        assert granted is not None and granted.storage is later
        await _look_up(monkeypatch, [later], LISTED)("pub")
        # A look-up of another name left nothing out for this one.
        await _look_up(monkeypatch, [later], None)("other")
        granted = await name_claims.claim("other", None, [later], PUBLIC, PUBLIC_OBJECT)
        assert granted is not None

    asyncio.run(main())


@pytest.mark.parametrize("acl", ["public-read", None])
def test_a_preflight_of_one_holder_is_checked_against_a_left_out_home(
    monkeypatch: pytest.MonkeyPatch, acl: str | None
) -> None:
    """A CORS preflight that finds one holder used its rules without a claim: the later
    tenant's rules answered for a name the late home's tenant had public longer."""
    from s3proxy.cors_requests import _claimed

    settings = _public(LISTED + timedelta(seconds=1))
    if acl is None:
        settings = BucketSettings(created=settings.created)
    later = _storage("later", settings)
    _look_up(monkeypatch, [later], LISTED)
    request = SimpleNamespace(key="k")

    async def main() -> None:
        if acl is None:  # private: it claims nothing, its own rules as before
            assert await _claimed(request, "pub", {"later": later}) is later  # type: ignore[arg-type]
            return
        with pytest.raises(S3Error) as error:
            await _claimed(request, "pub", {"later": later})  # type: ignore[arg-type]
        assert error.value.code is S3ErrorCode.SlowDown

    asyncio.run(main())
