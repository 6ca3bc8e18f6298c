"""A process's Prometheus files outlive it only as a share of one file per type.

With several workers (s3proxy.supervisor) every process writes its samples to files of its own
in ``PROMETHEUS_MULTIPROC_DIR`` (``counter_<pid>.db``, ``histogram_<pid>.db``,
``gauge_livesum_<pid>.db`` …), and the admin process sums them all on each scrape.
prometheus_client's ``mark_process_dead`` removes only a dead process's live gauges: its counters
and histograms must keep counting, or the server's totals would fall (Prometheus reads a counter
that goes down as a reset). So a worker the supervisor replaced (an OOM kill, a crash) left its
files for the server's life — ~9 MB each with 1,000 tenants, in the chart's small ``/tmp`` — and
a pod whose workers kept being replaced grew its ``emptyDir`` until it was evicted.

:func:`fold_dead` adds a dead process's counter, histogram and summary samples (all sums, so
adding keeps every total exact) into one file per type for the processes that exited
(``counter_exited.db`` …), then removes the process's files. The directory then holds the live
processes' files and at most one more per type. It runs under an exclusive lock on
:data:`LOCK_NAME` in the directory, and :class:`Collector` reads under the shared lock: a scrape
never sees a dead process's samples twice, or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from s3proxy.metrics_mmap import capacity_for, entry_size, reserve

LOCK_NAME = ".fold.lock"
"""Not a ``*.db`` name: the collector's glob never reads it."""
SUMMED = ("counter", "histogram", "summary")
"""The types whose samples are sums of every process's (gauges are per process, and a dead
one's live gauges are ``mark_process_dead``'s to remove)."""
EXITED = "exited"


class Busy(Exception):
    """The lock is held (a scrape is reading) and the caller would not wait for it."""


@contextlib.contextmanager
def locked(directory: str | Path, how: int) -> Iterator[None]:
    """Hold ``how`` (``fcntl.LOCK_SH`` or ``LOCK_EX``, with ``LOCK_NB``: raise :class:`Busy`
    instead of waiting) on the directory's lock file."""
    with open(Path(directory) / LOCK_NAME, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), how)
        except BlockingIOError as exc:
            raise Busy from exc
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _values(path: Path) -> dict[str, float]:
    try:
        entries = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        return {key: value for key, value, _timestamp, _pos in entries}
    except FileNotFoundError:
        return {}


def _write(path: Path, values: dict[str, float]) -> None:
    """``values`` as the file at ``path``, replaced whole (a crash leaves the old one)."""
    scratch = path.with_suffix(".folding")  # not *.db: never read half-written
    scratch.unlink(missing_ok=True)
    # Its space taken first: on a full disk this raises, where writing a sparse file's pages
    # through the mapping killed the supervisor with SIGBUS (s3proxy.metrics_mmap).
    used = 8 + sum(entry_size(key) for key in values)
    reserve(str(scratch), capacity_for(used))
    mapped = MmapedDict(str(scratch))  # type: ignore[no-untyped-call]
    try:
        for key, value in values.items():
            mapped.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        mapped.close()  # type: ignore[no-untyped-call]
    os.replace(scratch, path)


def fold_dead(pid: int, directory: str | Path, *, wait: bool = True) -> None:
    """Add process ``pid``'s summed samples into the exited processes' files and remove its
    files of those types. Call it only once ``pid`` has exited (the supervisor reaped it).
    ``wait=False`` raises :class:`Busy` at once while a scrape reads the files: the supervisor
    must not wait on a scrape (a slow or hung one would hold every worker's replacement)."""
    folder = Path(directory)
    with locked(folder, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB):
        for kind in SUMMED:
            dead = folder / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            exited = folder / f"{kind}_{EXITED}.db"
            total = _values(exited)
            for key, value in _values(dead).items():
                total[key] = total.get(key, 0.0) + value
            _write(exited, total)
            dead.unlink()


class Collector(MultiProcessCollector):
    """prometheus_client's multiprocess collector, reading while no fold is under way."""

    def collect(self) -> Iterable[Any]:
        with locked(self._path, fcntl.LOCK_SH):
            return list(super().collect())  # type: ignore[no-untyped-call]
