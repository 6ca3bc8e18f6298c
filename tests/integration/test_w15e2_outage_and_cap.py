"""One upstream's outage reaches only its tenants, and a tenant's buckets are capped (wave 15,
E2). Before, /readyz answered 503 on every replica while any configured upstream bucket did not
answer, so one upstream's outage took every replica out of its load balancer and every tenant
lost the service; and a tenant could create buckets without bound (S3: 400 TooManyBuckets past
the account's quota). One proxy: alice on a local store (capped at two buckets, one of them
mapped), bob on an upstream that accepts connections and never answers (a black hole). Local
lane only: the decision is the gateway's, before any request of a backend under test."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TENANT_KEYS, client_for, lanes
from tests.support.processes import ProxyProcess, free_port, write_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hole() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture(scope="module")
def outage(hole: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    if "local" not in lanes():
        pytest.skip("a local store beside the black hole: the local lane's")
    work = tmp_path_factory.mktemp("w15e2")
    port, admin_port = free_port(), free_port()
    blackhole = {
        "endpoint": f"http://127.0.0.1:{hole}",
        "access_key": "UPAK",
        "secret_key": "upstream-secret",
        "connect_timeout": 0.5,
        "read_timeout": 0.5,
    }
    keys = {name: [{"access_key": ak, "secret_key": sk}] for name, (ak, sk) in TENANT_KEYS.items()}
    settings = {
        "server": {"port": port, "admin_port": admin_port, "secret": "s" * 32,
                   "readiness_timeout": 1},
        "upstreams": {"disk": {"type": "local", "path": str(work / "store")}, "hole": blackhole},
        "tenants": {
            "alice": {"keys": keys["alice"], "home": {"upstream": "disk", "bucket": "home"},
                      "buckets": {"alice-mapped": {"upstream": "disk", "bucket": "mapped"}},
                      "limits": {"max_buckets": 2}},
            "bob": {"keys": keys["bob"], "home": {"upstream": "hole", "bucket": "home"}},
        },
    }  # fmt: skip
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(config, admin_port=admin_port, log_path=work / "proxy.log")
    try:
        yield f"http://127.0.0.1:{port}", admin_port
    finally:
        process.stop()


def _admin(admin_port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}{path}", timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]


def test_one_upstream_down_reaches_only_its_tenants(outage: tuple[str, int]) -> None:
    endpoint, admin_port = outage
    status, body = _admin(admin_port, "/readyz")
    report = json.loads(body)
    assert (status, report["ready"]) == (200, True)
    upstreams = report["upstreams"]
    assert upstreams.pop("hole/home") in ("Unreachable", "timeout")  # its read_timeout, or ours
    assert upstreams == {"disk/home": "ok", "disk/mapped": "ok"}
    metrics = _admin(admin_port, "/metrics")[1].decode()
    assert 's3proxy_upstream_ready{target="hole/home"} 0.0' in metrics  # the alert's signal
    alice = client_for(endpoint, *TENANT_KEYS["alice"])
    alice.put_object(Bucket="alice-mapped", Key="k", Body=b"served")
    assert alice.get_object(Bucket="alice-mapped", Key="k")["Body"].read() == b"served"
    bob = client_for(endpoint, *TENANT_KEYS["bob"])
    assert _code(lambda: bob.list_buckets()) == (503, "ServiceUnavailable")


def test_a_tenants_buckets_are_capped_with_s3s_error(outage: tuple[str, int]) -> None:
    alice = client_for(outage[0], *TENANT_KEYS["alice"])
    alice.create_bucket(Bucket="w15e2-first")  # with alice-mapped: two, her cap
    assert _code(lambda: alice.create_bucket(Bucket="w15e2-second")) == (400, "TooManyBuckets")
    names = [bucket["Name"] for bucket in alice.list_buckets()["Buckets"]]
    assert names == ["alice-mapped", "w15e2-first"]
    alice.delete_bucket(Bucket="w15e2-first")
    alice.create_bucket(Bucket="w15e2-second")  # room again
    alice.delete_bucket(Bucket="w15e2-second")
