"""Secrets that survive restarts (issue 15, item 8): the upstream quick start keeps the server
secret it generates, so a multipart upload begun before a restart completes after it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HOME_BUCKET, client_for
from tests.support.processes import ProxyProcess, SeaweedFS, free_port

pytestmark = pytest.mark.integration

ACCESS_KEY, SECRET_KEY = "AKQUICKSECRET0000001", "quick-start-secret-key-4567"
PART = 5 * 1024 * 1024


def quick_start(
    seaweed: SeaweedFS, state: Path, port: int, admin_port: int, log: Path
) -> ProxyProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3PROXY_")}
    env.update(
        S3PROXY_UPSTREAM_ACCESS_KEY=seaweed.access_key,
        S3PROXY_UPSTREAM_SECRET_KEY=seaweed.secret_key,
        S3PROXY_ACCESS_KEY=ACCESS_KEY,
        S3PROXY_SECRET_KEY=SECRET_KEY,
    )
    return ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=log,
        env=env,
        cwd=state.parent,
        extra_args=(
            "--upstream", seaweed.endpoint, "--upstream-bucket", HOME_BUCKET,
            "--port", str(port), "--admin-port", str(admin_port), "--state-dir", str(state),
        ),
    )  # fmt: skip


def test_an_upload_begun_before_a_restart_completes_after_it(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    port, admin_port = free_port(), free_port()
    state = tmp_path / "state"
    first = quick_start(seaweed, state, port, admin_port, tmp_path / "first.log")
    try:
        s3 = client_for(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY)
        s3.create_bucket(Bucket="restarts")
        upload = s3.create_multipart_upload(Bucket="restarts", Key="big")["UploadId"]
        one = s3.upload_part(
            Bucket="restarts", Key="big", UploadId=upload, PartNumber=1, Body=b"a" * PART
        )
    finally:
        first.stop()

    second = quick_start(seaweed, state, port, admin_port, tmp_path / "second.log")
    try:
        s3 = client_for(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY)
        two = s3.upload_part(
            Bucket="restarts", Key="big", UploadId=upload, PartNumber=2, Body=b"b" * 10
        )
        parts = [{"PartNumber": 1, "ETag": one["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]
        s3.complete_multipart_upload(
            Bucket="restarts", Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        body = s3.get_object(Bucket="restarts", Key="big")["Body"].read()
        assert body == b"a" * PART + b"b" * 10
        s3.delete_object(Bucket="restarts", Key="big")
        s3.delete_bucket(Bucket="restarts")
    finally:
        second.stop()
    assert (state / "server-secret").exists()
    assert "S3PROXY_SERVER__SECRET" in first.log_text()  # how to choose it
