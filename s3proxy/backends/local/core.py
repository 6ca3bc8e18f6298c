"""The local store's machinery: directory lock, database thread, recovery, blob lifetimes.

Why one database thread: every SQLite statement, every blob rename into place and every blob
unlink runs on it, one job at a time. That makes "is this blob stored?", "rename it into place",
"commit the row" and "the last reference went: unlink it" one serial story, so a PUT can never
reference a blob that a concurrent DELETE is removing. Body bytes never go through it: they are
written and read on ``asyncio.to_thread`` workers.

Why pins: a GET looks its blobs up (and pins them) on the database thread, then streams them
later. A blob whose last reference goes while pinned is unlinked only when its last reader
closes — unless a new row references it again by then.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from s3proxy import quotas
from s3proxy.backends.local.blobs import BlobFiles, WrittenBlob, make_durable_dir
from s3proxy.backends.local.fair_jobs import FairJobs
from s3proxy.backends.local.index import (
    DB_FILE,
    Index,
    ObjectRecord,
    connect,
    parts_under,
    read_figures,
    usage_under,
)
from s3proxy.backends.local.reserve import Reserve, disk_full, full_error
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import Body, ObjectAttributes, QuotaScope, without_aws_chunked
from s3proxy.quotas import Root, Usage, within

log = logging.getLogger("s3proxy.local")

LOCK_FILE = "store.lock"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoreStats:
    objects: int
    logical_bytes: int
    """Sum of object sizes, as clients see them."""
    blobs: int
    physical_bytes: int
    """Sum of distinct blob sizes (parts of unfinished uploads included): what the disk holds."""

    @property
    def ratio(self) -> float:
        """Logical over physical bytes: 100 copies of one body → 100.0."""
        return self.logical_bytes / self.physical_bytes if self.physical_bytes else 1.0


def read_stats(root: Path) -> StoreStats:
    """Figures of the store at ``root``, read-only: safe while a server has it open."""
    root = Path(root)
    if not (root / "index.sqlite3").is_file():
        return StoreStats(0, 0, 0, 0)
    connection = connect(root, read_only=True)
    try:
        return StoreStats(*read_figures(connection))
    finally:
        connection.close()


def read_usage(root: Path, roots: Iterable[tuple[str, str]]) -> Usage:
    """Objects and bytes under (bucket, prefix) roots of the store at ``root``, read-only."""
    root = Path(root)
    if not (root / "index.sqlite3").is_file():
        return Usage()
    connection = connect(root, read_only=True)
    try:
        connection.execute("BEGIN")
        total = Usage()
        for bucket, prefix in roots:
            objects, size = usage_under(connection, bucket, prefix)
            parts = parts_under(connection, bucket, prefix)
            total += Usage(objects, size + parts, parts)
        connection.execute("COMMIT")
        return total
    finally:
        connection.close()


def stored_attributes(attributes: ObjectAttributes) -> tuple[dict[str, str], dict[str, str]]:
    """Content headers (never ``aws-chunked``, a transfer detail) and metadata to store."""
    headers = dict(attributes.headers)
    encoding = headers.pop("content-encoding", None)
    if encoding is not None:
        kept = without_aws_chunked(encoding)
        if kept is not None:
            headers["content-encoding"] = kept
    return headers, dict(attributes.metadata)


CHECKSUM_HEADER = "x-amz-checksum-"


def _algorithm(header: str) -> str | None:
    """``x-amz-checksum-crc32`` → ``CRC32``. Not :mod:`s3proxy.checksums`: its awscrt import
    costs a quarter second, which ``s3proxy stats`` should not pay."""
    name = header.strip().lower()
    return name[len(CHECKSUM_HEADER) :].upper() if name.startswith(CHECKSUM_HEADER) else None


def declared_checksums(
    checksum: tuple[str, str] | None, trailer: tuple[str, object] | None
) -> dict[str, str]:
    """The body's flexible checksum (already verified by the proxy), by algorithm."""
    sums: dict[str, str] = {}
    if checksum is not None:
        algorithm = _algorithm(checksum[0])
        if algorithm is not None:
            sums[algorithm] = checksum[1]
    if trailer is not None:
        algorithm = _algorithm(trailer[0])
        getter = trailer[1]
        if algorithm is not None and callable(getter):
            sums[algorithm] = str(getter())
    return sums


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class StoreInUse(OSError, RuntimeError):
    """Another process (or store) holds the directory's lock. An OSError, so that ``serve``
    reports it in one line ("cannot serve: ...") instead of a traceback, and exits 1 before
    it touches anything in the directory (the holder's temp files included)."""

    def __str__(self) -> str:
        return str(self.strerror)


