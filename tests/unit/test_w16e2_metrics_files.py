"""Metrics files that do not outlive their processes (wave 16, E2): folding a dead worker's
files (s3proxy.metrics_files) keeps the sums a scrape reads and leaves one file of the exited
processes; a dead server's directory is removed at the next start (s3proxy.worker_count)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from s3proxy import worker_count
from s3proxy.metrics_files import Collector, fold_dead


def _write(path: Path, samples: dict[tuple[str, str, str], float]) -> None:
    mapped = MmapedDict(str(path))
    for (metric, name, tenant), value in samples.items():
        mapped.write_value(mmap_key(metric, name, ["tenant"], [tenant], "help"), value, 0.0)
    mapped.close()


def _scrape(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    Collector(registry, path=str(directory))
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
    }


def test_dead_processes_fold_into_one_file_and_every_sum_stays(tmp_path: Path) -> None:
    for pid, scale in ((11, 1.0), (22, 10.0), (33, 100.0)):
        _write(
            tmp_path / f"counter_{pid}.db",
            {
                ("requests", "requests_total", "alice"): scale,
                ("requests", "requests_total", f"t{pid}"): 1.0,
            },
        )
        _write(tmp_path / f"histogram_{pid}.db", {("seconds", "seconds_sum", "alice"): scale / 2})
        _write(tmp_path / f"gauge_livesum_{pid}.db", {("flight", "flight", "alice"): 1.0})
    before = _scrape(tmp_path)
    assert before[("requests_total", (("tenant", "alice"),))] == 111.0
    fold_dead(11, tmp_path)
    fold_dead(22, tmp_path)
    fold_dead(44, tmp_path)  # a process that never wrote a sample
    assert _scrape(tmp_path) == before
    assert sorted(path.name for path in tmp_path.glob("*.db")) == [
        "counter_33.db",
        "counter_exited.db",
        "gauge_livesum_11.db",  # mark_process_dead's to remove, not the fold's
        "gauge_livesum_22.db",
        "gauge_livesum_33.db",
        "histogram_33.db",
        "histogram_exited.db",
    ]


def test_a_dead_servers_metrics_directory_goes_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server killed with SIGKILL (a container's OOM kill) never removed its directory, and a
    restarted container keeps the pod's /tmp: the next start removes it, and only it."""
    monkeypatch.setattr(worker_count, "_OWNER", None)
    running = Path(worker_count._owned_directory(tmp_path))
    held = worker_count._OWNER
    assert held is not None and running.name.startswith("s3proxy-metrics-")
    dead = Path(worker_count._owned_directory(tmp_path))
    assert worker_count._OWNER is not None
    os.close(worker_count._OWNER)  # as at a SIGKILL: the lock goes with the process
    older = tmp_path / "s3proxy-metrics-abcd1234"  # an older version's: no lock file
    older.mkdir()
    (dead / "counter_7.db").write_bytes(b"\0" * 8)
    try:
        worker_count.remove_stale_metrics(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, older.name])
    finally:
        os.close(held)
