"""A process the supervisor starts while the server drains drains too (wave 17, E2).

At its first SIGTERM the supervisor tells its processes that the drain began (the admin process
fails /readyz, the workers answer ``Connection: close``), but a process that dies during the
drain is replaced, and the replacement was never told: it answered keep-alive and /readyz 200
for the rest of the drain, so a load balancer sent it new clients. Now a replacement starts
draining. (Its signals stay blocked from the fork until its handlers exist: the drain's SIGUSR1
no longer kills a worker that is still starting, tests/integration/test_w17r_early_drain.py.)
"""

from __future__ import annotations

import http.client
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import start_proxy
from tests.support.processes import SeaweedFS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
DRAINING = re.compile(r"draining: \d+ requests? in flight \(pid (\d+)\)")


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def _get(port: int, path: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("connection")
    finally:
        connection.close()


def test_processes_started_during_the_drain_drain(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    proxy = start_proxy(seaweed, upstream_s3, tmp_path, server={"drain_delay": 120, "workers": 2})
    log_path = proxy.process.log_path
    try:
        parent = proxy.process.pid
        proxy.process.send_signal(signal.SIGTERM)
        told = lambda: {int(pid) for pid in DRAINING.findall(log_path.read_text())}  # noqa: E731
        wait_for(lambda: len(told()) == 2, "the workers did not hear the signal")
        first = _children(parent)
        for pid in first:  # both workers and the admin process die; all three are replaced
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(_children(parent) - first) == 3, "the dead were not replaced")
        replacements = _children(parent) - first
        wait_for(lambda: len(told() & replacements) == 2, "the new workers do not drain")
        assert _get(proxy.admin_port, "/readyz")[0] == 503
        assert _get(proxy.port, "/") == (403, "close")
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(timeout=60) == 0
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()
