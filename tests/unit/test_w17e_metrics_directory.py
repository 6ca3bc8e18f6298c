"""A metrics directory the operator gives (PROMETHEUS_MULTIPROC_DIR) starts empty and is one
server's (wave 17, E).

prometheus_client reads every ``*.db`` file in the directory as a live process's. A server
started with the variable set kept the previous run's files: after a SIGKILL (a container's OOM
kill) its in-flight requests stayed in ``s3proxy_requests_in_flight`` for good and its last
``s3proxy_upstream_ready`` of 1 hid every later 0; and two servers given one directory each
reported the other's requests. The next start now removes them and holds the directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from s3proxy import cli, quick_start, worker_count
from s3proxy.metrics_files import Collector

IN_FLIGHT = mmap_key(
    "s3proxy_requests_in_flight", "s3proxy_requests_in_flight", [], [], "S3 requests being served"
)
READY = mmap_key("s3proxy_upstream_ready", "s3proxy_upstream_ready", ["target"], ["u/b"], "ready")


@pytest.fixture()
def given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The operator's directory, holding a SIGKILLed run's files: 3 requests in flight, its
    upstream last seen ready."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(worker_count, "_OWNER", None)
    for name, key, value in (
        ("gauge_livesum_7.db", IN_FLIGHT, 3.0),
        ("gauge_livemax_8.db", READY, 1.0),
        ("counter_7.db", mmap_key("r", "r_total", [], [], "r"), 40.0),
    ):
        mapped = MmapedDict(str(tmp_path / name))
        mapped.write_value(key, value, 0.0)
        mapped.close()
    (tmp_path / "counter_exited.folding").write_bytes(b"")
    yield tmp_path
    if worker_count._OWNER is not None:
        os.close(worker_count._OWNER)


def _gauges(directory: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    Collector(registry, path=str(directory))
    return {
        sample.name: sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if metric.type == "gauge"
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_a_restart_starts_from_an_empty_directory(given: Path, workers: int) -> None:
    assert _gauges(given) == {"s3proxy_requests_in_flight": 3.0, "s3proxy_upstream_ready": 1.0}
    worker_count.prepare_metrics(workers)
    assert sorted(path.name for path in given.iterdir()) == [".fold.lock", ".owner.lock"]
    assert _gauges(given) == {}


def test_a_second_server_on_the_directory_is_refused(
    given: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    worker_count.prepare_metrics(2)
    held = worker_count._OWNER
    monkeypatch.setenv("S3PROXY_ACCESS_KEY", "AKIDEXAMPLE")
    monkeypatch.setenv("S3PROXY_SECRET_KEY", "s" * 40)
    upstream = ["--upstream", "http://127.0.0.1:9", "--upstream-bucket", "b"]
    state = ["--state-dir", str(given.parent / "state")]

    async def served(settings: object) -> list[str]:
        raise AssertionError("the second server went on to serve")

    monkeypatch.setattr(quick_start, "ensure_upstream_buckets", served)
    try:
        assert cli.main(["serve", *upstream, *state, "--workers", "2"]) == 2
    finally:
        if held != worker_count._OWNER and worker_count._OWNER is not None:
            os.close(worker_count._OWNER)  # taken on the baseline, which did not refuse
        worker_count._OWNER = held
    assert capsys.readouterr().err == (
        f"s3proxy: PROMETHEUS_MULTIPROC_DIR {given} is used by another running s3proxy server:"
        " give each server a directory of its own (or leave it unset)\n"
    )
