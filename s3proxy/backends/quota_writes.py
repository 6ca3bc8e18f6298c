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
same size, the change counted is zero either way. A part (UploadPart, UploadPartCopy) is
handled alike, per part number of one upload: what it replaces and whether it landed are read
with a ListParts from its number (:func:`part_size`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from s3proxy.backends.base import Backend
from s3proxy.backends.usage_figures import head_size
from s3proxy.completion import latest_parts
from s3proxy.errors import S3Error
from s3proxy.layout import UpstreamLocation
from s3proxy.model import CompletedPart, PartInfo
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


PART_PAGE = 8
"""Entries asked for when one part's size is wanted: an upstream that lists every upload of a
re-sent part (SeaweedFS 4.48) lists them side by side, and the latest wins."""


async def part_size(
    backend: Backend, location: UpstreamLocation, upload_id: str, part_number: int
) -> int | None:
    """The size of the part stored under ``part_number`` of an upload (None: none yet), by a
    ListParts from that number. A NoSuchUpload goes to the caller: the part would fail alike."""
    page = latest_parts(
        await backend.list_parts(
            location.bucket, location.key, upload_id, part_number - 1, PART_PAGE
        )
    )
    found = [part.size for part in page.parts if part.part_number == part_number]
    return found[0] if found else None


async def part_landed(
    backend: Backend,
    location: UpstreamLocation,
    upload_id: str,
    part_number: int,
    size: int,
    error: S3Error,
    change: Usage,
) -> Usage:
    """:func:`landed` for a part of ``size`` bytes under ``part_number``."""
    if error.status < 500:
        return Usage()
    try:
        found = await part_size(backend, location, upload_id, part_number)
    except S3Error:
        return Usage()
    return change if found == size else Usage()


def stored_bytes(stored: Iterable[PartInfo], requested: Iterable[CompletedPart] = ()) -> int:
    """What a Complete frees: the bytes of an upload's stored parts as ListParts pages listed
    them, each part number once. An upstream that lists every upload of a re-sent part
    (SeaweedFS 4.48, second-resolution LastModified) may list several as latest: for a part
    the Complete names, the one of its ETag; for one left out, the smallest (never freeing
    more than was counted for it)."""
    named = {part.part_number: _bare(part.etag) for part in requested}
    latest: dict[int, list[PartInfo]] = {}
    for part in stored:
        found = latest.get(part.part_number)
        if found is None or part.last_modified > found[0].last_modified:
            latest[part.part_number] = [part]
        elif part.last_modified == found[0].last_modified:
            found.append(part)
    total = 0
    for number, candidates in latest.items():
        chosen = [part for part in candidates if _bare(part.etag) == named.get(number)]
        total += (chosen or [min(candidates, key=lambda part: part.size)])[0].size
    return total


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()
