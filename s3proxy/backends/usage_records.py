"""Quota usage on S3 upstreams: small records under the tenant's home, shared by the replicas.

An S3 server cannot count a prefix, nor check a limit and write in one step, so each process
keeps what it has written itself and publishes it (README, "Quotas" and "The upstream layout").
Under ``home.prefix + ".usage/"``:

- ``<process id>``: one record per process (each worker of each replica), written by that
  process only, so writers never conflict. It holds the process's cumulative changes per quota
  root since it started. It is never reset or removed, so what an exited process wrote still
  counts; a reader fetches a record again only when its listed ETag changed.
- ``baseline``: per root, the usage a listing found when the root was first needed, and what
  each record held then (its offset), so that writes already in the listing are not counted
  twice.

The usage of a root is ``baseline + sum(record - offset)``, plus this process's own changes as
they happen, plus its writes in flight (held until they commit or fail, so concurrent writes
through one process cannot together pass a limit). A process publishes its record at most
``server.quota_sync_seconds`` after a change and reads the others' when its view is older than
that: a write through one replica is seen by every other within twice the interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from s3proxy.backends.records import read_record, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    ListEntry,
    ObjectAttributes,
    PartInfo,
    QuotaScope,
    ReadConditions,
)
from s3proxy.quotas import Root, Usage, after_write, exceeded, within

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend

T = TypeVar("T")
log = logging.getLogger("s3proxy.quotas")

RECORDS = ".usage/"
BASELINE = "baseline"
NOT_COUNTED = (".buckets/", ".s3proxy-layout", RECORDS)
"""The gateway's own objects under a root (bucket markers, the key encoding marker, these
records): no quota counts them. Directly under a home, every name starting with "." is the
gateway's (client bucket names cannot start with one)."""
PAGE = 1000
MAX_RECORD = 64 * 1024 * 1024
"""A usage record holds a few numbers per quota root: far below this even for many roots."""
HEAD_AT_ONCE = 16
"""Upstream requests in flight for one DeleteObjects of a quota tenant (the sizes it frees),
or for one re-read of the records."""

_interval = 5.0


def configure(seconds: float) -> None:
    """``server.quota_sync_seconds``: how often records are published and re-read."""
    global _interval
    _interval = seconds


# -- pure parts ------------------------------------------------------------------------------


def counted(root: Root, key: str, home: bool) -> bool:
    """Whether an upstream key under ``root`` is a client object (not a gateway record)."""
    rest = key[len(root[2]) :]
    if home and rest.startswith("."):
        return False
    return not any(rest.startswith(name) for name in NOT_COUNTED)


def completed_size(requested: list[CompletedPart], stored: Iterable[PartInfo]) -> int:
    """The size of the object a CompleteMultipartUpload makes: its listed parts' sizes."""
    sizes = {(part.part_number, _bare(part.etag)): part.size for part in stored}
    return sum(sizes.get((part.part_number, _bare(part.etag)), 0) for part in requested)


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _root(item: Any) -> Root | None:
    root = item.get("root") if isinstance(item, dict) else None
    if isinstance(root, list) and len(root) == 3 and all(isinstance(p, str) for p in root):
        return (root[0], root[1], root[2])
    return None


def _pair(value: Any) -> Usage:
    if isinstance(value, list) and len(value) == 2:
        return Usage(int(value[0]), int(value[1]))
    return Usage()


def _items(data: bytes) -> list[Any]:
    """The ``roots`` list of a record; empty for anything unreadable (a record is advisory:
    a damaged one counts nothing rather than stopping every write)."""
    try:
        loaded = json.loads(data)
    except ValueError:
        return []
    items = loaded.get("roots") if isinstance(loaded, dict) else None
    return items if isinstance(items, list) else []


@dataclass(frozen=True, slots=True)
class Baseline:
    """One root's usage from a listing, and each record's figure for the root at that time."""

    usage: Usage
    offsets: Mapping[str, Usage]


def encode_baseline(baselines: Mapping[Root, Baseline]) -> bytes:
    roots = [
        {
            "root": list(root),
            "usage": [base.usage.objects, base.usage.bytes],
            "offsets": {
                name: [usage.objects, usage.bytes] for name, usage in sorted(base.offsets.items())
            },
        }
        for root, base in sorted(baselines.items())
    ]
    return json.dumps({"v": 1, "roots": roots}, separators=(",", ":")).encode()


def decode_baseline(data: bytes) -> dict[Root, Baseline]:
    found: dict[Root, Baseline] = {}
    for item in _items(data):
        root = _root(item)
        if root is None:
            continue
        raw = item.get("offsets")
        offsets = {str(n): _pair(v) for n, v in raw.items()} if isinstance(raw, dict) else {}
        found[root] = Baseline(_pair(item.get("usage")), offsets)
    return found


