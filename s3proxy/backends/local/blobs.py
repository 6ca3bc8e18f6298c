"""Content-addressed blob files of the local store: written once, renamed into place, never edited.

Why content addressing: identical bytes (the same file uploaded by many keys, buckets or
tenants, or the same multipart part) are stored once, at ``blobs/ab/cd/<sha256>``. A key never
becomes a path, so no key can escape the data directory. Why temp-then-rename: a blob path
exists only once its bytes are complete and fsynced, so after ``kill -9`` at any moment a blob
file is either whole or absent; what is left in ``tmp/`` is garbage, removed at start-up.

Everything here is blocking file I/O: callers run it off the event loop (``asyncio.to_thread``
or the store's database thread). Writing takes the body in bounded batches, never whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from s3proxy.durable import fsync_directory as _fsync_dir
from s3proxy.model import Body

log = logging.getLogger("s3proxy.local")

WRITE_BATCH = 1024 * 1024
"""Bytes gathered from the body before one write+hash runs in a thread (bounds memory too)."""
READ_CHUNK = 1024 * 1024
CRASH_ENV = "S3PROXY_LOCAL_CRASH_AT"
"""Test hook: ``<operation>/<point>`` (e.g. ``put/after-rename``) makes the process SIGKILL
itself there, so the crash tests can stop the store at every step that matters."""


def crash_point(operation: str, point: str) -> None:
    """Die like ``kill -9`` here when the crash tests ask for it (a no-op otherwise)."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted is not None and wanted == f"{operation}/{point}":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class WrittenBlob:
    """A body written to a temp file: not yet a blob until :meth:`BlobFiles.install`."""

    temp: Path
    sha256: str
    md5: str
    size: int


class _TempWriter:
    """One temp file being filled, hashing as it goes (used from worker threads only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.md5.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def finish(self, operation: str) -> None:
        crash_point(operation, "after-temp-write")
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        crash_point(operation, "after-fsync")

    def abandon(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.path.unlink(missing_ok=True)


class BlobFiles:
    """The ``blobs/`` and ``tmp/`` directories under a store's root."""

    def __init__(self, root: Path) -> None:
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        make_durable_dir(self.blobs)
        make_durable_dir(self.tmp)

    def path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256[2:4] / sha256

    async def write(self, body: Body | AsyncIterator[bytes], operation: str) -> WrittenBlob:
        """Stream ``body`` into a fsynced temp file. If the body raises (failed verification,
        client gone), the temp file is removed and the error propagates: nothing changed."""
        writer = await asyncio.to_thread(_TempWriter, self.tmp / f"{uuid.uuid4().hex}.part")
        try:
            batch = bytearray()
            async for chunk in body:
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    data, batch = bytes(batch), bytearray()
                    await asyncio.to_thread(writer.write, data)
            if batch:
                await asyncio.to_thread(writer.write, bytes(batch))
            await asyncio.to_thread(writer.finish, operation)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(writer.abandon))
            raise
        return WrittenBlob(
            writer.path, writer.sha256.hexdigest(), writer.md5.hexdigest(), writer.size
        )

    def install(self, blob: WrittenBlob, operation: str) -> None:
        """Make the temp file the blob ``blob.sha256`` (atomic rename, directory fsynced).

        Called on the database thread just before the transaction that first references the
        blob, so no concurrent delete can remove the file between this and the commit.
        """
        target = self.path(blob.sha256)
        if not target.parent.is_dir():
            target.parent.parent.mkdir(exist_ok=True)
            _fsync_dir(self.blobs)
            target.parent.mkdir(exist_ok=True)
            _fsync_dir(target.parent.parent)
        os.rename(blob.temp, target)
        _fsync_dir(target.parent)
        crash_point(operation, "after-rename")

    def discard(self, blob: WrittenBlob) -> None:
        """Drop a temp file whose bytes are already stored (dedup) or no longer wanted."""
        blob.temp.unlink(missing_ok=True)

    def unlink(self, shas: Iterable[str], operation: str) -> None:
        """Remove blob files whose last reference is gone (already committed). A file that
        cannot be removed (an I/O error, a read-only directory) is logged and left for the
        start-up sweep: the write that freed it is done, and answering it 500 would have a
        client retry it (a retried Complete then finds its upload gone: NoSuchUpload)."""
        for sha in shas:
            try:
                self.path(sha).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("local store: blob %s left for the start-up sweep (%s)", sha, exc)
            crash_point(operation, "during-unlink")

    def sweep(self, referenced: set[str]) -> tuple[int, int, set[str]]:
        """Start-up clean-up: remove every temp file and every blob no row references.

        Returns (temp files removed, orphan blobs removed, blobs kept)."""
        temps = 0
        for entry in self.tmp.iterdir():
            entry.unlink(missing_ok=True)
            temps += 1
        orphans = 0
        kept: set[str] = set()
        for path in self.blobs.glob("*/*/*"):
            if path.name in referenced:
                kept.add(path.name)
            else:
                path.unlink(missing_ok=True)
                orphans += 1
        return temps, orphans, kept


@dataclass(frozen=True, slots=True)
class Segment:
    """One blob of an object (the whole object, or one part of a multipart object)."""

    sha256: str
    size: int


def _wanted(segments: list[Segment], first: int, last: int) -> Iterator[tuple[Segment, int, int]]:
    """(segment, position in it, bytes from there) for each segment bytes ``first``..``last``
    (inclusive) of the concatenation touch."""
    offset = 0
    for segment in segments:
        start, end = offset, offset + segment.size - 1
        offset += segment.size
        if end < first or start > last or segment.size == 0:
            continue
        position = max(first, start) - start
        yield segment, position, min(last, end) - start - position + 1


def open_first(files: BlobFiles, segments: list[Segment], first: int, last: int) -> BinaryIO | None:
    """The file of the first segment a read needs, opened before the answer's head goes out:
    a blob missing from the disk is then a 500, not a 200 cut short (blocking: a thread's)."""
    for segment, _, _ in _wanted(segments, first, last):
        return _open(files.path(segment.sha256))
    return None


async def read_segments(
    files: BlobFiles,
    segments: list[Segment],
    first: int,
    last: int,
    opened: BinaryIO | None = None,
) -> AsyncGenerator[bytes, None]:
    """Bytes ``first``..``last`` (inclusive) of the concatenation of ``segments``, read in
    1 MiB chunks from a worker thread; ``opened`` is the first one's file (:func:`open_first`).
    The file open at any moment is closed when the generator is closed, even if the body was
    not read to the end (``opened`` only once the generator has started: its caller closes it
    too, which is harmless twice)."""
    for segment, position, remaining in _wanted(segments, first, last):
        if opened is not None:
            handle, opened = opened, None
        else:
            handle = await asyncio.to_thread(_open, files.path(segment.sha256))
        try:
            await asyncio.to_thread(handle.seek, position)
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK, remaining))
                if not chunk:
                    raise ConnectionError("blob file ended early")
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.shield(asyncio.to_thread(handle.close))


def _open(path: Path) -> BinaryIO:
    return path.open("rb", buffering=0)


def make_durable_dir(path: Path) -> None:
    """``mkdir -p`` whose new entries survive a power cut: each directory it creates has its
    parent fsynced, so the first PUT's 200 does not rest on a store directory (or its
    ``blobs/``) that a crash of the file system could still take back."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        _fsync_dir(directory.parent)
