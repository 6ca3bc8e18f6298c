"""Several worker processes behind one port (``server.workers``): what an operator notices.

Every worker answers on the S3 port (each is frozen in turn and the others still answer), the
admin port's /metrics counts the requests of all of them, a worker that dies is replaced while
requests keep being answered, and a configuration with the local store runs one process. The
signal tests in test_server.py (SIGHUP reload, SIGTERM drain) run this multi-process server too.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.support.processes import SeaweedFS
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

WORKERS = 2
DEADLINE = 30.0
POLL = 0.05


@pytest.fixture()
def workers_proxy(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> Iterator[Proxy]:
    running = start_proxy(seaweed, upstream_s3, tmp_path, server={"workers": WORKERS})
    yield running
    if running.process.returncode is None:
        running.process.stop()


def _listening_ports(process: psutil.Process) -> set[int]:
    return {
        conn.laddr.port
        for conn in process.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }


def worker_pids(proxy: Proxy) -> list[int]:
    """Children of the proxy that listen on the S3 port (the admin process listens on the
    admin port only)."""
    pids = []
    for child in psutil.Process(proxy.process.pid).children():
        with contextlib.suppress(psutil.Error):
            if proxy.port in _listening_ports(child):
                pids.append(child.pid)
    return sorted(pids)


def wait_for_workers(proxy: Proxy, count: int, exclude: int | None = None) -> list[int]:
    deadline = time.monotonic() + DEADLINE
    while True:
        pids = worker_pids(proxy)
        if len(pids) == count and exclude not in pids:
            return pids
        assert time.monotonic() < deadline, f"workers {pids}, wanted {count} without {exclude}"
        time.sleep(POLL)


def get_on_new_connection(proxy: Proxy, key: str) -> bytes:
    """A GET on a fresh connection: whichever worker accepts it answers."""
    url = object_url(proxy.endpoint, "docs", key)
    request = urllib.request.Request(url, headers=sign("GET", url, *proxy.keys("alice")))
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        body: bytes = response.read()
        return body


def requests_counted(proxy: Proxy) -> float:
    with urllib.request.urlopen(proxy.admin_endpoint + "/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = r'^s3proxy_requests_total\{operation="GetObject",status="200",tenant="alice"\} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_every_worker_answers_on_the_one_port(workers_proxy: Proxy) -> None:
    workers_proxy.client("alice").put_object(Bucket="docs", Key="workers/k", Body=b"body")
    pids = wait_for_workers(workers_proxy, WORKERS)
    for frozen in pids:  # the others must accept every new connection meanwhile
        os.kill(frozen, signal.SIGSTOP)
        try:
            for _ in range(3):
                assert get_on_new_connection(workers_proxy, "workers/k") == b"body"
        finally:
            os.kill(frozen, signal.SIGCONT)


def test_metrics_count_the_requests_of_every_worker(workers_proxy: Proxy) -> None:
    workers_proxy.client("alice").put_object(Bucket="docs", Key="workers/m", Body=b"m")
    pids = wait_for_workers(workers_proxy, WORKERS)
    before = requests_counted(workers_proxy)
    for frozen in pids:  # every request below is served by the other worker
        os.kill(frozen, signal.SIGSTOP)
        try:
            for _ in range(5):
                get_on_new_connection(workers_proxy, "workers/m")
        finally:
            os.kill(frozen, signal.SIGCONT)
    # A worker counts a request once its answer is sent, and /metrics gathers what each worker
    # has published: the last count can come just after the client has its answer (9 != 10
    # once, read at one instant). Wait for it, then check nothing more comes.
    deadline = time.monotonic() + DEADLINE
    while requests_counted(workers_proxy) - before < 5 * WORKERS:
        assert time.monotonic() < deadline, requests_counted(workers_proxy) - before
        time.sleep(POLL)
    assert requests_counted(workers_proxy) - before == 5 * WORKERS


def test_a_worker_that_dies_is_replaced(workers_proxy: Proxy) -> None:
    workers_proxy.client("alice").put_object(Bucket="docs", Key="workers/r", Body=b"r")
    victim = wait_for_workers(workers_proxy, WORKERS)[0]
    os.kill(victim, signal.SIGKILL)
    assert get_on_new_connection(workers_proxy, "workers/r") == b"r"
    replaced = wait_for_workers(workers_proxy, WORKERS, exclude=victim)
    for frozen in replaced:
        os.kill(frozen, signal.SIGSTOP)
        try:
            assert get_on_new_connection(workers_proxy, "workers/r") == b"r"
        finally:
            os.kill(frozen, signal.SIGCONT)
    assert "exited (status -9): starting another" in workers_proxy.process.log_text()
    workers_proxy.process.send_signal(signal.SIGTERM)
    assert workers_proxy.process.wait(timeout=DEADLINE) == 0
    assert not psutil.pid_exists(replaced[0]) or psutil.Process(replaced[0]).status() == "zombie"


def test_the_local_store_is_served_by_one_process(tmp_path: Path) -> None:
    proxy = start_proxy(None, None, tmp_path, server={"workers": 4})
    try:
        proxy.client("alice").put_object(Bucket="docs", Key="one", Body=b"1")
        assert psutil.Process(proxy.process.pid).children() == []
        assert proxy.port in _listening_ports(psutil.Process(proxy.process.pid))
    finally:
        proxy.process.stop()