def encode_record(figures: Mapping[Root, Usage]) -> bytes:
    roots = [
        {"root": list(root), "usage": [usage.objects, usage.bytes]}
        for root, usage in sorted(figures.items())
    ]
    return json.dumps({"v": 1, "roots": roots}, separators=(",", ":")).encode()


def decode_record(data: bytes) -> dict[Root, Usage]:
    found: dict[Root, Usage] = {}
    for item in _items(data):
        root = _root(item)
        if root is not None:
            found[root] = _pair(item.get("usage"))
    return found


def combine(root: Root, baseline: Baseline, records: Mapping[str, Mapping[Root, Usage]]) -> Usage:
    """A root's usage: the baseline, plus what each record added after it was taken."""
    total = baseline.usage
    for name, figures in records.items():
        now = figures.get(root, Usage())
        then = baseline.offsets.get(name, Usage())
        total += Usage(now.objects - then.objects, now.bytes - then.bytes)
    return total


# -- the book: one per tenant home and process -----------------------------------------------


class UsageBook:
    def __init__(self, layout: TenantLayout, backends: Mapping[str, Backend]) -> None:
        assert layout.home is not None  # check-config: S3 quotas need a home
        self._home: UpstreamRoot = layout.home
        self._backends = backends
        self._name = f"{uuid.uuid4().hex}"
        self._mine: dict[Root, Usage] = {}
        self._held: dict[Root, Usage] = {}
        self._records: dict[str, tuple[str, dict[Root, Usage]]] = {}
        """Other processes' records: name → (ETag, figures)."""
        self._baselines: dict[Root, Baseline] = {}
        self._baseline_etag = ""
        self._read_at = -math.inf
        self._lock = asyncio.Lock()
        self._flush: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self._published: dict[Root, Usage] = {}

    @property
    def _backend(self) -> Backend:
        return self._backends[self._home.upstream]

    def _key(self, name: str) -> str:
        return f"{self._home.prefix}{RECORDS}{name}"

    # -- reading ----------------------------------------------------------------------------

    def usage(self, root: Root) -> Usage:
        """This process's view of a root (known roots only: see :meth:`ensure`)."""
        baseline = self._baselines.get(root, Baseline(Usage(), {}))
        records = {n: figures for n, (_, figures) in self._records.items()}
        records[self._name] = self._mine
        return combine(root, baseline, records) + self._held.get(root, Usage())

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
        listed: dict[str, str] = {}
        token: str | None = None
        while True:
            page = await self._backend.list_objects(
                self._home.bucket, self._key(""), None, None, PAGE, token
            )
            for entry in page.entries:
                listed[entry.key[len(self._key("")) :]] = entry.etag
            token = page.next_token
            if token is None or not page.entries:
                break
        others = {n: etag for n, etag in listed.items() if n not in (BASELINE, self._name)}
        changed = [n for n, etag in others.items() if self._records.get(n, ("",))[0] != etag]
        limit = asyncio.Semaphore(HEAD_AT_ONCE)

        async def fetch(name: str) -> dict[Root, Usage]:
            async with limit:
                return decode_record(await self._get(name))

        fetched = dict(zip(changed, await asyncio.gather(*map(fetch, changed)), strict=True))
        self._records = {
            n: (etag, fetched[n]) if n in fetched else self._records[n]
            for n, etag in others.items()
        }
        baseline_etag = listed.get(BASELINE)
        if baseline_etag is None:
            self._baselines = {}
        elif baseline_etag != self._baseline_etag:
            self._baselines = decode_baseline(await self._get(BASELINE))
        self._baseline_etag = baseline_etag or ""
        self._read_at = started

    async def _get(self, name: str) -> bytes:
        found = await read_record(self._backend, self._home.bucket, self._key(name), MAX_RECORD)
        return b"{}" if found is None else found[0]

    async def _put(self, name: str, data: bytes) -> None:
        json_type = ObjectAttributes({"content-type": "application/json"})
        await write_record(
            self._backend, self._home.bucket, self._key(name), data, attributes=json_type
        )

    async def _take_baselines(self, roots: set[Root]) -> None:
        """Count each root by a listing; record what the records held then (read just
        before), so writes already published are not counted twice."""
        if not roots:
            return
        await self._publish()
        offsets = {name: figures for name, (_, figures) in self._records.items()}
        offsets[self._name] = self._published  # what every process reads of this one
        taken: dict[Root, Baseline] = {}
        for root in sorted(roots):
            listed = await self._list(root)
            taken[root] = Baseline(listed, {n: f[root] for n, f in offsets.items() if root in f})
        # Merge into the stored baseline as it is now: another process may have added roots.
        stored = decode_baseline(await self._get(BASELINE))
        self._baselines = {**self._baselines, **stored, **taken}
        await self._put(BASELINE, encode_baseline(self._baselines))

    async def _list(self, root: Root) -> Usage:
        backend = self._backends[root[0]]
        home = (root[0], root[1], root[2]) == (
            self._home.upstream,
            self._home.bucket,
            self._home.prefix,
        )
        total = Usage()
        token: str | None = None
        while True:
            page = await backend.list_objects(root[1], root[2], None, None, PAGE, token)
            for entry in page.entries:
                if counted(root, entry.key, home):
                    total += Usage(1, entry.size)
            token = page.next_token
            if token is None or not page.entries:
                return total

    # -- writing ----------------------------------------------------------------------------

    async def guarded(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        size: int,
        write: Callable[[], Awaitable[T]],
    ) -> T:
        """Check a write of ``size`` bytes at ``location`` against ``scopes``, hold it while
        it runs, and count it once it has succeeded (403 QuotaExceeded, nothing written)."""
        replaced = await head_size(self._backends[location.upstream], location)
        roots = [r for scope in scopes for r in scope.roots]
        await self.ensure(roots)
        for scope in scopes:
            if not any(self._holds(r, location) for r in scope.roots):
                continue
            before = sum((self.usage(r) for r in scope.roots), Usage())
            if exceeded(scope, before, after_write(before, replaced, size)):
                raise S3Error(S3ErrorCode.QuotaExceeded)
        change = after_write(Usage(), replaced, size)
        touched = sorted({r for r in roots if self._holds(r, location)})
        self._add(self._held, touched, change)
        try:
            result = await write()
        finally:
            self._add(self._held, touched, Usage(-change.objects, -change.bytes))
        self._add(self._mine, touched, change)
        self._changed()
        return result

    async def removed(
        self,
        scopes: tuple[QuotaScope, ...],
        locations: list[UpstreamLocation],
        remove: Callable[[], Awaitable[T]],
        succeeded: Callable[[T, UpstreamLocation], bool] = lambda _, __: True,
    ) -> T:
        """Delete, then free what the deleted objects counted (sizes read before)."""
        limit = asyncio.Semaphore(HEAD_AT_ONCE)

        async def size(location: UpstreamLocation) -> int | None:
            async with limit:
                return await head_size(self._backends[location.upstream], location)

        sizes = await asyncio.gather(*(size(location) for location in locations))
        result = await remove()
        roots = {r for scope in scopes for r in scope.roots}
        for location, found in zip(locations, sizes, strict=True):
            if found is not None and succeeded(result, location):
                touched = [r for r in roots if self._holds(r, location)]
                self._add(self._mine, touched, Usage(-1, -found))
        self._changed()
        return result

    @staticmethod
    def _holds(root: Root, location: UpstreamLocation) -> bool:
        return root[0] == location.upstream and within(root, location.bucket, location.key)

    @staticmethod
    def _add(figures: dict[Root, Usage], roots: Iterable[Root], change: Usage) -> None:
        for root in roots:
            figures[root] = figures.get(root, Usage()) + change

    # -- publishing ---------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(_interval, self._start_publish)

    def _start_publish(self) -> None:
        self._flush = asyncio.get_running_loop().create_task(self._scheduled())

    async def _scheduled(self) -> None:
        try:
            await self._publish()
        except Exception as exc:  # upstream away: keep the changes, try again an interval later
            log.warning("quota usage record not published (retrying): %r", exc)
            self._flush = None
            self._changed()
            return
        self._flush = None
        if self._mine != self._published:  # changed while publishing
            self._changed()

    async def _publish(self) -> None:
        snapshot = dict(self._mine)
        if snapshot != self._published:
            await self._put(self._name, encode_record(snapshot))
            self._published = snapshot

    async def close(self) -> None:
        """Publish what is left (at shutdown)."""
        if isinstance(self._flush, asyncio.TimerHandle):
            self._flush.cancel()
        self._flush = None
        await self._publish()


async def head_size(backend: Backend, location: UpstreamLocation) -> int | None:
    """The size of the object at ``location``; None if there is none. A HEAD, or where the
    upstream refuses one (an SSE-C object, whose key this request may not carry) the
    object's listing entry: the first key of a listing from the key itself."""
    try:
        info = await backend.head_object(location.bucket, location.key, ReadConditions())
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            return None
        if error.status >= 500:
            raise
        entry = await listed_entry(backend, location)
        return entry.size if entry is not None else None
    return info.size


async def listed_entry(backend: Backend, location: UpstreamLocation) -> ListEntry | None:
    """The listing entry of the object at ``location`` (None: there is none): the first key
    of a one-key listing from the key itself. For an object whose HEAD the upstream refuses
    (an SSE-C object, whose key the request may not carry)."""
    page = await backend.list_objects(location.bucket, location.key, None, None, 1)
    found = [entry for entry in page.entries if entry.key == location.key]
    return found[0] if found else None


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
