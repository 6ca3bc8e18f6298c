"""How many processes serve the S3 port, decided before the server stack is imported.

One Python process runs on one core, so ``server.workers: auto`` starts one worker per CPU this
process may use: its CPU affinity, lowered to a cgroup v2 quota (``cpu.max``: a container's CPU
limit) when there is one. The local store is opened by exactly one process (it holds a lock on
its directory), so a configuration that uses it is served by one.

Several workers share their Prometheus counters through prometheus_client's multiprocess mode,
which must be chosen before ``prometheus_client`` is first imported: :func:`prepare_metrics` does
that, which is why this module imports neither the server nor the metrics.
"""

from __future__ import annotations

import atexit
import fcntl
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from s3proxy.config import LocalStoreConfig, Settings

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PREFIX = "s3proxy-metrics-"
OWNER_LOCK = ".owner.lock"
"""Not a ``*.db`` name: prometheus_client's collector never reads it."""
_OWNER: int | None = None
"""The descriptor holding this server's directory lock, open for the process's life (the
server's first process only: :func:`leave_metrics_lock`)."""


def cgroup_cpu_limit(cpu_max: str) -> int | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` line ("QUOTA PERIOD" or "max PERIOD"), rounded
    up; None when unlimited or unreadable."""
    fields = cpu_max.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def usable_cpus(cpu_max_file: Path = CGROUP_CPU_MAX) -> int:
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    try:
        limit = cgroup_cpu_limit(cpu_max_file.read_text())
    except OSError:
        limit = None
    return min(count, limit) if limit is not None else count


def uses_local_store(settings: Settings) -> bool:
    return any(isinstance(upstream, LocalStoreConfig) for upstream in settings.upstreams.values())


def worker_count(settings: Settings, cpus: int | None = None) -> int:
    if uses_local_store(settings):
        return 1
    workers = settings.server.workers
    if workers == "auto":
        return cpus if cpus is not None else usable_cpus()
    return workers


class UnusableMetricsDirectory(Exception):
    """The ``PROMETHEUS_MULTIPROC_DIR`` given cannot be opened, or is another running server's."""


def prepare_metrics(workers: int) -> bool:
    """Switch prometheus_client to its multiprocess mode for ``workers`` > 1: every process
    writes its samples to files in one directory, which the admin process sums. Returns whether
    multiprocess metrics are on. Too late (False) once prometheus_client has been imported.
    A directory the operator gave (``PROMETHEUS_MULTIPROC_DIR``) is claimed for this server
    (:func:`claim_metrics_directory`)."""
    given = os.environ.get(METRICS_DIR_ENV)
    if given:
        claim_metrics_directory(Path(given))
    if workers <= 1:
        return False
    if given:
        return "prometheus_client" not in sys.modules or multiprocess_metrics_active()
    if "prometheus_client" in sys.modules:
        return False
    temp = Path(tempfile.gettempdir())
    remove_stale_metrics(temp)
    directory = _owned_directory(temp)
    os.environ[METRICS_DIR_ENV] = directory
    owner = os.getpid()
    # Only the process that made the directory removes it (workers are forked and exit with
    # os._exit, which skips atexit handlers anyway).

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return True


def claim_metrics_directory(directory: Path) -> None:
    """Make the operator's metrics directory this server's alone, as the one it makes itself
    is, and start it empty. prometheus_client reads every ``*.db`` file there as live: a
    previous run's were summed into this one's series, gauges included, so after a SIGKILL
    its requests stayed ``s3proxy_requests_in_flight`` and its last ``s3proxy_upstream_ready``
    of 1 hid every later 0 (``livemax``); and a container's workers, given the same pids again,
    opened the dead ones' files and went on from their values. A counter that restarts from
    zero is what Prometheus expects of a restarted process (``rate()`` reads it as a reset).
    Two servers sharing the directory would each report the other's requests too (and, in
    separate pid namespaces, write into each other's files): the second one is refused.

    The lock is :data:`OWNER_LOCK`'s, held for the process's life (its workers leave it:
    :func:`leave_metrics_lock`)."""
    global _OWNER
    try:
        held = os.open(directory / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UnusableMetricsDirectory(f"{METRICS_DIR_ENV} {directory}: {exc.strerror}") from exc
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(held)
        raise UnusableMetricsDirectory(
            f"{METRICS_DIR_ENV} {directory} is used by another running s3proxy server:"
            " give each server a directory of its own (or leave it unset)"
        ) from exc
    for left in (*directory.glob("*.db"), *directory.glob("*.folding")):
        left.unlink(missing_ok=True)
    _OWNER = held


def remove_stale_metrics(temp: Path) -> None:
    """Remove the metrics directories in ``temp`` of servers no longer running. A server
    killed with SIGKILL (a container's cgroup OOM kill, a grace period overrun) never removed
    its directory, and a container restarted in the same pod keeps its ``emptyDir``: each such
    restart left every process's files there until the pod was evicted for its size.

    A server holds an exclusive lock on its directory's :data:`OWNER_LOCK` for its life, so a
    lock that can be taken marks a stale directory, whatever pid namespace the server ran in.
    A directory without that file (made by an older version) is left alone."""
    for entry in temp.glob(f"{METRICS_PREFIX}*"):
        try:
            lock = os.open(entry / OWNER_LOCK, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its server runs
        else:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(lock)


def _owned_directory(temp: Path) -> str:
    """A new metrics directory in ``temp``, locked by this process (:func:`remove_stale_metrics`).
    Made under another name and renamed once locked, so that no server starting meanwhile
    finds it unlocked."""
    global _OWNER
    scratch = Path(tempfile.mkdtemp(prefix="s3proxy-starting-", dir=temp))
    _OWNER = os.open(scratch / OWNER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(_OWNER, fcntl.LOCK_EX)
    directory = temp / f"{METRICS_PREFIX}{scratch.name.removeprefix('s3proxy-starting-')}"
    scratch.rename(directory)
    return str(directory)


def leave_metrics_lock() -> None:
    """In a forked child: close this process's copy of the directory lock, which stays the
    parent's (a flock is the open file's, held while any process keeps it open). The lock then
    goes with the parent: the children a ``kill -9`` of it left kept it while they finished
    their requests, up to ``server.shutdown_timeout``, and a new server given the same
    ``PROMETHEUS_MULTIPROC_DIR`` was refused as if they were a running server (they serve no
    new connection and no admin process reads their samples)."""
    global _OWNER
    if _OWNER is not None:
        os.close(_OWNER)
        _OWNER = None


def multiprocess_metrics_active() -> bool:
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue
