"""/readyz names what is wrong with each upstream bucket (NoSuchBucket, AuthFailure,
Unreachable), and the upstream quick start creates its missing bucket and says so (issue 16
item 6). S3 upstream lanes only: the local store has no upstream bucket to be missing."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    PHOTOS_BUCKET,
    UPSTREAM,
    client_for,
    create_upstream_buckets,
    proxy_settings,
)
from tests.support.processes import ProxyProcess, free_port, write_config

pytestmark = pytest.mark.integration

UPSTREAM_LANES = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}


@pytest.fixture(
    params=[
        lane
        for lane in UPSTREAM_LANES
        if os.environ.get("S3PROXY_TEST_BACKENDS") is None
        or lane in os.environ["S3PROXY_TEST_BACKENDS"].split(",")
    ]
)
def lane(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """(the upstream server, a boto3 client on it) for each S3 upstream lane chosen."""
    server_fixture, client_fixture = UPSTREAM_LANES[request.param]
    server = request.getfixturevalue(server_fixture)
    client = request.getfixturevalue(client_fixture)
    create_upstream_buckets(client)
    return server, client


def readiness(admin_port: int) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{admin_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_readyz_names_each_condition(lane: tuple[Any, Any], tmp_path: Path) -> None:
    server, _ = lane
    missing = "s3p-missing-" + os.urandom(4).hex()
    port, admin_port = free_port(), free_port()
    settings = proxy_settings(server, port, admin_port, tmp_path)
    good = settings["upstreams"][UPSTREAM]
    settings["upstreams"]["badkeys"] = {**good, "secret_key": "not-the-upstream-secret"}
    settings["upstreams"]["down"] = {**good, "endpoint": f"http://127.0.0.1:{free_port()}"}
    alice, bob = settings["tenants"]["alice"], settings["tenants"]["bob"]
    alice["home"] = {"upstream": UPSTREAM, "bucket": missing}
    bob["home"] = {"upstream": "badkeys", "bucket": HOME_BUCKET}
    bob["buckets"] = {"bob-only": {"upstream": "down", "bucket": "s3p-down-bucket"}}
    process = ProxyProcess.start(
        write_config(tmp_path / "s3proxy.yaml", settings),
        admin_port=admin_port,
        log_path=tmp_path / "proxy.log",
    )
    try:
        status, report = readiness(admin_port)
    finally:
        process.stop()
    # One bucket answers: the replica stays ready for its tenants (wave 15 E2), naming the rest.
    assert (status, report["ready"]) == (200, True)
    assert report["upstreams"] == {
        f"{UPSTREAM}/{missing}": "NoSuchBucket",
        f"{UPSTREAM}/{PHOTOS_BUCKET}": "ok",
        f"badkeys/{HOME_BUCKET}": "AuthFailure",
        "down/s3p-down-bucket": "Unreachable",
    }
    assert missing in report["details"][f"{UPSTREAM}/{missing}"]
    assert "not-the-upstream-secret" not in json.dumps(report)


def _quick_start(server: Any, bucket: str, tmp_path: Path, secret: str) -> tuple[ProxyProcess, int]:
    port, admin_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3PROXY_")}
    env.update(
        S3PROXY_UPSTREAM_ACCESS_KEY=server.access_key,
        S3PROXY_UPSTREAM_SECRET_KEY=secret,
        S3PROXY_ACCESS_KEY="AKQUICKSTART00000001",
        S3PROXY_SECRET_KEY="quick-start-secret-key-0123",
    )
    process = ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=tmp_path / "proxy.log",
        env=env,
        extra_args=(
            "--upstream", server.endpoint, "--upstream-bucket", bucket,
            "--port", str(port), "--admin-port", str(admin_port),
            "--state-dir", str(tmp_path / "state"),
        ),
    )  # fmt: skip
    return process, port


def _empty_and_delete(upstream: Any, bucket: str) -> None:
    for page in upstream.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            upstream.delete_object(Bucket=bucket, Key=item["Key"])
    upstream.delete_bucket(Bucket=bucket)


def test_quick_start_creates_its_missing_upstream_bucket(
    lane: tuple[Any, Any], tmp_path: Path
) -> None:
    server, upstream = lane
    bucket = "s3p-quick-" + os.urandom(4).hex()
    process, port = _quick_start(server, bucket, tmp_path, server.secret_key)
    try:
        assert f"upstream bucket {bucket} did not exist: created it" in process.log_text()
        status, report = readiness(process.admin_port)
        assert (status, report["ready"]) == (200, True)
        upstream.head_bucket(Bucket=bucket)
        s3 = client_for(
            f"http://127.0.0.1:{port}", "AKQUICKSTART00000001", "quick-start-secret-key-0123"
        )
        s3.create_bucket(Bucket="first")
        s3.put_object(Bucket="first", Key="k", Body=b"ready")
        assert s3.get_object(Bucket="first", Key="k")["Body"].read() == b"ready"
        s3.delete_object(Bucket="first", Key="k")
        s3.delete_bucket(Bucket="first")
    finally:
        process.stop()
        _empty_and_delete(upstream, bucket)


def test_quick_start_without_the_right_to_create_says_so(
    lane: tuple[Any, Any], tmp_path: Path
) -> None:
    server, upstream = lane
    bucket = "s3p-quick-" + os.urandom(4).hex()
    process, _ = _quick_start(server, bucket, tmp_path, "not-the-upstream-secret")
    try:
        log = process.log_text()
        assert f"upstream bucket {bucket} cannot be checked (AuthFailure" in log
        status, report = readiness(process.admin_port)
        assert status == 503
        assert report["upstreams"] == {f"default/{bucket}": "AuthFailure"}
    finally:
        process.stop()
    with pytest.raises(ClientError):
        upstream.head_bucket(Bucket=bucket)
