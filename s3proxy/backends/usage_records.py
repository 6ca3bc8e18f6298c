"""Quota usage on S3 upstreams: small records under the tenant's home, shared by the replicas.

An S3 server cannot count a prefix, nor check a limit and write in one step, so each process
keeps what it has written itself and publishes it (README, "Quotas" and "The upstream layout").
Under ``home.prefix + ".usage/"``:

- ``<process id>``: one record per process (each worker of each replica), written by that
  process only (on ``If-Match`` its last ETag), so writers never conflict. It holds the
  process's cumulative changes per quota root since it started, and is rewritten at least every
  sixth of ``server.quota_fold_after_seconds`` (a heartbeat). A reader fetches a record again
  only when its listed ETag changed. The record of a process that has exited keeps counting
  until a reader folds it into the baseline and removes it (:mod:`.usage_folding`).
- ``baseline``: per root, the usage a listing found when the root was first needed (plus the
  records folded into it since), and what each record held then (its offset), so that writes
  already in the listing are not counted twice; and the names of folded records, which readers
  skip. Rewritten on ``If-Match`` its ETag.

The usage of a root is ``baseline + sum(record - offset)``, plus this process's own changes as
they happen, plus its writes in flight (held until they commit or fail, so concurrent writes
through one process cannot together pass a limit). A process publishes its record at most
``server.quota_sync_seconds`` after a change and reads the others' when its view is older than
that, or at once before a write past its share of a quota's room (:mod:`.usage_share`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from s3proxy.backends import usage_folding
from s3proxy.backends.bound_writes import BoundWrites
from s3proxy.backends.quota_writes import KeyLocks, UploadGates
from s3proxy.backends.records import read_record
from s3proxy.backends.usage_figures import (
    BASELINE,
    RECORDS,
    Baseline,
    at_most,
    combine,
    completed_size,
    count_root,
    counted,
    decode_baseline,
    decode_record,
    encode_baseline,
    encode_record,
    head_size,
    listed_entry,
    merge_new,
)
from s3proxy.backends.usage_folding import Place
from s3proxy.backends.usage_share import Landings
from s3proxy.backends.usage_writes import HEAD_AT_ONCE
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.quotas import Root, Usage
from s3proxy.worker_count import usable_cpus

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend
    from s3proxy.config.server import ServerConfig

__all__ = [  # what callers import from here, some of it defined in usage_figures
    "BASELINE",
    "RECORDS",
    "Baseline",
    "UsageBook",
    "book",
    "close_all",
    "combine",
    "completed_size",
    "configure",
    "configure_from",
    "counted",
    "decode_baseline",
    "decode_record",
    "encode_baseline",
    "encode_record",
    "head_size",
    "listed_entry",
]

T = TypeVar("T")
log = logging.getLogger("s3proxy.quotas")

MAX_RECORD = 64 * 1024 * 1024
"""A usage record holds a few numbers per quota root: far below this even for many roots."""

_interval = 5.0
_fold_after = 3600.0
_workers = 1


def configure(seconds: float, fold_after: float = 3600.0, workers: int = 1) -> None:
    """``server.quota_sync_seconds``: how often records are published and re-read;
    ``server.quota_fold_after_seconds``: how long a record must stay unchanged before it is
    taken for an exited process's (the heartbeat is a sixth of it); ``workers``: the processes
    of this replica, the least number that share a quota's room (:mod:`.usage_share`)."""
    global _interval, _fold_after, _workers
    _interval, _fold_after, _workers = seconds, fold_after, max(workers, 1)


def configure_from(server: ServerConfig) -> None:
    workers = usable_cpus() if server.workers == "auto" else server.workers
    configure(server.quota_sync_seconds, server.quota_fold_after_seconds, workers)


# -- the book: one per tenant home and process -----------------------------------------------


