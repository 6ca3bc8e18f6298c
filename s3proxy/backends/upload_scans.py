"""Upload listings of an upstream whose every ListMultipartUploads reads its whole bucket.

SeaweedFS 4.48 answers ListMultipartUploads by reading every upload of the upstream bucket —
those of every tenant whose home is there — and only then filters them by prefix and cuts the
page: one call costs what the bucket holds, whatever is asked (160–530 ms with 3,000 uploads,
BENCHMARKS.md "Wave 16 F"). Its markers are misread, so the proxy asks such an upstream for
whole pages and cuts them itself (:mod:`~s3proxy.backends.upload_markers`, the ``WHOLE``
mode), one per shard: a client page over 16 shards was 16 such scans at once, a tenant with
four pages running (its expensive slots) kept 64 in the upstream, and another tenant's 1 KiB
GET went from 6–11 to 74–81 ms (p50) while it listed, because the upstream was busy scanning.

Two things here bound that:

- :func:`cut_from_whole`: a page first reads its whole bucket root (every shard), in at most
  :data:`WHOLE_PAGES` upstream answers (:func:`whole_listing`, by upload id past the first).
  When that holds every upload, every shard's page is cut from it exactly as from a shard's
  own whole listing (:func:`~s3proxy.backends.upload_markers.uploads_after`, the same cut):
  a scan or a few a page instead of 16 or more. A root holding more is read per shard as
  before, but each shard once a page (a shard read in several pieces by the merge asked the
  upstream for each: 19–24 scans a page), and the root is not asked whole again for
  :data:`CROWDED_SECONDS`.
- :class:`ScanTurns`: each tenant (:data:`s3proxy.limits.CURRENT_TENANT`: anonymous readers
  of a public bucket are the owner's anonymous pool, never the owner; a grantee is itself)
  has at most :data:`SCAN_TURNS` such scan in the upstream at a time per worker, and its turn
  rests after each scan for as long as the scan took (:data:`REST`) before its next scan
  starts: its listings keep the upstream busy at most half the time, and the rest of the
  upstream's capacity stays with everyone else. A page of one scan is not slowed; a page of
  17 (a bucket of 1,000 uploads or more) takes about twice its scans' time when nothing else
  runs. Waiting costs the tenant only its own expensive slots (s3proxy.expensive), which its
  listings hold already; a wait is not timed out (the scans ahead of it end, each bounded by
  the upstream's timeouts).

Upstreams that keep the markers (AWS S3, MinIO) or page narrowly in their own order (Ceph
RGW 16) are not affected: their listings read only what they answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from s3proxy.backends.upload_markers import Ask, by_upload_id, uploads_after
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import CURRENT_TENANT
from s3proxy.model import UploadInfo, UploadsPage

SCAN_TURNS = 1
"""Whole-bucket upload scans one tenant may have in one upstream at a time, per worker."""
REST = 1.0
"""A turn is handed on only this many times its scan's duration after the scan ended, so a
tenant's scans keep the upstream busy at most half the time per worker (BENCHMARKS.md "Wave 17
F": another tenant's GET p50 within ~1.5× its idle figure, against up to 5× with turns
alone)."""


class ScanTurns:
    """Per tenant, at most ``limit`` holders of :meth:`turn` at a time, each turn handed on
    ``rest`` times its duration after it ended; the others wait in arrival order. A tenant's
    entry lives only while it holds, rests or waits for a turn."""

    def __init__(self, limit: int = SCAN_TURNS, rest: float = REST) -> None:
        self.limit = limit
        self.rest = rest
        self._tenants: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def busy(self, tenant: str) -> int:
        """How many of ``tenant``'s scans hold, rest or wait for a turn (tests, benchmarks)."""
        entry = self._tenants.get(tenant)
        return 0 if entry is None else entry[1][0]

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the running request's tenant's turns for the body of the ``with``; the
        turn rests after it (the caller goes on at once)."""
        tenant = CURRENT_TENANT.get()
        entry = self._tenants.get(tenant)
        if entry is None:
            entry = self._tenants[tenant] = (asyncio.Semaphore(self.limit), [0])
        semaphore, users = entry
        users[0] += 1
        loop = asyncio.get_running_loop()

        def gone() -> None:
            users[0] -= 1
            if not users[0]:
                del self._tenants[tenant]

        def handed_on() -> None:
            semaphore.release()
            gone()

        try:
            await semaphore.acquire()
        except BaseException:
            gone()
            raise
        started = loop.time()
        try:
            yield
        finally:
            loop.call_later(self.rest * (loop.time() - started), handed_on)


CROWDED_SECONDS = 10.0
"""How long a prefix whose whole listing was truncated is read per shard without asking for
it whole again: such a page asked once more and parsed 1,000 uploads for nothing (+14 ms of
CPU a page)."""
CROWDED_MAX = 4096
"""Prefixes remembered as crowded per worker; past that the oldest memory is dropped."""


class Crowded:
    """Prefixes (upstream, bucket, prefix) whose whole listing held more than one answer's
    worth, for :data:`CROWDED_SECONDS`."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str, str, str], float] = {}

    def __contains__(self, place: tuple[str, str, str, str]) -> bool:
        until = self._until.get(place)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._until[place]
        return False

    def add(self, place: tuple[str, str, str, str]) -> None:
        self._until.pop(place, None)
        if len(self._until) >= CROWDED_MAX:
            del self._until[next(iter(self._until))]
        self._until[place] = time.monotonic() + CROWDED_SECONDS


CROWDED = Crowded()

TURNS: dict[tuple[str, str], ScanTurns] = {}
"""Per upstream (name, endpoint): its tenants' scan turns in this worker."""


def turns_for(upstream: tuple[str, str]) -> ScanTurns:
    turns = TURNS.get(upstream)
    if turns is None:
        turns = TURNS[upstream] = ScanTurns()
    return turns


def cut_from_whole(
    whole: UploadsPage, prefix: str, key_marker: str | None, id_marker: str | None, size: int
) -> UploadsPage:
    """A page under ``prefix`` after the markers, cut from ``whole``, a complete listing of
    ``prefix`` or of a prefix of it (the bucket root): what the upstream's own whole listing of
    ``prefix``, cut by :func:`~s3proxy.backends.upload_markers.uploads_after`, would give."""
    under = [upload for upload in whole.uploads if upload.key.startswith(prefix)]
    return uploads_after(UploadsPage(under, [], None), key_marker, id_marker, size)


WHOLE_PAGES = 4
"""Upstream answers (1,000 uploads each) one whole listing of a prefix is read in at most: it is
held for the whole client page (every shard's page is cut from it), so this bounds a page's
memory (~2 MB) and the CPU of its cuts; a prefix holding more is read per shard, each shard's
page keeping only what it answers (:func:`~s3proxy.backends.upload_markers.id_order_page`)."""


async def whole_listing(ask: Ask, prefix: str) -> UploadsPage | None:
    """Every upload under ``prefix`` from at most :data:`WHOLE_PAGES` upstream answers (by
    upload id past the first); None when there are more, or they cannot be read that way."""
    uploads: list[UploadInfo] = []
    try:
        async for page in by_upload_id(ask, prefix, WHOLE_PAGES):
            uploads += page
    except S3Error as error:
        if error.code is not S3ErrorCode.NotImplemented:
            raise
        return None
    return UploadsPage(uploads, [], None)
