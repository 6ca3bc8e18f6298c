"""A quota tenant's writes of one key on an S3 upstream: one at a time, and counted when
their answer was lost.

**One writer per key, within one process.** A quota tenant's write reads what it replaces (or
a delete what it frees) with a HEAD, then writes, then counts the difference
(:mod:`s3proxy.backends.usage_records`). Two such writes of one key at once both read the same
old size and both count it: twenty racing overwrites and deletes of one key left usage at 10
objects for 2 stored (SeaweedFS; Ceph RGW alike). Holding a key's lock (:class:`KeyLocks`)
from the read to the count makes each write read what the previous one left. Only quota
tenants take these locks, and only writes of the same key wait on each other; the workers of
one server take turns too (:mod:`.key_turns`), replicas on other hosts can still race (README
"Quotas", drift).

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
from typing import Generic, Protocol, TypeVar, runtime_checkable

from s3proxy.backends import key_turns
from s3proxy.backends.base import Backend
from s3proxy.backends.local.conditions import check_write
from s3proxy.backends.part_order import one_part
from s3proxy.backends.records import RACED
from s3proxy.backends.usage_figures import current_object, head_size
from s3proxy.completion import latest_parts
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import PartInfo, WriteConditions
from s3proxy.quotas import Usage

K = TypeVar("K")


class _Writers:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        """Holders and waiters: the entry goes when the last leaves."""


class KeyLocks(Generic[K]):
    """Locks by key, created on demand and dropped when unused (no growth with the keys); a
    key's lock also takes its turn among the workers of one server (:mod:`.key_turns`)."""

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
        ranges: list[int | None] = []
        try:
            for key in wanted:
                entry = self._writers.get(key)
                if entry is None:
                    entry = self._writers[key] = _Writers()
                entry.users += 1
                entries.append((key, entry))
                await entry.lock.acquire()
                acquired.append(entry)
                ranges.append(await key_turns.take(key))  # the other workers' turn
            yield
        finally:
            for at in ranges:
                key_turns.give(at)
            for entry in acquired:
                entry.lock.release()
            for key, entry in entries:
                entry.users -= 1
                if not entry.users:
                    del self._writers[key]


class _Gate:
    __slots__ = ("closing", "ending", "parts", "shared", "sharing", "turn", "users")

    def __init__(self) -> None:
        self.turn = asyncio.Condition()
        self.sharing = asyncio.Lock()
        self.shared: int | None = None
        """The upload's range, held shared for this process's parts in flight (key_turns)."""
        self.parts = 0
        """Part writes of the upload in flight."""
        self.closing = 0
        """Completes and aborts of the upload waiting or running."""
        self.ending = False
        """One of them running (they take turns: each reads the parts the previous left)."""
        self.users = 0


