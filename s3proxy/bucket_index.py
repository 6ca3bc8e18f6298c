"""Which tenants' homes may hold a bucket name: each home's bucket markers listed once per
cache lifetime, instead of one upstream HEAD per home for every name asked.

Why: a read signed by a tenant for a bucket name it does not have (:mod:`s3proxy.granted_reads`),
an unsigned request (:mod:`s3proxy.anonymous`) and a CORS preflight without a key find the
bucket's tenant by asking the tenants' homes whether they have the name
(:func:`s3proxy.name_claims.holders`). Asked with one HEAD per home and name, a made-up name
cost one upstream request per tenant (21 with 20 tenants, 1,000 with 1,000), and names that
change with every request defeat any cache of absences. So each process keeps, per tenant, the
names its home's ``.buckets/`` markers say it has created (one listing page per 1,000 buckets):
a name outside a tenant's set is not that tenant's, and asking costs no request at all.

When a set is trusted: as a cached "bucket exists" is (:mod:`s3proxy.backends.bucket_cache`),
for ``server.bucket_cache_seconds`` and only while the tenant's generation is unchanged, so a
bucket created or deleted through any worker of this server is seen at once (its tenant's home
is listed again at the next look-up); a bucket created through another replica is found within
the lifetime. A name inside a set is still confirmed by its existence check (a deleted bucket is
never served from here). With the cache off (lifetime 0) every home is asked with a HEAD as
before, and nothing is remembered; a home whose listing failed is asked with a HEAD per name
until it is listed again, one lifetime later.

Bounded: the sets hold the names tenants have created, never names asked for; a home with more
than :data:`MAX_NAMES` markers is not kept (asked with a HEAD per name). Homes are listed
:data:`PARALLEL` at a time, and look-ups running at once share one listing per home.

A home that does not answer is not waited for (since wave 17): a look-up waits for a home's
listing at most :data:`LOOKUP_WAIT`, then goes on without that home while its listing runs on,
and skips a home whose listing ended unreachable for one lifetime. Before, one tenant's home on
an upstream that hung stalled every look-up of every other tenant's bucket for its read timeout
twice (the listing, then a HEAD per name: 10 minutes with the defaults), so no anonymous reader,
CORS preflight or granted read of any tenant's bucket was answered while one upstream hung.

A home is left out only when the names it held when last listed (kept past their lifetime for
this) do not include the bucket. When they do, or were never known (a restart, a reload, more
than :data:`MAX_NAMES`), the look-up is answered 503 SlowDown, S3's "try again": two tenants
may both have a bucket of one name, and the reader's is the one public longest
(:mod:`s3proxy.name_claims`), so going on without a home that may hold it served another
tenant's bucket under that name while the first owner's home was merely slow (wave 17 R).
A name whose marker was empty at that listing is ruled out all the same: the bucket had no
settings, so it granted nothing then, and a grant it got since began after the listing, as
for a bucket created since (below). Answering 503 for it told anyone who asked, anonymous or
another tenant, that the slow home's tenant has a private bucket of that name, where every
other answer hides it (wave 18 C); a bucket with settings may grant, so it still answers 503.
A home whose existence check of the bucket fails is left out by the same rule
(:meth:`BucketIndex.left_out`, from :func:`s3proxy.name_claims.holders`): its error was the
look-up's answer, so one tenant's home whose upstream refused the gateway failed every
tenant's anonymous and granted reads (wave 18 C).

Last names say nothing of a bucket created after that listing, so a look-up that left a home
out by them carries the wall-clock time taken just before the listing was sent
(:attr:`Found.listed_before`, the earliest of the homes left out): such a bucket was created,
so made public or granted, only after it, and the claim (:func:`s3proxy.name_claims.claim`)
serves a grant only if it is older than that time (less a clock margin), else 503 SlowDown.
Ruling homes out by the names alone served a bucket the late home created since to another
tenant's public one of the same name (wave 17 R4).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3proxy.backends.buckets import MarkerNames
from s3proxy.errors import S3Error, S3ErrorCode

if TYPE_CHECKING:
    from s3proxy.backends.buckets import BucketRegistry
    from s3proxy.backends.mapped import MappedStorage

log = logging.getLogger("s3proxy")

MAX_NAMES = 10_000
"""A home with more created buckets than this is asked with a HEAD per name instead."""
PARALLEL = 16
"""Homes listed at once while the index is filled."""
LOOKUP_WAIT = 2.0
"""Seconds a look-up waits for a home's listing (a home's ``.buckets/``, one page per 1,000
buckets, answers in milliseconds); a home slower than that is left to list on its own."""


class Found(list["MappedStorage"]):
    """The homes a look-up found may hold the name, and whether it left any out by last names."""

    listed_before: float | None = None
    """None: no home was left out. Else the wall-clock time (``time.time()``) taken just before
    the earliest listing whose names ruled a left-out home out: a bucket that home created
    since cannot have been granted before it."""


@dataclass(frozen=True)
class _Last:
    names: frozenset[str] | None
    """None: too many to keep (:data:`MAX_NAMES`)."""
    listed_before: float
    """Wall-clock time taken just before the listing was sent."""
    empty: frozenset[str] = frozenset()
    """Those of ``names`` whose marker was empty: buckets that granted nothing then."""


@dataclass(frozen=True)
class _Names:
    names: frozenset[str] | None
    """None: too many to keep (:data:`MAX_NAMES`), or the listing failed."""
    cached: tuple[float, int]
    """The bucket cache's entry (expiry, the tenant's generation read before listing)."""


class BucketIndex:
    """Per process: the bucket names each tenant's home held when last listed."""

    def __init__(self) -> None:
        self._sets: weakref.WeakKeyDictionary[BucketRegistry, _Names] = weakref.WeakKeyDictionary()
        """Keyed by the tenant's registry: a configuration reload's new registries start empty."""
        self._loads: weakref.WeakKeyDictionary[BucketRegistry, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )
        """Each home's latest listing, shared by the look-ups that run while it does."""
        self._started: weakref.WeakKeyDictionary[BucketRegistry, float] = (
            weakref.WeakKeyDictionary()
        )
        """When (monotonic) each home's latest listing began."""
        self._unreachable: weakref.WeakKeyDictionary[BucketRegistry, float] = (
            weakref.WeakKeyDictionary()
        )
        """Homes whose listing ended unreachable, and until when (monotonic) they are skipped."""
        self._known: weakref.WeakKeyDictionary[BucketRegistry, _Last] = weakref.WeakKeyDictionary()
        """Each home's names as its last listing that ended found them, and when it was sent,
        kept past their lifetime and through failed listings: what rules a late home out."""
        self._running: set[asyncio.Task[None]] = set()
        """Listings no look-up waits for any more, kept until they end."""

    def _trusted(self, storage: MappedStorage) -> _Names | None:
        registry = storage.buckets
        names = self._sets.get(registry)
        if names is not None and registry.cache.trusted(names.cached):
            return names
        return None

    def to_list(self, storages: Sequence[MappedStorage]) -> int:
        """How many of ``storages`` a look-up now would ask upstream (list or, with the cache
        off, HEAD): a caller holds an expensive-operation slot when that is two or more."""
        homes = [s for s in storages if s.tenant.home is not None]
        if any(s.buckets.cache.lifetime <= 0 for s in homes):
            return len(homes)
        return sum(1 for s in homes if self._trusted(s) is None)

    async def candidates(self, bucket: str, storages: Sequence[MappedStorage]) -> Found:
        """Those of ``storages`` (tenants with a home) that may have created ``bucket``: every
        one whose names are not known, and those whose names include it; never a home that
        does not answer, and then 503 SlowDown unless its last names rule ``bucket`` out, and
        when they do, the time they were listed (:attr:`Found.listed_before`, module
        docstring)."""
        before = self._check_left_out(bucket, [s for s in storages if self._skipped(s.buckets)])
        asked = [s for s in storages if not self._skipped(s.buckets)]
        stale = [s for s in asked if s.buckets.cache.lifetime > 0 and self._trusted(s) is None]
        late: set[BucketRegistry] = set()
        for start in range(0, len(stale), PARALLEL):
            batch = {s.buckets: self._listing(s) for s in stale[start : start + PARALLEL]}
            until = max(self._started[registry] for registry in batch) + LOOKUP_WAIT
            await asyncio.wait(batch.values(), timeout=max(0.0, until - time.monotonic()))
            for registry, listing in batch.items():
                if listing.done():
                    listing.result()  # an unexpected error is the look-up's, as before
                else:
                    late.add(registry)
        left_out = [s for s in asked if s.buckets in late or self._skipped(s.buckets)]
        later = self._check_left_out(bucket, left_out)
        found = Found()
        for storage in asked:
            if storage in left_out:
                continue
            names = self._trusted(storage)
            if names is None or names.names is None or bucket in names.names:
                found.append(storage)
        times = [t for t in (before, later) if t is not None]
        found.listed_before = min(times) if times else None
        return found

    def left_out(self, bucket: str, storage: MappedStorage) -> float:
        """Leave out ``storage``'s home, whose existence check of ``bucket`` failed: the time
        its last names were listed, when they rule ``bucket`` out; else 503 SlowDown
        (:meth:`_check_left_out`)."""
        since = self._check_left_out(bucket, [storage])
        assert since is not None  # one home left out: raised, or its listing's time
        return since

    def held_when_listed(self, bucket: str, storage: MappedStorage) -> bool:
        """Whether ``storage``'s home held ``bucket`` at its last listing that ended. A home
        left out by names in which its marker was empty had the bucket before that listing,
        so it may hold the first bucket of the name (:func:`s3proxy.name_claims.first_created`)."""
        last = self._known.get(storage.buckets)
        return last is not None and last.names is not None and bucket in last.names

    def _check_left_out(self, bucket: str, left_out: Sequence[MappedStorage]) -> float | None:
        """Raise 503 SlowDown unless every home in ``left_out`` (not answering) is known not
        to hold ``bucket`` by the names it held when last listed: without a home that may
        hold it, the name could resolve to another tenant's bucket. Else the earliest time
        those names were listed (None: nothing left out): the claim must predate it."""
        earliest: float | None = None
        for storage in left_out:
            last = self._known.get(storage.buckets)
            # A bucket whose marker was empty granted nothing at that listing: ruled out as an
            # absent one is (module docstring), else its 503 told anyone it exists (wave 18 C).
            if (
                last is None
                or last.names is None
                or (bucket in last.names and bucket not in last.empty)
            ):
                raise S3Error(
                    S3ErrorCode.SlowDown,
                    "A bucket store is slow to answer; please try again.",
                )
            if earliest is None or last.listed_before < earliest:
                earliest = last.listed_before
        return earliest

    def _skipped(self, registry: BucketRegistry) -> bool:
        """Whether a look-up goes on without ``registry``'s home: its listing has run past
        :data:`LOOKUP_WAIT`, or ended unreachable less than a lifetime ago."""
        now = time.monotonic()
        running = self._loads.get(registry)
        if running is not None and not running.done():
            return now - self._started.get(registry, now) >= LOOKUP_WAIT
        return now < self._unreachable.get(registry, 0.0)

    def _listing(self, storage: MappedStorage) -> asyncio.Task[None]:
        """The home's listing: the one running, or a new one (left running, whoever waits)."""
        registry = storage.buckets
        running = self._loads.get(registry)
        if running is not None and not running.done():
            return running
        task = asyncio.get_running_loop().create_task(self._load(storage))
        self._loads[registry] = task
        self._started[registry] = time.monotonic()
        self._running.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:  # retrieved: logged once
            log.warning("bucket names not listed: %r", task.exception())

    async def _load(self, storage: MappedStorage) -> None:
        registry = storage.buckets
        generation = registry.cache.generation.current()  # before: a change meanwhile wins
        kept: frozenset[str] | None = None
        sent = time.time()  # wall clock: compared with the settings records' grant times
        try:
            names = await registry.names(MAX_NAMES)
        except S3Error as error:  # asked with HEADs instead, until listed again
            log.warning("bucket names of tenant %s not listed: %s", registry.tenant.name, error)
            if error.code is S3ErrorCode.ServiceUnavailable:  # unreachable: skipped a while
                skip = max(registry.cache.lifetime, LOOKUP_WAIT)
                self._unreachable[registry] = time.monotonic() + skip
        else:
            self._unreachable.pop(registry, None)
            kept = frozenset(names) if names is not None else None
            empty = names.empty if isinstance(names, MarkerNames) else frozenset()
            self._known[registry] = _Last(kept, sent, empty)
        entry = registry.cache.entry(generation)
        if entry is not None:
            self._sets[registry] = _Names(kept, entry)


INDEX = BucketIndex()
