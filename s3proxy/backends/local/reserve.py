"""Room kept back on the store's disk, so that deleting objects still works when it is full.

Why: every change to the index, a DELETE's too, appends pages to SQLite's write-ahead log, and
opening the index creates its shared-memory file. On a disk filled to its last block (by this
store or by anything else on the file system) both fail: a DELETE through S3 answered 500 and a
restart could not open the store, so no client could free space and the only way out was a
shell on the host. The store therefore keeps ``reserve``, :data:`RESERVE_BYTES` allocated to a
file in its directory. An operation that frees space (DeleteObject(s), AbortMultipartUpload)
and fails for want of room releases the reserve and runs again; opening the store does the
same. Every operation that adds data puts the reserve back first and is refused while it
cannot: writes stop :data:`RESERVE_BYTES` before the disk is full, deletes keep working.

A full disk is 500 InternalError (:func:`full_error`): S3 has no error for it, and the other
candidate, 503 SlowDown, tells a client that its request rate is the cause (adaptive SDK
clients then throttle themselves), which sending slower does not cure.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from s3proxy.errors import S3Error, S3ErrorCode

log = logging.getLogger("s3proxy.local")

RESERVE_FILE = "reserve"
RESERVE_BYTES = 8 * 1024 * 1024
"""Room for the shared-memory file (32 KiB) and the log of a start and of deletes: a DeleteObject
writes a few pages (4 KiB each); 1,000 keys scattered over a store of 50,000 write ~11 MiB in
one transaction, so a batch that finds no room is deleted key by key (``_delete_keys``)."""
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""No space, over the disk quota, over the process's file-size limit: no room, for us."""
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})
"""What makes :meth:`Reserve.restore` wait for deletes; any other failure gives the reserve up."""
SQLITE_FULL = 13


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or a quota on it) has no room for the write."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return isinstance(code, int) and code & 0xFF == SQLITE_FULL
    return False


def full_error(name: str, detail: object) -> S3Error:
    """The client's answer to a write the disk had no room for; the operator gets one line."""
    log.warning("local store %s: no room on its disk for a write (%s)", name, detail)
    return S3Error(
        S3ErrorCode.InternalError,
        "The server's storage is full: delete objects (or add space), then retry.",
    )


class Reserve:
    """The ``reserve`` file of one store directory (blocking calls: run them off the loop)."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.path = root / RESERVE_FILE
        self._lock = threading.Lock()
        self.held = self._whole()

    def _whole(self) -> bool:
        """Whether the file holds its blocks (a copy made sparse by a backup tool does not)."""
        try:
            return self.path.stat().st_blocks * 512 >= RESERVE_BYTES
        except FileNotFoundError:
            return False

    def release(self) -> bool:
        """Give the room back to the file system; whether there was any to give."""
        with self.released() as existed:
            return existed

    @contextmanager
    def released(self) -> Iterator[bool]:
        """:meth:`release`, and :meth:`restore` kept waiting until the block ends: the delete
        run again there gets the room, not a concurrent write putting the reserve back."""
        with self._lock:
            existed = self.path.exists()
            self.path.unlink(missing_ok=True)
            self.held = False
            if existed:
                log.warning("local store %s: disk full: reserve released for deletes", self.name)
            yield existed

    def restore(self) -> bool:
        """Allocate the reserve again; False (and no partial file) while the disk has no room.
        True also when the reserve cannot be kept at all, warned about once."""
        with self._lock:
            if self.held:
                return True
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    _allocate(fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)
                if exc.errno in NO_ROOM:
                    return False
                # Not for want of room (a directory writes are refused in, a file-size limit
                # below the reserve): no reserve this run, rather than no write at all.
                log.warning("local store %s: no disk reserve kept (%s)", self.name, exc)
            self.held = True
            return True


def _allocate(fd: int) -> None:
    """Blocks for RESERVE_BYTES: allocated where the file system can, else written."""
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    chunk = os.urandom(1024 * 1024)  # incompressible: a compressing file system keeps it whole
    for _ in range(RESERVE_BYTES // len(chunk)):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
