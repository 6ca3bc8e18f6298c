"""A quota tenant's writes on an S3 upstream: checked, held while in flight, then counted.

The writing half of :class:`~s3proxy.backends.usage_records.UsageBook` (its reading and
publishing stay there): a PutObject, CopyObject or Complete (:meth:`WritingBook.guarded`;
bound to what their HEAD read by :mod:`.bound_writes`), a part
(:meth:`WritingBook.part_guarded`, :mod:`.part_quotas`), a delete (:meth:`WritingBook.removed`)
and an aborted upload's parts (:meth:`WritingBook.freed`). Each checks its change against the
quotas in the process's view, holds it while it runs (so that concurrent writes through one
process cannot together pass a limit) and counts it once stored; writes of one key (one part
number) take turns (:mod:`.quota_writes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from s3proxy.backends.conditional_deletes import removed_bound
from s3proxy.backends.quota_writes import (
    KeyLocks,
    UploadGates,
    delete_counted,
    landed,
    part_landed,
    part_resent,
    part_size,
)
from s3proxy.backends.upload_claims import ending
from s3proxy.backends.usage_figures import at_most, current_object, head_size
from s3proxy.backends.usage_share import Landings, keep_to_share, past_share, unpublished
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    DeleteResult,
    QuotaScope,
)
from s3proxy.quotas import Root, Usage, after_write, completed, exceeded, parts_change, within

if TYPE_CHECKING:
    from collections.abc import Mapping

    from s3proxy.backends.base import Backend

T = TypeVar("T")
HEAD_AT_ONCE = 16
"""Upstream requests in flight for one DeleteObjects of a quota tenant (the sizes it frees),
or for one re-read of the records."""


class WritingBook:
    """What the writes need of the book (set by UsageBook.__init__)."""

    _backends: Mapping[str, Backend]
    _home: UpstreamRoot
    _mine: dict[Root, Usage]
    _held: dict[Root, Usage]
    _published: dict[Root, Usage]
    _records: dict[str, tuple[str, dict[Root, Usage]]]
    _closed: set[str]
    _folded: frozenset[str]
    _reads: int
    _lock: asyncio.Lock
    _landed: Landings
    _writing: KeyLocks[tuple[str, str, str]]
    _parts: KeyLocks[tuple[str, str, str, str, int]]
    _uploads: UploadGates[tuple[str, str, str, str]]

    def usage(self, root: Root) -> Usage:
        raise NotImplementedError

    async def ensure(self, roots: Iterable[Root]) -> None:
        raise NotImplementedError

    def _changed(self) -> None:
        raise NotImplementedError

    async def _publish(self, beat: bool = False) -> None:
        raise NotImplementedError

    async def _read(self) -> None:
        raise NotImplementedError

    def _patience(self) -> float:
        """How long a write past its share waits for one in flight (quota_sync_seconds)."""
        raise NotImplementedError

    def _processes(self) -> int:
        """The least number of processes that share a quota's room (server.workers)."""
        raise NotImplementedError

    async def guarded(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        size: int,
        write: Callable[[], Awaitable[T]],
        parts: int = 0,
    ) -> T:
        """Check a write of ``size`` bytes at ``location`` against ``scopes`` (403 QuotaExceeded),
        hold it while it runs, count it once stored; one key at a time (:mod:`.quota_writes`).
        ``parts``: a Complete's, the bytes of the upload's parts, all freed once it is stored."""
        async with self._writing.hold([(location.upstream, location.bucket, location.key)]):
            replaced = await head_size(self._backends[location.upstream], location)
            change = (
                completed(replaced, size, parts) if parts else after_write(Usage(), replaced, size)
            )
            backend = self._backends[location.upstream]

            async def found(error: S3Error) -> Usage:
                return await landed(backend, location, size, error, change)

            return await self._guard(scopes, location, change, write, found)

    async def part_guarded(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        upload_id: str,
        part_number: int,
        size: int | Callable[[], Awaitable[int]],
        write: Callable[[], Awaitable[T]],
        read_back: bool = False,
    ) -> T:
        """:meth:`guarded` for an UploadPart or UploadPartCopy of ``size`` bytes: the part
        counts its bytes from the moment it is stored, minus those of the part it replaces
        (read with a ListParts); one part number of one upload at a time. ``read_back``: the
        size is a guess (a copy's source, which may be overwritten meanwhile), so what the part
        stored is read back with a ListParts, as for a part sent again
        (:func:`~.quota_writes.part_resent`). ``size`` awaitable: read under the part's turn
        (the source's HEAD of a copy bound to it, :func:`.bound_copy.bound_part_copy`)."""
        backend = self._backends[location.upstream]
        upload = (location.upstream, location.bucket, location.key, upload_id)
        held = (*upload, part_number)
        async with self._uploads.part(upload), self._parts.hold([held]):
            replaced = await part_size(backend, location, upload_id, part_number)
            sized = size if isinstance(size, int) else await size()
            change = parts_change(sized, replaced or 0)

            async def found(error: S3Error) -> Usage:
                number = part_number
                return await part_landed(backend, location, upload_id, number, sized, error, change)

            async def stored(_: T) -> Usage:
                if replaced is None and not read_back:  # the number's only upload
                    return change
                return await part_resent(
                    backend, location, upload_id, part_number, replaced, change
                )

            return await self._guard(scopes, location, change, write, found, stored)

    async def _guard(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        change: Usage,
        write: Callable[[], Awaitable[T]],
        found: Callable[[S3Error], Awaitable[Usage]],
        stored: Callable[[T], Awaitable[Usage]] | None = None,
    ) -> T:
        """Check ``change`` at ``location`` against ``scopes``, hold it while ``write`` runs,
        count it once stored (``found``: what a failed write stored all the same; ``stored``:
        what a write that succeeded changed, where that is read back rather than known)."""
        roots = [r for scope in scopes for r in scope.roots]
        await self.ensure(roots)
        past = partial(self._past_share, scopes, location, change)
        await keep_to_share(past, self._exchange, self._landed.wait, self._patience())
        for scope in scopes:
            if not any(self._holds(r, location) for r in scope.roots):
                continue
            before = sum((self.usage(r) for r in scope.roots), Usage())
            if exceeded(scope, before, before + change):
                raise S3Error(S3ErrorCode.QuotaExceeded)
        touched = sorted({r for r in roots if self._holds(r, location)})
        # Held: only what it adds. What it frees (a Complete's parts, an overwrite's old bytes)
        # counts once it is done: a Complete that fails leaves its parts where they were.
        hold = Usage(max(change.objects, 0), max(change.bytes, 0), max(change.parts, 0))
        self._add(self._held, touched, hold)
        counted = Usage()
        try:
            result = await write()
            counted = change  # if the read back is cancelled, what the write was to change
            if stored is not None:
                counted = await stored(result)
        except S3Error as error:  # stored all the same, its answer lost: counted
            counted = await found(error)
            raise
        finally:
            self._add(self._held, touched, -hold)
            self._landed.note()
            self._add(self._mine, touched, counted)
        self._changed()
        return result

    def closing(
        self, location: UpstreamLocation, upload_id: str
    ) -> AbstractAsyncContextManager[None]:
        """Held by a Complete or abort of the upload from the listing of its parts to its
        count: the upload's parts in flight through this process end first, those sent
        meanwhile wait (:class:`~.quota_writes.UploadGates`); across replicas, its claim where
        the upstream needs one (:mod:`.upload_claims`)."""
        gate = self._uploads.closing((location.upstream, location.bucket, location.key, upload_id))
        backend, keeper = self._backends[location.upstream], self._backends[self._home.upstream]
        return ending(gate, backend, keeper, self._home, location, upload_id)

    def freed(self, scopes: tuple[QuotaScope, ...], location: UpstreamLocation, parts: int) -> None:
        """An upload at ``location`` whose parts held ``parts`` bytes was aborted."""
        if not parts:
            return
        roots = {r for scope in scopes for r in scope.roots}
        touched = [r for r in roots if self._holds(r, location)]
        self._add(self._mine, touched, -parts_change(parts))
        self._changed()

    async def deleted(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        if_match: str | None = None,
    ) -> None:
        """A DeleteObject (``if_match``: the client's condition), freeing what the object
        counted if this delete removed it (under its key's turn;
        :func:`~.quota_writes.delete_counted`)."""
        async with self._writing.hold([(location.upstream, location.bucket, location.key)]):
            freed = await delete_counted(self._backends[location.upstream], location, if_match)
            if freed is not None:
                self.free(scopes, location, freed)
            self._changed()

    def free(self, scopes: tuple[QuotaScope, ...], location: UpstreamLocation, size: int) -> None:
        """An object of ``size`` bytes at ``location`` was deleted (the caller holds its key)."""
        roots = {r for scope in scopes for r in scope.roots}
        self._add(self._mine, [r for r in roots if self._holds(r, location)], Usage(-1, -size))

    async def looked_up(
        self, locations: list[UpstreamLocation]
    ) -> list[tuple[int, str, bool] | None]:
        """Each location's object as :func:`~.usage_figures.current_object` reads it."""

        async def one(location: UpstreamLocation) -> tuple[int, str, bool] | None:
            return await current_object(self._backends[location.upstream], location)

        return await at_most(HEAD_AT_ONCE, one, locations)

    async def removed_bound(
        self,
        scopes: tuple[QuotaScope, ...],
        backend: Backend,
        locations: list[UpstreamLocation],
        etags: Sequence[str | None],
    ) -> list[DeleteResult]:
        """A DeleteObjects whose keys go bound to the ETags their HEADs read, each freeing
        what it counted only if the upstream deleted that object (keys held; ``etags``: the
        client's own, per key; :func:`.conditional_deletes.removed_bound`)."""
        async with self._writing.hold((x.upstream, x.bucket, x.key) for x in locations):
            try:
                return await removed_bound(self, scopes, backend, locations, etags)
            finally:
                self._changed()

    async def removed(
        self,
        scopes: tuple[QuotaScope, ...],
        locations: list[UpstreamLocation],
        remove: Callable[[], Awaitable[T]],
        succeeded: Callable[[T, UpstreamLocation], bool] = lambda _, __: True,
    ) -> T:
        """Delete, then free what the deleted objects counted (sizes read before; keys held)."""

        async def size(location: UpstreamLocation) -> int | None:
            return await head_size(self._backends[location.upstream], location)

        async with self._writing.hold((x.upstream, x.bucket, x.key) for x in locations):
            sizes = await at_most(HEAD_AT_ONCE, size, locations)
            result = await remove()
            roots = {r for scope in scopes for r in scope.roots}
            for location, found in zip(locations, sizes, strict=True):
                if found is not None and succeeded(result, location):
                    touched = [r for r in roots if self._holds(r, location)]
                    self._add(self._mine, touched, Usage(-1, -found))
            self._changed()
            return result

    def _past_share(
        self, scopes: tuple[QuotaScope, ...], location: UpstreamLocation, change: Usage
    ) -> tuple[bool, bool, bool, int]:
        """For :func:`.usage_share.keep_to_share`: past the share, growth unseen by others,
        writes in flight (in the scopes the write is in), reads of the records made so far."""
        past, unseen, flying = False, False, False
        for scope in scopes:
            if any(self._holds(r, location) for r in scope.roots):
                view = sum((self.usage(r) for r in scope.roots), Usage())
                mine = unpublished(self._mine, self._published, self._held, scope.roots)
                others = [n for n in self._records if n not in self._folded | self._closed]
                past = past or past_share(
                    scope, view, mine, change, max(self._processes(), 1 + len(others))
                )
                unseen = unseen or mine.bytes > 0 or mine.objects > 0
                flying = flying or any(self._held.get(r, Usage()) != Usage() for r in scope.roots)
        return past, unseen, flying, self._reads

    async def _exchange(self, reads: int) -> None:
        """Publish this process's record and read the others', unless they were read again
        since the caller's ``reads`` (concurrent callers share one exchange)."""
        async with self._lock:
            if self._reads != reads:
                return
            await self._publish()
            await self._read()

    @staticmethod
    def _holds(root: Root, location: UpstreamLocation) -> bool:
        return root[0] == location.upstream and within(root, location.bucket, location.key)

    @staticmethod
    def _add(figures: dict[Root, Usage], roots: Iterable[Root], change: Usage) -> None:
        for root in roots:
            figures[root] = figures.get(root, Usage()) + change
