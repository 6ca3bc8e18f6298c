"""Review reproduction (wave 17 R): the drain signal kills workers that are still starting.

Since wave 17 E the supervisor sends its workers DRAIN_NOW (SIGUSR1) at its first SIGTERM. A
worker installs its handler only in serve_role, after its event loop and gateway are built;
before that SIGUSR1's default action ends it. A SIGTERM that comes while workers start (a pod
stopped right after it was scheduled, a rolling update undone) or while a dead worker's
replacement starts therefore kills them (``exited (status -10): starting another``), and their
replacements never hear of the drain (no ``Connection: close`` on their answers). The admin
process has had the same window for SIGTERM since before wave 17 (status -15 here), so its
replacement answers /readyz 200 for the whole drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import proxy_settings
from tests.support.processes import REPO_ROOT, free_port, write_config

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def test_a_sigterm_while_workers_start_kills_none(tmp_path: Path) -> None:
    settings = proxy_settings(None, free_port(), free_port(), tmp_path)
    # an S3 upstream (several workers; a local store is served by one process), never reached
    settings["upstreams"] = {
        "main": {"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "b"}
    }
    settings["server"].update({"workers": 2, "drain_delay": 1})
    config = write_config(tmp_path / "s3proxy.yaml", settings)
    log_path = tmp_path / "proxy.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "s3proxy", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            cwd=REPO_ROOT,
        )
        try:
            deadline = time.monotonic() + 30
            while len(_children(process.pid)) < 3:  # the admin process and two workers
                assert time.monotonic() < deadline
                time.sleep(0.002)
            process.send_signal(signal.SIGTERM)
            time.sleep(3)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log_path.read_text()
    assert "exited (status -10)" not in text, text
