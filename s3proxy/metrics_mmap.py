"""Metrics files with their disk space taken before they are written: a full disk is an error.

With several workers every process keeps its Prometheus samples in memory-mapped files
(prometheus_client's ``MmapedDict``, in ``PROMETHEUS_MULTIPROC_DIR``). The library sizes a file
with ``ftruncate``, which leaves it sparse: a page gets its disk space only when first written
through the mapping, and on a full filesystem (a node disk under the pod's ``/tmp``, a
memory-backed ``emptyDir`` at its size limit) the kernel cannot give it one and kills the
process with SIGBUS. Measured on a full 256 KiB tmpfs: a process opening its first metrics file
died at its first sample; a worker dies at a new series (a tenant's first request, a new status);
its replacement at its first request; and the supervisor, folding the dead worker's files
(s3proxy.metrics_files), died too, taking the server with it.

:class:`AllocatedDict` reserves every byte of a file (``posix_fallocate``) before mapping it, so
a full disk is ``ENOSPC`` at that call instead. A process whose file cannot grow keeps the
samples of its new series in memory (missing from /metrics; one warning says so) and serves on.
:func:`install` makes it the class prometheus_client's multiprocess values open.

Where ``posix_fallocate`` is missing or the filesystem does not support it (musl's returns
``EOPNOTSUPP`` on such filesystems, where glibc emulates it), the space is taken by writing zeros
instead: every file was refused, so such a server kept every series in memory and /metrics
showed none of them.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import struct
from typing import Any

from prometheus_client import mmap_dict, values
from prometheus_client.mmap_dict import MmapedDict

log = logging.getLogger("s3proxy")

_SAMPLE = struct.Struct("dd")
"""A sample's value and timestamp, as the library packs them after each key."""
_PACK = _SAMPLE.pack
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS})
"""``posix_fallocate`` errors that say the filesystem cannot, not that its space is short (the
call's arguments, offset 0 and a positive length, are valid: EINVAL is an unsupported file)."""
_ZEROS = bytes(64 * 1024)

PARENT: int | None = None
"""A supervisor's child: its parent's pid (s3proxy.supervisor). Once the parent is gone (a
``kill -9``), its children finish their requests while a new server may have claimed the
directory, and a file one of them opened then would be read as the new server's: they open
none (their new series stay in memory; no admin process reads them anyway)."""


def entry_size(key: str) -> int:
    """Bytes one sample takes in a file: its key's length (4), the key padded so that the
    sample that follows is 8-byte aligned, and the sample (16)."""
    encoded = len(key.encode("utf-8"))
    return 4 + encoded + (8 - (encoded + 4) % 8) + _SAMPLE.size


def capacity_for(used: int, capacity: int = 0) -> int:
    """The file size the library would grow to for ``used`` bytes: its initial size, doubled."""
    capacity = capacity or mmap_dict._INITIAL_MMAP_SIZE
    while used > capacity:
        capacity *= 2
    return capacity


def reserve(path: str, size: int) -> None:
    """Give the first ``size`` bytes of the file at ``path`` their disk space (creating it), or
    raise OSError (``ENOSPC``, ``EDQUOT``, ``EFBIG``); a file this made stays no longer than the
    failure (an empty ``*.db`` would break every scrape)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    had = 0
    try:
        had = os.fstat(fd).st_size
        _allocate(fd, had, size)
    except OSError:
        if had == 0:
            os.unlink(path)
        raise
    finally:
        os.close(fd)


def _allocate(fd: int, had: int, size: int) -> None:
    """``posix_fallocate``, else zeros written from the file's end (``had``: its first bytes
    are samples, never overwritten; a file this module made had all its space taken) up to
    ``size``; a failed write leaves the file as it was."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except AttributeError:  # not on this platform (macOS)
        pass
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
    position = had
    try:
        while position < size:
            # a written page has its space (reserved at the write, delayed allocation too)
            position += os.pwrite(fd, _ZEROS[: size - position], position)
    except OSError:
        os.ftruncate(fd, had)
        raise


class AllocatedDict(MmapedDict):
    """``MmapedDict`` whose pages all have their disk space; past a full disk, new keys live in
    this process's memory only."""

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        self._unfiled: dict[str, tuple[float, float]] = {}
        if not read_mode:
            try:
                if PARENT is not None and os.getppid() != PARENT:
                    raise _Orphaned
                reserve(filename, capacity_for(_size(filename)))
            except (OSError, _Orphaned) as exc:
                self._f: Any = None
                self._m: Any = None
                self._fname, self._capacity, self._used, self._positions = filename, 0, 0, {}
                if isinstance(exc, OSError):
                    _unfiled_warning(filename, exc)
                return
        super().__init__(filename, read_mode)  # type: ignore[no-untyped-call]

    def _init_value(self, key: str) -> None:
        if self._m is None:
            self._unfiled[key] = (0.0, 0.0)
            return
        wanted = capacity_for(self._used + entry_size(key), self._capacity)
        if wanted > self._capacity:
            try:
                reserve(self._fname, wanted)
            except OSError as exc:
                self._unfiled[key] = (0.0, 0.0)
                if len(self._unfiled) == 1:
                    _unfiled_warning(self._fname, exc)
                return
            self._capacity = wanted
            self._m = mmap.mmap(self._f.fileno(), wanted)
        super()._init_value(key)  # type: ignore[no-untyped-call]

    def read_value(self, key: str) -> tuple[float, float]:
        if key not in self._positions and key not in self._unfiled:
            self._init_value(key)
        unfiled = self._unfiled.get(key)
        if unfiled is not None:
            return unfiled
        return super().read_value(key)  # type: ignore[no-untyped-call,no-any-return]

    def write_value(self, key: str, value: float, timestamp: float) -> None:
        pos = self._positions.get(key)
        if pos is None:
            if key not in self._unfiled:
                self._init_value(key)
            if key in self._unfiled:
                self._unfiled[key] = (value, timestamp)
                return
            pos = self._positions[key]
        self._m[pos : pos + 16] = _PACK(value, timestamp)  # 16: _SAMPLE.size


class _Orphaned(Exception):
    """This process's supervisor is gone (:data:`PARENT`)."""


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _unfiled_warning(filename: str, exc: OSError) -> None:
    log.warning(
        "metrics file %s cannot grow (%s): process %d keeps its new series in memory, "
        "missing from /metrics until it is restarted; free space in the metrics directory",
        os.path.basename(filename),
        exc.strerror or exc,
        os.getpid(),
    )


def install() -> None:
    """Have prometheus_client's multiprocess values open :class:`AllocatedDict` files. Call it
    before the first metric is made (s3proxy.metrics does): each process opens its files at its
    first sample."""
    values.MmapedDict = AllocatedDict  # type: ignore[attr-defined]
