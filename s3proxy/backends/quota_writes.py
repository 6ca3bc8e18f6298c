"""A quota tenant's writes of one key on an S3 upstream: one at a time, and counted when
their answer was lost.

**One writer per key, within one process.** A quota tenant's write reads what it replaces (or
a delete what it frees) with a HEAD, then writes, then counts the difference
(:mod:`s3proxy.backends.usage_records`). Two such writes of one key at once both read the same
old size and both count it: twenty racing overwrites and deletes of one key left usage at 10
objects for 2 stored (SeaweedFS; Ceph RGW alike). Holding a key's lock (:class:`KeyLocks`)
from the read to the count makes each write read what the previous one left. Only quota
tenants take these locks, and only writes of the same key wait on each other; writes through
other processes can still race (README "Quotas", drift).

**A write stored but unanswered.** An upstream can store a PutObject, CopyObject or
CompleteMultipartUpload and lose the connection before its answer (a crash, a reset): the
client gets a 5xx and retries, and the retry replaces an object that was never counted
(measured on SeaweedFS through a relay that reset the answer: usage stayed at 0 objects for 1
stored). So after a 5xx the key is read again, still under its lock (:func:`landed`): an
object of the write's size there now is taken for the write and counted (published with the
process's next change: the client's retry, usually). When the write replaced an object of the
same size, the change counted is zero either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from s3proxy.backends.base import Backend
from s3proxy.backends.usage_figures import head_size
from s3proxy.errors import S3Error
from s3proxy.layout import UpstreamLocation
from s3proxy.quotas import Usage

K = TypeVar("K")


class _Writers:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        """Holders and waiters: the entry goes when the last leaves."""


class KeyLocks(Generic[K]):
    """Locks by key, created on demand and dropped when unused (no growth with the keys)."""

    def __init__(self) -> None:
        self._writers: dict[K, _Writers] = {}

    def __len__(self) -> int:
        return len(self._writers)

    @asynccontextmanager
    async def hold(self, keys: Iterable[K]) -> AsyncIterator[None]:
        """Hold every key's lock, taken in sorted order so that two holders of overlapping
        sets (DeleteObjects) cannot deadlock; a key named twice is taken once."""
        wanted = sorted(set(keys))  # type: ignore[type-var]
        entries: list[tuple[K, _Writers]] = []
        acquired: list[_Writers] = []
        try:
            for key in wanted:
                entry = self._writers.get(key)
                if entry is None:
                    entry = self._writers[key] = _Writers()
                entry.users += 1
                entries.append((key, entry))
                await entry.lock.acquire()
                acquired.append(entry)
            yield
        finally:
            for entry in acquired:
                entry.lock.release()
            for key, entry in entries:
                entry.users -= 1
                if not entry.users:
                    del self._writers[key]


async def landed(
    backend: Backend, location: UpstreamLocation, size: int, error: S3Error, change: Usage
) -> Usage:
    """``change`` (the write's count) if the write of ``size`` bytes that failed with
    ``error`` is stored at ``location`` all the same, else nothing."""
    if error.status < 500:  # a refusal: nothing was stored
        return Usage()
    try:
        found = await head_size(backend, location)
    except S3Error:  # the upstream is still away: nothing known, nothing counted
        return Usage()
    return change if found == size else Usage()
