"""The proxy under test: a real `python -m s3proxy serve` process in front of each backend.

The ``proxy`` fixture is parametrised over the backends (:data:`BACKENDS`): a real SeaweedFS,
a real Ceph RGW, and the embedded local store, so every test that uses it is the same contract
checked against each. Tests that read the upstream layout directly are marked
``upstream_layout`` and skip the local store, which has no upstream to read. Set
``S3PROXY_TEST_BACKENDS=seaweedfs,local`` to run fewer lanes by hand; CI runs all three.

Each proxy is started once per session on free loopback ports and stopped by PID. Tests that
need their own proxy process (reload, shutdown) use :func:`start_proxy` directly.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config

from tests.support.processes import ProxyProcess, SeaweedFS, free_port, write_config

HOME_BUCKET = "s3p-homes-7e1d"
PHOTOS_BUCKET = "s3p-photos-3c9a"
BOB_BUCKET = "s3p-bob-5b2f"
SERVER_SECRET = "integration-server-secret-0123456789"
TENANT_KEYS = {
    "alice": ("AKALICE0000000000001", "alice-secret-key-aaaaaaaaaaaaaaaa"),
    "bob": ("AKBOB00000000000002", "bob-secret-key-bbbbbbbbbbbbbbbbbb"),
}
SHARDS = 16
UPSTREAM = "main"
BACKENDS = ("seaweedfs", "ceph", "local")


def flat(key: str) -> str:
    """The ``flat`` key encoding (README), restated: ASCII letters and digits kept, any other
    byte as '-', '=', '_' or '~' (by the gap of the alphanumeric ranges it falls in) and two
    lowercase hex digits; cut every 254 characters, each continued segment ending in '!'."""
    out = ""
    for byte in key.encode():
        if chr(byte).isascii() and chr(byte).isalnum():
            out += chr(byte)
        else:
            out += "-=_~"[(byte > 0x39) + (byte > 0x5A) + (byte > 0x7A)] + f"{byte:02x}"
    return "!/".join(out[start : start + 254] for start in range(0, len(out), 254))


def upstream_key(
    tenant: str, bucket: str, key: str, shards: int = SHARDS, encoding: str = "flat"
) -> str:
    """The layout contract, restated independently of s3proxy.layout for the tests. The
    proxies here start on empty homes of S3 upstreams: their layouts are ``flat``."""
    digits = {1: 0, 16: 1, 256: 2, 4096: 3}[shards]
    shard = hashlib.sha256(key.encode()).hexdigest()[:digits]
    part = flat(key) if encoding == "flat" else key
    return f"{tenant}/{bucket}/" + (f"{shard}/" if digits else "") + part


def client_for(endpoint: str, access_key: str, secret_key: str, **extra: Any) -> Any:
    """A boto3 client as the tests use it: path style, SigV4, no retries; ``extra`` goes to
    ``boto3.client`` (``aws_session_token`` …)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            signature_version="s3v4",
        ),
        **extra,
    )


def upstream_settings(server: Any, workdir: Path) -> dict[str, Any]:
    """The upstream entry: an S3 server (SeaweedFS, Ceph RGW), or a local store when None."""
    if server is None:
        return {"type": "local", "path": str(workdir / "store")}
    return {
        "endpoint": server.endpoint,
        "region": "us-east-1",
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "path_style": True,
    }


def proxy_settings(server: Any, port: int, admin_port: int, workdir: Path) -> dict[str, Any]:
    return {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "admin_port": admin_port,
            "secret": SERVER_SECRET,
            "shutdown_timeout": 20,
        },
        "upstreams": {UPSTREAM: upstream_settings(server, workdir)},
        "tenants": {
            "alice": {
                "keys": [
                    {"access_key": TENANT_KEYS["alice"][0], "secret_key": TENANT_KEYS["alice"][1]}
                ],
                "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET},
                "buckets": {
                    "alice-photos": {"upstream": UPSTREAM, "bucket": PHOTOS_BUCKET, "prefix": "p/"}
                },
            },
            "bob": {
                "keys": [
                    {"access_key": TENANT_KEYS["bob"][0], "secret_key": TENANT_KEYS["bob"][1]}
                ],
                "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET},
                "buckets": {"bob-only": {"upstream": UPSTREAM, "bucket": BOB_BUCKET}},
            },
        },
        "layout": {"shards": SHARDS},
    }


@dataclass
class Proxy:
    process: ProxyProcess
    port: int
    admin_port: int
    config_path: Path
    upstream: Any
    """A boto3 client on the upstream itself; None for the local store."""
    server: Any
    """The SeaweedFS or CephRGW behind the proxy; None for the local store."""
    upstream_options: dict[str, Any] = field(default_factory=dict)
    home_bucket: str = HOME_BUCKET
    photos_bucket: str = PHOTOS_BUCKET
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def backend(self) -> str:
        return "local" if self.server is None else type(self.server).__name__

    @property
    def upstream_access_key(self) -> str | None:
        return None if self.server is None else str(self.server.access_key)

    @property
    def upstream_port(self) -> int | None:
        return None if self.server is None else int(self.server.endpoint.rsplit(":", 1)[1])

    def keys(self, tenant: str) -> tuple[str, str]:
        return TENANT_KEYS[tenant]

    def client(self, tenant: str) -> Any:
        if tenant not in self._clients:
            self._clients[tenant] = client_for(self.endpoint, *TENANT_KEYS[tenant])
        return self._clients[tenant]


