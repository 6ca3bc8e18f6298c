"""When a cached "this bucket exists" may still be trusted: a lifetime, and a generation that
the worker processes of one ``serve`` share.

Why: every operation on a bucket first checks that the bucket exists (an upstream HEAD of its
marker, :mod:`s3proxy.backends.buckets`), so each process caches positive answers. Within one
server, a bucket deleted through one worker must be gone for every other worker before the
DeleteBucket response is sent — else the others keep accepting writes into it, and those objects
reappear when the bucket is re-created. So the supervisor maps one small shared-memory array
before it forks (:func:`share_between_processes`); each worker owns one slot of it and increments
that slot after every bucket creation or deletion; the generation is the sum of the slots. A
cache entry remembers the generation read *before* its upstream check and is trusted only while
the generation is unchanged.

One writer per slot: no lock that a worker killed mid-update could leave held, and no increment
lost to a race (an aligned 8-byte store or load is one machine instruction on the platforms the
proxy runs on, so a reader never sees half of one).

Across replicas nothing is shared: the lifetime (``server.bucket_cache_seconds``) is the window
in which another replica may still answer for a bucket deleted elsewhere (its writes are held
closer, :mod:`~s3proxy.backends.bucket_race`).

Per tenant: buckets, their settings and their cached answers are a tenant's own, so each tenant
reads and bumps the generation of its *family* (:data:`FAMILIES` of them, by CRC-32 of its name,
:class:`TenantCache`). One generation for everyone let a tenant that creates, deletes or
re-tags buckets in a loop invalidate every other tenant's answers, each of whose requests then
paid an upstream HEAD. Two tenants of one family still share one (1 in 64 for a pair): that
costs a HEAD, never a wrong answer.
"""

from __future__ import annotations

import mmap
import time
import zlib

DEFAULT_LIFETIME = 10.0
_WORD = 8
FAMILIES = 64
"""Generations per process group: tenants are spread over them by name."""


class Generation:
    """Counters, one per family, that grow whenever any process sharing them creates or
    deletes a bucket (or changes its settings) of a tenant of that family."""

    def __init__(self, slots: int = 1, families: int = FAMILIES) -> None:
        # Anonymous mmap is MAP_SHARED: forked children write to the same pages.
        self._memory = mmap.mmap(-1, _WORD * slots * families)
        words = memoryview(self._memory).cast("Q")
        self._rows = [words[f * slots : (f + 1) * slots] for f in range(families)]
        """One row of per-process words for each family: its generation is the row's sum."""
        self._slots = slots
        self._slot = 0

    @property
    def slots(self) -> int:
        return self._slots

    def use_slot(self, slot: int) -> None:
        """Called in a forked child: from now on this process increments only ``slot``."""
        if not 0 <= slot < self._slots:
            raise ValueError(f"slot {slot} outside 0..{self._slots - 1}")
        self._slot = slot

    def current(self, family: int = 0) -> int:
        return sum(self._rows[family])

    def bump(self, family: int = 0) -> None:
        self._rows[family][self._slot] += 1


class BucketCache:
    """Process-wide: how long a positive answer is kept, and the generation it is checked
    against. Each :class:`~s3proxy.backends.buckets.BucketRegistry` keeps its own entries."""

    def __init__(self, lifetime: float = DEFAULT_LIFETIME) -> None:
        self.lifetime = lifetime
        self.generation = Generation()

    def entry(self, read_at: int) -> tuple[float, int] | None:
        """What to remember for an answer found after reading generation ``read_at``; None when
        caching is off."""
        if self.lifetime <= 0:
            return None
        return time.monotonic() + self.lifetime, read_at

    def trusted(self, entry: tuple[float, int] | None) -> bool:
        if entry is None:
            return False
        expires, read_at = entry
        return read_at == self.generation.current() and expires > time.monotonic()

    def for_tenant(self, tenant: str) -> TenantCache:
        return TenantCache(self, zlib.crc32(tenant.encode("utf-8")) % FAMILIES)


class TenantCache:
    """One tenant's view of a :class:`BucketCache`: the same lifetime, and the generation of
    the tenant's family (read through the cache at each call: the supervisor replaces the
    generation before it forks)."""

    __slots__ = ("_cache", "family", "generation")

    def __init__(self, cache: BucketCache, family: int) -> None:
        self._cache = cache
        self.family = family
        self.generation = self
        """``view.generation.current()`` / ``.bump()``, as on a :class:`BucketCache`."""

    @property
    def lifetime(self) -> float:
        return self._cache.lifetime

    def current(self) -> int:
        return self._cache.generation.current(self.family)

    def bump(self) -> None:
        self._cache.generation.bump(self.family)

    def entry(self, read_at: int) -> tuple[float, int] | None:
        return self._cache.entry(read_at)

    def trusted(self, entry: tuple[float, int] | None) -> bool:
        if entry is None:
            return False
        expires, read_at = entry
        return read_at == self.current() and expires > time.monotonic()


PROCESS_CACHE = BucketCache()


def configure(lifetime: float) -> None:
    """Apply ``server.bucket_cache_seconds`` (at start-up and at each reload)."""
    PROCESS_CACHE.lifetime = lifetime


def share_between_processes(slots: int) -> None:
    """Called by the supervisor before it forks: one slot per child that may change buckets."""
    PROCESS_CACHE.generation = Generation(slots)


def use_slot(slot: int) -> None:
    PROCESS_CACHE.generation.use_slot(slot)
