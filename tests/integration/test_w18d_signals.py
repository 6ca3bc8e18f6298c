"""Operating it: signals and reloads as an operator sends them (wave 18, D).

- ``serve --config F --shards 16`` over a file naming 256: every SIGHUP was refused
  ("layout changed"), since the reload read the file without the command line's flags.
- A one-process server ignored ``server.drain_delay`` (its role's delay was 0, whatever the
  file said), and an operator's SIGUSR1 (the supervisor's signal to its workers) made it drain
  for good, the SIGTERM after it taken for a second signal.
- A SIGTERM during the start-up ended the process there (exit -15, nothing flushed): it now
  waits for the server's handlers and stops the server cleanly (exit 0, "s3proxy stopped").
- After a ``kill -9`` of the supervisor, the workers finishing their requests kept the metrics
  directory's lock, and a new server given the same ``PROMETHEUS_MULTIPROC_DIR`` exited (2,
  "used by another running s3proxy server") until they were done.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import yaml

from tests.integration.conftest import (
    SHARDS,
    TENANT_KEYS,
    Proxy,
    client_for,
    create_buckets,
    create_upstream_buckets,
    proxy_settings,
)
from tests.support.processes import ProxyProcess, SeaweedFS, free_port, write_config
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

DEADLINE = 60.0
POLL = 0.05
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _until(what: Callable[[], T], message: str) -> T:
    deadline = time.monotonic() + DEADLINE
    while not (found := what()):
        assert time.monotonic() < deadline, message
        time.sleep(POLL)
    return found


FLAGS = ("--shards", str(SHARDS))
"""Every server here runs as ``serve --config F --shards 16`` over a file naming 256: the
suite's count (its buckets are laid out for it), given on the command line."""


def _start(
    seaweed: SeaweedFS,
    upstream: Any,
    workdir: Path,
    env: dict[str, str] | None = None,
    **server: Any,
) -> Proxy:
    port, admin_port = free_port(), free_port()
    settings = proxy_settings(seaweed, port, admin_port, workdir)
    settings["server"].update(server)
    settings["layout"] = {"shards": 256}
    config = write_config(workdir / "s3proxy.yaml", settings)
    log_path = workdir / "proxy.log"
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=log_path, extra_args=FLAGS, env=env
    )
    proxy = Proxy(process, port, admin_port, config, upstream, seaweed, {})
    try:
        create_upstream_buckets(upstream)
        create_buckets(proxy)
    except BaseException:
        process.stop()
        raise
    return proxy


