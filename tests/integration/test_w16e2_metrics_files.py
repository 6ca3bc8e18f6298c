"""A replaced worker's Prometheus files do not pile up, and its counts stay (wave 16, E2).

Each worker of a multi-process server writes its samples to files of its own, which the admin
process sums. A worker the supervisor replaced (here SIGKILL, as the OOM killer does) left its
counter and histogram files for the server's life: ~9 MB each with 1,000 tenants, in the chart's
64 Mi ``/tmp``, so a pod whose workers kept being replaced was evicted. Its samples are now
added into one file of the exited processes and its own files removed, and /metrics counts the
requests it answered as before.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_workers import (
    DEADLINE,
    POLL,
    WORKERS,
    get_on_new_connection,
    requests_counted,
    wait_for_workers,
)
from tests.support.processes import SeaweedFS

pytestmark = pytest.mark.integration


@pytest.fixture()
def counted_proxy(
    seaweed: SeaweedFS,
    upstream_s3: Any,
    upstream_buckets: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Proxy, Path]]:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))  # where the server writes
    running = start_proxy(seaweed, upstream_s3, tmp_path, server={"workers": WORKERS})
    yield running, metrics
    if running.process.returncode is None:
        running.process.stop()


def _count_reaches(proxy: Proxy, wanted: float) -> None:
    deadline = time.monotonic() + DEADLINE
    while requests_counted(proxy) < wanted:
        assert time.monotonic() < deadline, (requests_counted(proxy), wanted)
        time.sleep(POLL)


def test_a_killed_workers_files_are_folded_and_its_counts_kept(
    counted_proxy: tuple[Proxy, Path],
) -> None:
    proxy, metrics = counted_proxy
    proxy.client("alice").put_object(Bucket="docs", Key="w16e2/k", Body=b"k")
    idle, victim = wait_for_workers(proxy, WORKERS)
    before = requests_counted(proxy)
    os.kill(idle, signal.SIGSTOP)  # every GET below is the victim's
    try:
        for _ in range(3):
            assert get_on_new_connection(proxy, "w16e2/k") == b"k"
    finally:
        os.kill(idle, signal.SIGCONT)
    _count_reaches(proxy, before + 3)
    assert (metrics / f"counter_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    wait_for_workers(proxy, WORKERS, exclude=victim)
    deadline = time.monotonic() + DEADLINE
    while (metrics / f"counter_{victim}.db").exists():
        assert time.monotonic() < deadline, sorted(p.name for p in metrics.iterdir())
        time.sleep(POLL)
    assert not (metrics / f"histogram_{victim}.db").exists()
    assert (metrics / "counter_exited.db").exists()
    assert requests_counted(proxy) == before + 3


def test_a_killed_servers_metrics_directory_goes_at_the_next_start(
    seaweed: SeaweedFS,
    upstream_s3: Any,
    upstream_buckets: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server killed with SIGKILL (a container's OOM kill) never removed its directory, and a
    restarted container keeps the pod's /tmp: the next server removes it, and its own at exit."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    killed = start_proxy(seaweed, upstream_s3, tmp_path / "a", server={"workers": WORKERS})
    children = psutil.Process(killed.process.pid).children()
    (left,) = temp.glob("s3proxy-metrics-*")
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=DEADLINE)
    psutil.wait_procs(children, timeout=DEADLINE)  # they stop with their parent
    assert left.exists()
    again = start_proxy(seaweed, upstream_s3, tmp_path / "b", server={"workers": WORKERS})
    try:
        (own,) = temp.glob("s3proxy-metrics-*")
        assert own != left
    finally:
        again.process.stop()
    assert list(temp.glob("s3proxy-metrics-*")) == []
