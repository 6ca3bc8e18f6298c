"""A quota tenant's writes of one key take turns across the worker processes of one server.

Within a process, :class:`~.quota_writes.KeyLocks` make a quota tenant's writes and deletes of
one key run one at a time (each HEADs what it replaces, writes, counts the difference). Workers
of one server are separate processes, so without more two of them could both HEAD an object,
both delete it (S3 answers 204 to a delete of a missing key) and both subtract its size:
measured with 2 workers on SeaweedFS, 8 DELETEs of one 1000-byte object at once left the
tenant's usage at -3 objects, -3000 bytes, and a tenant repeating it could store past its
quota. So each key's turn is also a byte-range lock (``fcntl``) in one file every worker
shares: the supervisor opens it before forking (:func:`share_between_processes`), each worker
inherits the descriptor. POSIX record locks belong to a process, so within a process the
asyncio lock still decides; a key's range is taken only while its asyncio lock is held, and is
released when the holder ends (or by the kernel when the process dies). A wait polls the lock
without blocking (a cancelled request leaves nothing behind). A single-process server shares
no file and takes no range. Replicas on other hosts are not covered (README "Quotas").
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import tempfile

RANGES = 1 << 40
"""Byte offsets a key hashes to: two keys held at once by one process collide with odds too
small to matter (they would share one range, released when the first ends)."""
POLL_FIRST = 0.001
POLL_MOST = 0.02

_shared: list[int] = []
"""The shared file's descriptor, when this server has several workers."""


def share_between_processes() -> None:
    """Open the file whose ranges the workers lock (in the supervisor, before any fork). It is
    unlinked at once: it lives as long as a process holds it, and no two servers share one."""
    if _shared:
        return
    with tempfile.TemporaryFile(prefix="s3proxy-key-turns-") as handle:
        _shared.append(os.dup(handle.fileno()))  # the copy stays open


def offset(key: object) -> int:
    """The byte range of ``key`` (a tuple of strings and numbers: its repr is stable)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % RANGES


async def take(key: object, shared: bool = False) -> int | None:
    """Wait for ``key``'s range and lock it (``shared``: beside other shared holders, as an
    upload's parts hold it against its Complete); the offset to :func:`give` back (None: no
    file)."""
    if not _shared:
        return None
    fd, at = _shared[0], offset(key)
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    pause = POLL_FIRST
    while True:
        try:
            fcntl.lockf(fd, mode, 1, at)
            return at
        except (BlockingIOError, PermissionError):  # held by another worker
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MOST)


def give(at: int | None) -> None:
    if at is not None and _shared:
        fcntl.lockf(_shared[0], fcntl.LOCK_UN, 1, at)
