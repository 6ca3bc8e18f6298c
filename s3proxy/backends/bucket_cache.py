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
in which another replica may still answer for a bucket deleted elsewhere.
"""

from __future__ import annotations

import mmap
import time

DEFAULT_LIFETIME = 10.0
_WORD = 8


class Generation:
    """A counter that grows whenever any process sharing it creates or deletes a bucket."""

    def __init__(self, slots: int = 1) -> None:
        # Anonymous mmap is MAP_SHARED: forked children write to the same pages.
        self._memory = mmap.mmap(-1, _WORD * slots)
        self._words = memoryview(self._memory).cast("Q")
        self._slot = 0

    @property
    def slots(self) -> int:
        return len(self._words)

    def use_slot(self, slot: int) -> None:
        """Called in a forked child: from now on this process increments only ``slot``."""
        if not 0 <= slot < len(self._words):
            raise ValueError(f"slot {slot} outside 0..{len(self._words) - 1}")
        self._slot = slot

    def current(self) -> int:
        return sum(self._words)

    def bump(self) -> None:
        self._words[self._slot] += 1


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


PROCESS_CACHE = BucketCache()


def configure(lifetime: float) -> None:
    """Apply ``server.bucket_cache_seconds`` (at start-up and at each reload)."""
    PROCESS_CACHE.lifetime = lifetime


def share_between_processes(slots: int) -> None:
    """Called by the supervisor before it forks: one slot per child that may change buckets."""
    PROCESS_CACHE.generation = Generation(slots)


def use_slot(slot: int) -> None:
    PROCESS_CACHE.generation.use_slot(slot)