def _take_lock(root: Path) -> int:
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreInUse(
            errno.EBUSY, f"the local store at '{root}' is in use by another process (or store)"
        ) from None
    return fd


class StoreCore:
    """What object and multipart operations share (see the module docstring)."""

    unlimited_keys = True
    """No limit on stored key length (keys are column values): :mod:`s3proxy.layout` then
    refuses only client keys over S3's 1024 bytes, not longer internal keys (root prefix and
    shard included) as it must for an S3 upstream's 1024-byte limit."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = Path(root).absolute()
        make_durable_dir(self.root)
        self._lock_fd = _take_lock(self.root)
        self._shm = str(self.root / f"{DB_FILE}-shm")
        try:
            self.reserve = Reserve(name, self.root)
            try:
                self._open()
            except Exception:
                if not self.reserve.release():  # on a full disk, opening needs that room
                    raise
                self._open()
            if not self.reserve.restore():
                log.warning("local store %s: its disk is full: writes are refused", name)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._executor = FairJobs(f"s3proxy-local-{name}")  # tenants in turn
        self._pins: dict[str, int] = {}
        self._doomed: set[str] = set()
        self._pin_lock = threading.Lock()
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()

    def _open(self) -> None:
        self.files = BlobFiles(self.root)
        connection = connect(self.root)
        try:
            self.index = Index(connection)
            self._recover()
        except BaseException:
            connection.close()
            raise

    def _recover(self) -> None:
        """After any crash: counts from the rows, no temp file, no blob without a reference."""
        referenced = self.index.recount()
        temps, orphans, found = self.files.sweep(referenced)
        missing = referenced - found
        if temps or orphans:
            log.info(
                "local store %s: removed %d temp files, %d orphan blobs", self.name, temps, orphans
            )
        if missing:  # only a damaged disk or a hand-edited directory can get here
            log.error("local store %s: %d referenced blobs are missing", self.name, len(missing))

    # -- the database thread -----------------------------------------------------------------

    async def _run(
        self,
        function: Callable[..., T],
        *args: object,
        abandoned: Callable[[T], Coroutine[Any, Any, None]] | None = None,
        never_ran: Callable[[], None] | None = None,
        cancellable: bool = True,
    ) -> T:
        """Run ``function`` on the database thread. Shielded: once it runs, a job finishes
        even if the request is cancelled (a client gone, or the shutdown timeout's 503), so no
        half-done job; ``abandoned`` then gets the result nobody awaits (to release what it
        holds). A job cancelled while still queued behind others never runs (unless not
        ``cancellable``): a request answered 503 at shutdown stores nothing it had not begun
        to commit; ``never_ran`` then drops what the job would have used (its temp blob)."""
        if self._closed:
            raise S3Error(S3ErrorCode.ServiceUnavailable)
        loop = asyncio.get_running_loop()
        job = functools.partial(self._guarded, function, *args)
        queued = self._executor.submit(job)
        future = asyncio.wrap_future(queued, loop=loop)
        try:
            return await asyncio.shield(future)
        except Exception as exc:
            if disk_full(exc):
                raise full_error(self.name, exc) from exc
            raise
        except asyncio.CancelledError:
            if cancellable and queued.cancel():  # still queued: it will never run
                if never_ran is not None:
                    never_ran()
                raise
            release = abandoned

            def done(finished: asyncio.Future[T]) -> None:
                # Always look at the outcome, so an error nobody awaits is not logged as lost.
                if finished.cancelled() or finished.exception() is not None:
                    return
                if release is not None:
                    task = loop.create_task(release(finished.result()))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)

            future.add_done_callback(done)
            raise

    def _guarded(self, function: Callable[..., T], *args: object) -> T:
        """Database thread: ``function``, unless SQLite's shared-memory file cannot be written.
        SQLite maps that file and writes to it on every read and write; a write to the mapping
        of a file turned immutable, or of a file system remounted read-only after disk errors,
        is SIGBUS, which killed the process (the store's one server process) where an answer
        (503, reads and writes alike, until the file is writable again) keeps it serving."""
        if not self._shm_writable():
            raise S3Error(
                S3ErrorCode.ServiceUnavailable,
                "The server's storage cannot be written. Please retry later.",
            )
        return function(*args)

    def _shm_writable(self) -> bool:
        if os.access(self._shm, os.W_OK) or not os.path.exists(self._shm):
            return True
        log.error("local store %s: %s cannot be written: requests refused", self.name, self._shm)
        return False

    # -- room on the disk (:mod:`.reserve`) ---------------------------------------------------

    async def _room(self) -> None:
        """Before a write that adds data: the reserve back in place, or the write refused."""
        if not self.reserve.held and not await asyncio.to_thread(self.reserve.restore):
            raise full_error(self.name, "the reserve cannot be put back")

    async def _write_blob(self, body: Body | AsyncIterator[bytes], operation: str) -> WrittenBlob:
        """A body into a temp file (:meth:`BlobFiles.write`), when the disk has room for it."""
        await self._room()
        try:
            return await self.files.write(body, operation)
        except OSError as exc:
            if disk_full(exc):
                raise full_error(self.name, exc) from exc
            raise

    def _freeing(self, job: Callable[..., T], *args: object) -> T:
        """Database thread: ``job`` (which frees space), run again once without the reserve
        if it failed for want of room (its transaction was rolled back); no write can put
        the reserve back before the second run ends."""
        try:
            return job(*args)
        except Exception as exc:
            if not disk_full(exc):
                raise
            with self.reserve.released() as freed:
                if not freed:
                    raise
                return job(*args)

    def _install_or_discard(self, blob: WrittenBlob, operation: str) -> None:
        """On the database thread, inside the transaction about to reference ``blob``."""
        if self.index.blob_known(blob.sha256):
            self.files.discard(blob)
        else:
            self.files.install(blob, operation)

    def _forget_unused(self, blob: WrittenBlob) -> None:
        """After a failed transaction: drop the temp, and the blob if nothing references it."""
        self.files.discard(blob)
        self._free([blob.sha256], "abandon", check=True)

    def _free(self, shas: Iterable[str], operation: str, check: bool = False) -> None:
        """Unlink blobs whose last reference is committed gone (database thread only)."""
        doomed: list[str] = []
        with self._pin_lock:
            for sha in shas:
                if check and self.index.blob_known(sha):
                    continue
                if self._pins.get(sha):
                    self._doomed.add(sha)
                else:
                    doomed.append(sha)
        self.files.unlink(doomed, operation)

    # -- readers' pins -----------------------------------------------------------------------

    def _pin(self, shas: Iterable[str]) -> list[str]:
        """Database thread: keep these blobs' files until :meth:`_unpin`."""
        pinned = list(shas)
        with self._pin_lock:
            for sha in pinned:
                self._pins[sha] = self._pins.get(sha, 0) + 1
        return pinned

    async def _unpin(self, shas: list[str]) -> None:
        released: list[str] = []
        with self._pin_lock:
            for sha in shas:
                count = self._pins.get(sha, 0) - 1
                if count > 0:
                    self._pins[sha] = count
                    continue
                self._pins.pop(sha, None)
                if sha in self._doomed:
                    self._doomed.discard(sha)
                    released.append(sha)
        if released and not self._closed:
            await self._run(self._free, released, "release", True, cancellable=False)

    async def _unpin_record(self, record: ObjectRecord) -> None:
        await self._unpin([part.sha256 for part in record.segments])

    # -- quotas (s3proxy.quotas) -------------------------------------------------------------

    def _usage(self, roots: tuple[Root, ...]) -> Usage:
        total = Usage()
        for upstream, bucket, prefix in roots:
            if upstream == self.name:
                objects, size, parts = self.index.usage(bucket, prefix)
                total += Usage(objects, size + parts, parts)
        return total

    def _check_quota(
        self,
        scopes: tuple[QuotaScope, ...],
        bucket: str,
        key: str,
        replaced: int | None,
        size: int,
    ) -> None:
        """Inside the write's transaction (or before it, for the early check)."""
        for scope in scopes:
            counted = any(within(root, bucket, key) for root in scope.roots)
            quotas.check(scope, self._usage(scope.roots), replaced if counted else None, size)

    def _check_change(
        self, scopes: tuple[QuotaScope, ...], bucket: str, key: str, change: Usage
    ) -> None:
        """Like :meth:`_check_quota`, for any change under (bucket, key): a part's, a
        Complete's (inside the write's transaction, or before it for the early check)."""
        for scope in scopes:
            if any(within(root, bucket, key) for root in scope.roots):
                quotas.check_change(scope, self._usage(scope.roots), change)

    def _part_change(self, upload_id: str, part_number: int, size: int) -> Usage:
        """A part of ``size`` bytes stored under ``part_number``, in place of the one there."""
        row = self.index.db.execute(
            "SELECT size FROM parts WHERE upload_id = ? AND part_number = ?",
            (upload_id, part_number),
        ).fetchone()
        return quotas.parts_change(size, int(row[0]) if row is not None else 0)

    def _check_quota_now(
        self, scopes: tuple[QuotaScope, ...], bucket: str, key: str, size: int
    ) -> None:
        current = self.index.find_object(bucket, key, with_segments=False)
        self._check_quota(scopes, bucket, key, current.size if current else None, size)

    def _check_part_now(
        self,
        scopes: tuple[QuotaScope, ...],
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        size: int,
    ) -> None:
        change = self._part_change(upload_id, part_number, size)
        self._check_change(scopes, bucket, key, change)

    async def usage(self, roots: tuple[Root, ...]) -> Usage:
        return await self._run(self._usage, roots)

    async def check_quota(
        self, scopes: tuple[QuotaScope, ...], bucket: str, key: str, size: int
    ) -> None:
        if scopes:
            await self._run(self._check_quota_now, scopes, bucket, key, size)

    async def check_part_quota(
        self,
        scopes: tuple[QuotaScope, ...],
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        size: int,
    ) -> None:
        if scopes:
            await self._run(self._check_part_now, scopes, bucket, key, upload_id, part_number, size)

    # -- Backend: lifecycle ------------------------------------------------------------------

    async def stats(self) -> StoreStats:
        return StoreStats(*await self._run(read_figures, self.index.db))

    async def check_ready(self, bucket: str) -> None:
        """Any bucket name works (it is a column); ready while open and writable."""
        if not await self._run(self._writable):
            raise S3Error(S3ErrorCode.ServiceUnavailable)

    def _writable(self) -> bool:
        self.index.db.execute("SELECT 1").fetchone()
        return os.access(self.files.tmp, os.W_OK) and os.access(self.files.blobs, os.W_OK)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, True)
        if self._shm_writable():  # closing checkpoints through the mapping (:meth:`_guarded`)
            self.index.db.close()
        os.close(self._lock_fd)