class UsageBook(BoundWrites):
    def __init__(self, layout: TenantLayout, backends: Mapping[str, Backend]) -> None:
        assert layout.home is not None  # check-config: S3 quotas need a home
        self._home: UpstreamRoot = layout.home
        self._backends = backends
        self._name = f"{uuid.uuid4().hex}"
        self._mine: dict[Root, Usage] = {}
        self._held: dict[Root, Usage] = {}
        self._landed = Landings()  # each write in flight that ends (usage_share.keep_to_share)
        self._records: dict[str, tuple[str, dict[Root, Usage]]] = {}
        """Other processes' records: name → (ETag, figures)."""
        self._closed: set[str] = set()
        """Other records a folder has closed (usage_folding)."""
        self._seen: dict[str, tuple[str, float]] = {}
        """Other records: name → (ETag, when this process first saw that ETag)."""
        self._baselines: dict[Root, Baseline] = {}
        self._folded: frozenset[str] = frozenset()
        self._baseline_etag = ""
        self._read_at = -math.inf
        self._reads = 0
        self._lock = asyncio.Lock()
        self._writing: KeyLocks[tuple[str, str, str]] = KeyLocks()  # per upstream key
        self._parts: KeyLocks[tuple[str, str, str, str, int]] = KeyLocks()  # per part number
        self._uploads: UploadGates[tuple[str, str, str, str]] = UploadGates()  # per upload
        self._flush: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._published: dict[Root, Usage] = {}
        self._etag: str | None = None
        """Of this process's record as last written (None: not written yet)."""
        self._seq = 0
        self._place = Place(self._backend, self._home.bucket, self._key(""))
        self._conditional: bool | None = None
        """Whether the upstream honours conditional PUTs (probed before the first fold)."""
        self._folding: asyncio.Task[None] | None = None
        self._fold_at = -math.inf
        """No fold before this (a failed one waits a heartbeat before the next)."""

    @property
    def _backend(self) -> Backend:
        return self._backends[self._home.upstream]

    def _key(self, name: str) -> str:
        return f"{self._home.prefix}{RECORDS}{name}"

    # -- reading ----------------------------------------------------------------------------

    def usage(self, root: Root) -> Usage:
        """This process's view of a root (known roots only: see :meth:`ensure`). Its parts'
        bytes never below zero: an upload whose parts an older release stored (uncounted)
        frees them at its Complete or abort, which would otherwise take the usage below what
        is stored, by up to those bytes, for good."""
        baseline = self._baselines.get(root, Baseline(Usage(), {}))
        records = {n: f for n, (_, f) in self._records.items() if n not in self._folded}
        records[self._name] = self._mine
        found = combine(root, baseline, records) + self._held.get(root, Usage())
        if found.parts < 0:  # parts freed that were never counted (an older release's)
            return Usage(found.objects, found.bytes - found.parts, 0)
        return found

    async def total(self, roots: Iterable[Root]) -> Usage:
        """The usage over ``roots`` as this process sees it (the admin endpoint)."""
        wanted = list(roots)
        await self.ensure(wanted)
        return sum((self.usage(root) for root in wanted), Usage())

    async def ensure(self, roots: Iterable[Root]) -> None:
        """Re-read the records if this view is older than the interval, and take a baseline
        of any root not yet in it."""
        wanted = set(roots)
        if time.monotonic() - self._read_at < _interval and wanted <= self._baselines.keys():
            return
        async with self._lock:
            stale = time.monotonic() - self._read_at >= _interval
            if stale or not wanted <= self._baselines.keys():  # a new root: fresh offsets
                await self._read()
            await self._take_baselines(wanted - self._baselines.keys())

    async def _read(self) -> None:
        started = time.monotonic()
        for attempt in range(3):
            listed = await self._place.listed()
            if await self._read_listed(listed, final=attempt == 2):
                break
        self._read_at, self._reads = started, self._reads + 1
        self._note_seen(listed)

    async def _read_listed(self, listed: dict[str, str], final: bool) -> bool:
        """Take in the records and baseline of a listing; False when the baseline changed
        after the listing was taken (a fold or removal in between: list again, unless
        ``final``)."""
        others = {n: etag for n, etag in listed.items() if self._other(n)}
        changed = [n for n, etag in others.items() if self._records.get(n, ("",))[0] != etag]
        fetched = dict(zip(changed, await at_most(HEAD_AT_ONCE, self._get, changed), strict=True))
        self._records = {
            n: (etag, decode_record(fetched[n])) if n in fetched else self._records[n]
            for n, etag in others.items()
        }
        self._closed = {n for n in self._closed if n in others}
        self._closed |= {n for n, data in fetched.items() if usage_folding.closed(data)}
        self._closed -= {n for n, data in fetched.items() if not usage_folding.closed(data)}
        baseline_etag = listed.get(BASELINE)
        if baseline_etag is None:
            self._baselines, self._folded = {}, frozenset()
        elif baseline_etag != self._baseline_etag:
            found = await self._place.get(BASELINE)
            data, etag = found if found is not None else (b"{}", "")
            if etag.strip('"') != baseline_etag.strip('"') and not final:
                return False
            self._baselines = decode_baseline(data)
            self._folded = usage_folding.decode_folded(data)
        self._baseline_etag = baseline_etag or ""
        return True

    def _other(self, name: str) -> bool:
        return name != BASELINE and name != self._name and not name.startswith(".")

    def _note_seen(self, listed: Mapping[str, str]) -> None:
        """Remember since when each record has had its ETag; start folding the records that
        have not changed for ``quota_fold_after_seconds`` (usage_folding)."""
        now = time.monotonic()
        seen = {}
        for name, etag in listed.items():
            if self._other(name):
                known = self._seen.get(name)
                seen[name] = known if known is not None and known[0] == etag else (etag, now)
        self._seen = seen
        if self._conditional is False or self._folding is not None or now < self._fold_at:
            return
        if not self._stale():
            return
        self._folding = asyncio.get_running_loop().create_task(self._fold_in_background())

    def _stale(self) -> list[str]:
        now = time.monotonic()
        return sorted(n for n, (_, since) in self._seen.items() if now - since >= _fold_after)

    async def _fold_in_background(self) -> None:
        try:
            await self.fold()
        except Exception as exc:  # upstream away: the records stay, a later read tries again
            log.warning("quota usage records not folded: %r", exc)
            self._fold_at = time.monotonic() + _fold_after / 6
        finally:
            self._folding = None

    async def fold(self) -> None:
        """Fold the records that have not changed for ``quota_fold_after_seconds`` into the
        baseline, and remove those folded that long ago (usage_folding: close, fold, remove).
        Nothing where the upstream does not honour conditional PUTs."""
        stale = self._stale()
        if not stale:
            return
        if self._conditional is None:
            self._conditional = await self._place.honours_conditions()
            if not self._conditional:
                log.warning("quota usage: upstream ignores conditional PUTs; nothing folded")
        if not self._conditional:
            return
        seen = {name: self._seen[name][0] for name in stale}
        await usage_folding.fold_stale(self._place, seen, self._closed, self._folded)
        self._read_at = -math.inf  # the next check reads the new state

    async def _get(self, name: str) -> bytes:
        found = await read_record(self._backend, self._home.bucket, self._key(name), MAX_RECORD)
        return b"{}" if found is None else found[0]

    async def _take_baselines(self, roots: set[Root]) -> None:
        """Count each root by a listing; record what the records held then (read just
        before), so writes already published are not counted twice."""
        if not roots:
            return
        await self._publish()
        offsets = {n: f for n, (_, f) in self._records.items() if n not in self._folded}
        offsets[self._name] = self._published  # what every process reads of this one
        taken: dict[Root, Baseline] = {}
        for root in sorted(roots):
            listed = await count_root(self._backends, self._home, root)
            taken[root] = Baseline(listed, {n: f[root] for n, f in offsets.items() if root in f})

        written = await usage_folding.rewrite_baseline(self._place, partial(merge_new, taken))
        self._baselines, self._folded, self._baseline_etag = written

    def _patience(self) -> float:
        return _interval

    def _processes(self) -> int:
        return _workers

    # -- publishing ---------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(_interval, self._start_publish)

    def _start_publish(self, beat: bool = False) -> None:
        self._flush = asyncio.get_running_loop().create_task(self._scheduled(beat))

    def _heartbeat(self) -> None:
        """Rewrite the record a sixth of ``quota_fold_after_seconds`` after the last write,
        changed or not, so no reader takes this live process for an exited one."""
        if self._beat is not None:
            self._beat.cancel()
        self._beat = asyncio.get_running_loop().call_later(_fold_after / 6, self._start_beat)

    def _start_beat(self) -> None:
        self._beat = None
        if self._flush is None:
            self._start_publish(beat=True)
        # else: a publish is due anyway, and it rewrites the record

    async def _scheduled(self, beat: bool = False) -> None:
        try:
            await self._publish(beat)
        except Exception as exc:  # upstream away: keep the changes, try again an interval later
            log.warning("quota usage record not published (retrying): %r", exc)
            self._flush = None
            self._changed()
            if beat:  # unchanged figures: the retry above would not beat
                self._heartbeat()
            return
        self._flush = None
        if self._mine != self._published:  # changed while publishing
            self._changed()

    async def _publish(self, beat: bool = False) -> None:
        """Write this process's record if it changed (``beat``: also when unchanged), on the
        condition that it is still the version this process last wrote."""
        for _ in range(usage_folding.ATTEMPTS):
            snapshot = dict(self._mine)
            if snapshot == self._published and not (beat and self._etag is not None):
                return
            self._seq += 1
            body = encode_record(snapshot, self._seq)
            written = await self._place.put_if(self._name, body, self._etag)
            if written is not None:
                self._etag, self._published = written, snapshot
                self._heartbeat()
                return
            await self._reclaim()
        raise S3Error(S3ErrorCode.SlowDown)

    async def _reclaim(self) -> None:
        """This process's conditional write failed: either a write of its own landed after all
        (its answer was lost), or a folder closed its record, taking it for gone. Then the
        closed figures are counted by the baseline (or by the closed record until then):
        carry on under a new name with only what this process counted beyond them."""
        found = await self._place.get(self._name)
        if found is not None and not usage_folding.closed(found[0]):
            self._etag, self._published = found[1], decode_record(found[0])
            return
        if found is None and self._etag is None:
            return  # never written and still absent: try again
        if found is None:  # closed, folded and removed: what it held is what was last written
            log.warning("quota usage record %s was folded and removed while paused", self._name)
        folded = decode_record(found[0]) if found is not None else self._published
        log.info("quota usage record %s was folded by another process", self._name)
        self._mine = usage_folding.beyond(self._mine, folded)
        self._name, self._etag, self._published, self._seq = uuid.uuid4().hex, None, {}, 0

    async def close(self) -> None:
        """Publish what is left (at shutdown)."""
        if isinstance(self._flush, asyncio.TimerHandle):
            self._flush.cancel()
        self._flush = None
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self._folding is not None:
            self._folding.cancel()
            self._folding = None
        await self._publish()
        if self._beat is not None:  # the publish just scheduled one
            self._beat.cancel()
            self._beat = None


_books: dict[tuple[int, UpstreamRoot], UsageBook] = {}


def book(layout: TenantLayout, backends: Mapping[str, Backend]) -> UsageBook:
    """The process's book for a tenant's home (kept across configuration reloads)."""
    assert layout.home is not None
    key = (os.getpid(), layout.home)
    found = _books.get(key)
    if found is None:
        found = _books[key] = UsageBook(layout, backends)
    return found


async def close_all() -> None:
    for found in list(_books.values()):
        try:
            await found.close()
        except Exception as exc:  # at shutdown, with the upstream maybe gone
            log.warning("quota usage changes not published at shutdown: %s", exc)
