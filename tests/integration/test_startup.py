"""The quick-start command line (a stable interface) and virtual-hosted addressing, end to end."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import HOME_BUCKET, client_for, start_proxy
from tests.support.processes import ProxyProcess, SeaweedFS, free_port
from tests.support.s3http import send, sign

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_quick_start_serves_the_default_tenant(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    port, admin_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3PROXY_")}
    env.update(
        S3PROXY_UPSTREAM_ACCESS_KEY=seaweed.access_key,
        S3PROXY_UPSTREAM_SECRET_KEY=seaweed.secret_key,
        S3PROXY_ACCESS_KEY="AKQUICKSTART00000001",
        S3PROXY_SECRET_KEY="quick-start-secret-key-0123",
    )
    process = ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=tmp_path / "proxy.log",
        env=env,
        cwd=tmp_path,  # the quick start keeps its server secret in ./s3proxy-state
        extra_args=(
            "--upstream", seaweed.endpoint, "--upstream-bucket", HOME_BUCKET,
            "--port", str(port), "--admin-port", str(admin_port), "--shards", "256",
        ),
    )  # fmt: skip
    try:
        s3 = client_for(
            f"http://127.0.0.1:{port}", "AKQUICKSTART00000001", "quick-start-secret-key-0123"
        )
        s3.create_bucket(Bucket="quick")
        s3.put_object(Bucket="quick", Key="start.txt", Body=b"it works")
        assert s3.get_object(Bucket="quick", Key="start.txt")["Body"].read() == b"it works"
        shard = hashlib.sha256(b"start.txt").hexdigest()[:2]
        key = f"default/quick/{shard}/start-2etxt"  # a new home on an S3 upstream: flat
        stored = upstream_s3.get_object(Bucket=HOME_BUCKET, Key=key)
        assert stored["Body"].read() == b"it works"
    finally:
        process.stop()


def test_invalid_config_fails_at_start_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("layout: {shards: 17}\n")
    result = subprocess.run(
        [sys.executable, "-m", "s3proxy", "serve", "--config", str(config)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "layout.shards" in result.stderr


def test_virtual_hosted_style_addressing(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    proxy = start_proxy(
        seaweed, upstream_s3, tmp_path, server={"virtual_host_domains": ["s3.proxy.test"]}
    )
    try:
        ak, sk = proxy.keys("alice")
        # The client addresses docs.s3.proxy.test; the connection goes to 127.0.0.1.
        virtual = f"http://docs.s3.proxy.test:{proxy.port}/vhost/key.txt"
        headers = sign("PUT", virtual, ak, sk, body=b"virtual")
        response = send("PUT", virtual, headers, b"virtual", connect=("127.0.0.1", proxy.port))
        assert response.status == 200
        got = proxy.client("alice").get_object(Bucket="docs", Key="vhost/key.txt")
        assert got["Body"].read() == b"virtual"
    finally:
        proxy.process.stop()
