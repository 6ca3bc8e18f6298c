"""A scrape never holds a dead worker's replacement (wave 17, E).

The supervisor folds a dead worker's metrics files (s3proxy.metrics_files) under an exclusive
lock that every scrape holds shared while it reads them. It waited for that lock before it
started the replacement and before it took its next signal, so a slow scrape (1–3 s with 1,000
tenants) delayed it, and a hung one held every replacement and SIGTERM for as long as it hung.
Now the fold is tried without waiting, after the replacement started, and again a second later.
"""

from __future__ import annotations

import fcntl
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from s3proxy import supervisor as supervisor_module
from s3proxy.config import Settings
from s3proxy.metrics_files import locked
from s3proxy.supervisor import Supervisor

DEAD = 4_000_011
KEY = mmap_key("requests", "requests_total", ["tenant"], ["alice"], "help")


@pytest.fixture()
def dead_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    """A supervisor whose worker ``DEAD`` was just SIGKILLed, having counted 3 requests."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    mapped = MmapedDict(str(tmp_path / f"counter_{DEAD}.db"))
    mapped.write_value(KEY, 3.0, 0.0)
    mapped.close()
    settings = Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {
                "u": {"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "b"}
            },
            "tenants": {"t": {"keys": [{"access_key": "AKT", "secret_key": "t" * 20}]}},
        }
    )
    supervisor = Supervisor(settings, None, workers=2)
    supervisor.children.roles[DEAD] = "worker"
    supervisor.children.started[DEAD] = 0.0  # long ago: not a crash at start
    exits = [(DEAD, signal.SIGKILL.value)]  # a wait status: killed by signal 9

    def waitpid(pid: int, options: int) -> tuple[int, int]:
        return exits.pop() if exits else (0, 0)

    monkeypatch.setattr(supervisor_module.os, "waitpid", waitpid)
    spawned: list[str] = []
    monkeypatch.setattr(supervisor, "_spawn", spawned.append)
    supervisor.spawned = spawned  # type: ignore[attr-defined]
    yield supervisor


def _exited_total(directory: Path) -> float:
    values = MmapedDict.read_all_values_from_file(str(directory / "counter_exited.db"))
    return {key: value for key, value, _ts, _pos in values}[KEY]


def _reap_while_scraping(supervisor: Supervisor, directory: Path) -> None:
    reaped = threading.Event()
    reaper = threading.Thread(target=lambda: (supervisor._reap(), reaped.set()))
    with locked(directory, fcntl.LOCK_SH):  # a scrape under way (or hung)
        reaper.start()
        back = reaped.wait(timeout=10)
        assert back, "the supervisor waited for the scrape"
        assert supervisor.spawned == ["worker"]  # type: ignore[attr-defined]
        assert (directory / f"counter_{DEAD}.db").exists()
        assert supervisor.fold_deadline is not None  # it tries again
    reaper.join()


def test_a_scrape_reading_the_files_holds_neither_the_replacement_nor_the_signals(
    dead_worker: Supervisor, tmp_path: Path
) -> None:
    _reap_while_scraping(dead_worker, tmp_path)
    dead_worker.fold_deadline = 0.0  # its retry time has come
    dead_worker._deadline_passed()
    assert not (tmp_path / f"counter_{DEAD}.db").exists()
    assert _exited_total(tmp_path) == 3.0
    assert dead_worker.fold_deadline is None and dead_worker.unfolded == []


def test_a_reused_pid_keeps_its_files(dead_worker: Supervisor, tmp_path: Path) -> None:
    """A fold that had to wait may find the dead worker's pid given to a new process, which
    writes on in the same file: folding it would drop every count the new one makes."""
    _reap_while_scraping(dead_worker, tmp_path)
    dead_worker.children.roles[DEAD] = "worker"  # the replacement got the same pid
    dead_worker.fold_deadline = 0.0
    dead_worker._deadline_passed()
    assert (tmp_path / f"counter_{DEAD}.db").exists()
    assert not (tmp_path / "counter_exited.db").exists()
    assert dead_worker.fold_deadline is None