class UploadGates(Generic[K]):
    """Per upload: its part writes against its Complete or abort, within one process.

    A Complete (or an abort) reads what the upload's parts hold, then ends the upload and frees
    that; a part stored between the two is counted, never freed (its bytes go with the upload
    upstream). So a Complete or abort waits for the upload's parts in flight, and parts sent
    meanwhile wait for it to end (they then fail NoSuchUpload, counting nothing). Completes and
    aborts of one upload take turns: SeaweedFS answers 200 to a Complete of an upload already
    completed and 204 to an abort of one already gone, so two at once would each free its parts
    (measured: usage went negative); one after the other, the second finds the upload gone and
    frees nothing. Parts of one upload still run side by side; only a quota tenant's writes on
    an S3 upstream take these gates. Across the workers of one server the upload's range in
    the shared file (:mod:`.key_turns`) does the same: this process's parts in flight hold it
    shared, a Complete or abort holds it alone."""

    def __init__(self) -> None:
        self._gates: dict[K, _Gate] = {}

    def __len__(self) -> int:
        return len(self._gates)

    def _enter(self, key: K) -> _Gate:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate()
        gate.users += 1
        return gate

    def _leave(self, key: K, gate: _Gate) -> None:
        gate.users -= 1
        if not gate.users:
            del self._gates[key]

    @asynccontextmanager
    async def part(self, key: K) -> AsyncIterator[None]:
        gate = self._enter(key)
        try:
            async with gate.turn:
                await gate.turn.wait_for(lambda: not gate.closing)
                gate.parts += 1
            try:
                async with gate.sharing:  # the first part in flight takes the shared range
                    if gate.shared is None:
                        gate.shared = await key_turns.take(("upload", key), shared=True)
                yield
            finally:
                async with gate.turn:
                    gate.parts -= 1
                    if not gate.parts:
                        key_turns.give(gate.shared)
                        gate.shared = None
                    gate.turn.notify_all()
        finally:
            self._leave(key, gate)

    @asynccontextmanager
    async def closing(self, key: K) -> AsyncIterator[None]:
        gate = self._enter(key)
        ending = False
        try:
            async with gate.turn:
                gate.closing += 1
            try:
                async with gate.turn:
                    await gate.turn.wait_for(lambda: not gate.parts and not gate.ending)
                    gate.ending = ending = True
                alone = await key_turns.take(("upload", key))  # other workers' parts end first
                try:
                    yield
                finally:
                    key_turns.give(alone)
            finally:
                async with gate.turn:
                    gate.closing -= 1
                    gate.ending = gate.ending and not ending
                    gate.turn.notify_all()
        finally:
            self._leave(key, gate)


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
    ListParts from that number (one request: :func:`.part_order.one_part`). A NoSuchUpload
    goes to the caller: the part would fail alike."""
    with one_part():
        listed = await backend.list_parts(
            location.bucket, location.key, upload_id, part_number - 1, PART_PAGE
        )
    page = latest_parts(listed)
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


async def part_resent(
    backend: Backend,
    location: UpstreamLocation,
    upload_id: str,
    part_number: int,
    replaced: int | None,
    change: Usage,
) -> Usage:
    """What a part sent again under ``part_number`` changed, read back once it is stored: the
    size now listed as the number's part minus the ``replaced`` one listed before. S3 replaces
    the earlier upload (the same as ``change``); SeaweedFS 4.48 keeps and lists both, with
    LastModified in whole seconds, so a part sent again within the second it was sent is listed
    beside it, either first (:func:`~s3proxy.completion.latest_parts` takes the first listed
    among equals), and counting the part just sent would count bytes the listing, a Complete
    and an abort never see. ``change`` when the read fails."""
    try:
        now = await part_size(backend, location, upload_id, part_number)
    except S3Error:
        return change
    if now is None:
        return change
    return Usage(0, now - (replaced or 0), now - (replaced or 0))


def stored_bytes(stored: Iterable[PartInfo]) -> int:
    """What a Complete frees: the bytes of an upload's stored parts as ListParts listed them,
    each part number once, chosen as the book counted it (:func:`part_resent`) and as ListParts
    shows it: where an upstream lists several uploads of one number (SeaweedFS 4.48), the latest
    LastModified, the first listed among equals."""
    latest: dict[int, PartInfo] = {}
    for part in stored:
        found = latest.get(part.part_number)
        if found is None or part.last_modified > found.last_modified:
            latest[part.part_number] = part
    return sum(part.size for part in latest.values())


DELETE_TRIES = 3
"""Conditional deletes of one key before the last one goes without a condition."""


@runtime_checkable
class MatchingDeletes(Protocol):
    """An upstream that can delete under ``If-Match`` (:meth:`.s3.S3Backend.delete_matching`)."""

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None: ...


async def delete_counted(
    backend: Backend, location: UpstreamLocation, if_match: str | None = None
) -> int | None:
    """A quota tenant's DeleteObject (or any conditional one on an S3 upstream): the size it
    freed (None: it freed nothing). Its key's turn (:class:`KeyLocks`) covers one server; a
    replica elsewhere may delete the same object at once, and both would free its size. So
    the delete is sent under ``If-Match`` with the ETag its HEAD read, and counts only if that
    holds: on a 412 or 404 (the object replaced, or gone: S3 answers 404 there, SeaweedFS 412)
    the key is read again and the delete tried again; one that finds nothing frees nothing (the
    client's answer is 204 all the same, as S3's). Ceph RGW 16 ignores the header (measured: a
    wrong ETag deletes), so there two replicas can still both count a delete (README "Quotas").

    ``if_match``: the client's own condition (an ETag, a list, ``*``), checked against each
    HEAD as S3 checks it (404 NoSuchKey with no object, 412 on another), so the delete sent is
    bound to an object it names; one whose every try met a changed object is 412 (never sent
    without a condition). Only on an upstream known to honour If-Match on a DELETE
    (:mod:`.conditional_deletes`)."""
    for tries in range(DELETE_TRIES, 0, -1):
        found = await current_object(backend, location)
        if if_match is not None:
            check_write(WriteConditions(if_match=if_match), found[1] if found else None)
        if found is None:
            await backend.delete_object(location.bucket, location.key)
            return None
        size, etag, headed = found
        bindable = headed and isinstance(backend, MatchingDeletes)
        if if_match is None and (tries == 1 or not bindable):  # an SSE-C object: unbound
            await backend.delete_object(location.bucket, location.key)
            return size
        assert isinstance(backend, MatchingDeletes)  # checked with the condition's upstream
        try:
            await backend.delete_matching(location.bucket, location.key, etag)
            return size
        except S3Error as error:
            if error.code not in RACED and error.code is not S3ErrorCode.NoSuchKey:
                raise  # (AWS S3 answers 409 when a write or delete of the key is in flight)
    raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