def _readyz(proxy: Proxy) -> int:
    try:
        with urllib.request.urlopen(proxy.process.admin_endpoint + "/readyz", timeout=10) as got:
            return int(got.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("workers", [1, 2])
def test_a_reload_keeps_the_command_lines_flags(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path: Path, workers: int
) -> None:
    proxy = _start(seaweed, upstream_s3, tmp_path, workers=workers)
    try:
        settings = yaml.safe_load(proxy.config_path.read_text())
        new_key = ("AKW18DRELOAD00000001", "w18d-reload-secret-key-dddddddddd")
        settings["tenants"]["alice"]["keys"].append(
            {"access_key": new_key[0], "secret_key": new_key[1]}
        )
        proxy.config_path.write_text(yaml.safe_dump(settings))
        lines = proxy.process.reload_and_wait(
            "configuration reloaded", count=1 if workers == 1 else workers + 1
        )
        assert "reload of" not in lines
        second = client_for(proxy.endpoint, *new_key)
        assert second.head_bucket(Bucket="docs")["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        proxy.process.stop()


def _drains_then_stops(proxy: Proxy) -> None:
    """SIGTERM: /readyz fails and requests are still served (``drain_delay`` is 120 s); a
    second SIGTERM stops the server cleanly."""
    alice = proxy.client("alice")
    proxy.process.send_signal(signal.SIGTERM)
    _until(lambda: _readyz(proxy) == 503, "/readyz still 200 after SIGTERM")
    alice.put_object(Bucket="docs", Key="w18d/drain", Body=b"served while draining")
    got = alice.get_object(Bucket="docs", Key="w18d/drain")["Body"].read()
    assert got == b"served while draining"
    assert proxy.process.returncode is None
    assert proxy.process.stop(signal.SIGTERM, timeout=DEADLINE) == 0  # the second signal
    assert "s3proxy stopped" in proxy.process.log_text()


@pytest.mark.parametrize("engine", ["uvicorn", "hypercorn"])
def test_a_one_process_server_waits_its_drain_delay(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path: Path, engine: str
) -> None:
    proxy = _start(seaweed, upstream_s3, tmp_path, workers=1, drain_delay=120, engine=engine)
    try:
        _drains_then_stops(proxy)
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()


def test_sigusr1_neither_drains_a_one_process_server_nor_cuts_its_drain(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path: Path
) -> None:
    proxy = _start(seaweed, upstream_s3, tmp_path, workers=1, drain_delay=120)
    try:
        proxy.process.send_signal(signal.SIGUSR1)
        log = proxy.process.log_path
        _until(lambda: "SIGUSR1 ignored" in log.read_text(), "SIGUSR1 not handled")
        assert _readyz(proxy) == 200  # not draining
        _drains_then_stops(proxy)
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()


EARLY_SIGTERM = """
import os, signal, sys
from s3proxy import cli, startup
summary = startup.summary

def summary_then_sigterm(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # as if it came while the server starts
    return summary(*args, **kwargs)

startup.summary = summary_then_sigterm
sys.exit(cli.main(["serve", "--config", sys.argv[1]]))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sigterm_during_the_start_up_stops_the_server_cleanly(
    tmp_path: Path, workers: int
) -> None:
    """No upstream needed: an unreachable one leaves the server starting and serving."""
    settings = proxy_settings(None, free_port(), free_port(), tmp_path)
    settings["upstreams"]["main"] = {
        "endpoint": "http://127.0.0.1:9",
        "access_key": "a",
        "secret_key": "b",
    }
    settings["server"]["workers"] = workers
    config = write_config(tmp_path / "s3proxy.yaml", settings)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", EARLY_SIGTERM, str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "s3proxy stopped" in done.stdout


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _accepted_by(proxy: Proxy, client: socket.socket) -> int:
    """The worker holding ``client``'s connection, once one has accepted it (else 0)."""
    address = client.getsockname()
    for child in psutil.Process(proxy.process.pid).children():
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(tuple(c.raddr) == address for c in connections if c.raddr):
            return int(child.pid)
    return 0


def _in_flight(proxy: Proxy) -> float:
    with urllib.request.urlopen(proxy.process.admin_endpoint + "/metrics", timeout=10) as got:
        text = got.read().decode()
    found = re.search(r"^s3proxy_requests_in_flight (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_killed_supervisors_workers_leave_the_metrics_directory_to_a_new_server(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    patient = {"shutdown_timeout": 300, "body_idle_timeout": 300, "body_min_rate": 0}
    old = _start(seaweed, upstream_s3, tmp_path / "old", env=env, workers=2, **patient)
    body = b"w18d in flight " * 1000
    url = object_url(old.endpoint, "docs", "w18d/orphan")
    length = {"Content-Length": str(len(body))}
    headers = sign("PUT", url, *TENANT_KEYS["alice"], length, body=body)
    target = url.removeprefix(old.endpoint)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    held = socket.create_connection(("127.0.0.1", old.port), timeout=DEADLINE)
    new: ProxyProcess | None = None
    try:
        held.sendall(f"PUT {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body[:100])
        serving = _until(lambda: _accepted_by(old, held), "no worker accepted the request")
        _until(lambda: _in_flight(old), "the request never began")
        os.kill(old.process.pid, signal.SIGKILL)  # not reaped: the test kills its group last
        ports = (old.port, old.admin_port)
        _until(lambda: all(_port_free(port) for port in ports), "the ports stay bound")
        assert not _gone(serving), "the worker stopped before it answered its request"
        orphans = [serving]

        new = ProxyProcess.start(
            old.config_path,
            admin_port=old.admin_port,
            log_path=tmp_path / "new.log",
            extra_args=FLAGS,
            env=env,
        )
        assert client_for(old.endpoint, *TENANT_KEYS["alice"]).head_bucket(Bucket="docs")

        held.sendall(body[100:])  # the orphan finishes the request it had
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := held.recv(65536)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        _until(lambda: all(_gone(pid) for pid in orphans), "the orphans stay")
        alice = client_for(old.endpoint, *TENANT_KEYS["alice"])
        assert alice.get_object(Bucket="docs", Key="w18d/orphan")["Body"].read() == body
        mine = {str(pid) for pid in orphans}
        assert not [p.name for p in metrics.iterdir() if p.stem.rsplit("_", 1)[-1] in mine]
    finally:
        held.close()
        if new is not None:
            new.stop()
        old.process.wait(timeout=DEADLINE)  # reaps it, then kills what is left of its group