def start_proxy(
    upstream_server: SeaweedFS | Any | None,
    upstream: Any,
    workdir: Path,
    upstream_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> Proxy:
    """A proxy on free ports in front of ``upstream_server`` (SeaweedFS, CephRGW; None: a local
    store in ``workdir``), with the tests' client buckets (:func:`create_buckets`) unless it
    serves TLS; ``overrides`` update config sections, ``upstream_options`` the upstream's
    entry (e.g. ``request_style``)."""
    port, admin_port = free_port(), free_port()
    settings = proxy_settings(upstream_server, port, admin_port, workdir)
    settings["upstreams"][UPSTREAM].update(upstream_options or {})
    for section, values in overrides.items():
        settings[section] = {**settings.get(section, {}), **values}
    config_path = write_config(workdir / "s3proxy.yaml", settings)
    process = ProxyProcess.start(config_path, admin_port=admin_port, log_path=workdir / "proxy.log")
    running = Proxy(
        process,
        port,
        admin_port,
        config_path,
        upstream,
        upstream_server,
        dict(upstream_options or {}),
    )
    if "tls_cert" not in overrides.get("server", {}):  # a TLS proxy's test makes its own
        try:
            create_buckets(running)
        except BaseException:  # no test will own it to stop it: no process outlives pytest
            process.stop()
            raise
    return running


CLIENT_BUCKETS = {"alice": ("docs", "shared"), "bob": ("shared",)}


def create_buckets(proxy: Proxy) -> None:
    """The client buckets the tests use (idempotent: every proxy shares the upstream)."""
    for tenant, names in CLIENT_BUCKETS.items():
        client = proxy.client(tenant)
        existing = {b["Name"] for b in client.list_buckets()["Buckets"]}
        for name in names:
            if name not in existing:
                client.create_bucket(Bucket=name)


def create_upstream_buckets(upstream: Any) -> None:
    existing = {b["Name"] for b in upstream.list_buckets().get("Buckets", [])}
    for name in (HOME_BUCKET, PHOTOS_BUCKET, BOB_BUCKET):
        if name not in existing:
            upstream.create_bucket(Bucket=name)


@pytest.fixture(scope="session")
def upstream_buckets(upstream_s3: Any) -> None:
    create_upstream_buckets(upstream_s3)


def lanes(upstream_layout: bool = False) -> list[str]:
    """The backends chosen for this run (``S3PROXY_TEST_BACKENDS``, all by default); a test
    that reads the upstream layout runs on none of the local store's."""
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    backends = [b for b in BACKENDS if chosen is None or b in chosen.split(",")]
    return [b for b in backends if b != "local"] if upstream_layout else backends


def one_lane(backends: list[str]) -> list[str]:
    """Where a ``one_lane`` test runs: the local store when chosen (the cheapest), else the
    first lane chosen. Decided before any backend is asked (auth, parsing, validation): one
    lane proves it. tests/conftest.py applies the same choice to a mark on one parameter."""
    return ["local"] if "local" in backends else backends[:1]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One lane per backend for every test that uses ``proxy`` (session-scoped: one proxy each)."""
    if "proxy" not in metafunc.fixturenames:
        return
    backends = lanes(metafunc.definition.get_closest_marker("upstream_layout") is not None)
    if metafunc.definition.get_closest_marker("one_lane"):
        backends = one_lane(backends)
    metafunc.parametrize("backend", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def proxy(backend: str, request: pytest.FixtureRequest) -> Proxy:
    """The lane's proxy. pytest keeps one value of a parametrised fixture at a time, so a
    proxy started here would be stopped and started again at every change of lane — three
    times per test module on each xdist worker. The lane's own unparametrised fixture below
    keeps it running until the session ends (stopped before its upstream)."""
    return cast(Proxy, request.getfixturevalue(f"lane_proxy_{backend}"))


def _lane_proxy(
    name: str, server: Any, upstream: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    if upstream is not None:
        create_upstream_buckets(upstream)
    running = start_proxy(server, upstream, tmp_path_factory.mktemp(f"proxy-{name}"))
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture(scope="session")
def lane_proxy_seaweedfs(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    yield from _lane_proxy("seaweedfs", seaweed, upstream_s3, tmp_path_factory)


@pytest.fixture(scope="session")
def lane_proxy_ceph(
    ceph_rgw: Any, ceph_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    yield from _lane_proxy("ceph", ceph_rgw, ceph_s3, tmp_path_factory)


@pytest.fixture(scope="session")
def lane_proxy_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    yield from _lane_proxy("local", None, None, tmp_path_factory)
