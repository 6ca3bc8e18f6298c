"""Operating the proxy: health, access log, `locate`, SIGHUP reload, graceful SIGTERM drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.conftest import UPSTREAM, Proxy, client_for, start_proxy, upstream_key
from tests.support.metrics_scrape import scrape_until
from tests.support.processes import SeaweedFS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
WORKERS = 2  # the signal tests run the multi-process server: its parent relays every signal


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_and_readiness_on_admin_port_only(proxy: Proxy) -> None:
    assert http_get(proxy.admin_endpoint + "/healthz")[0] == 200
    status, body = http_get(proxy.admin_endpoint + "/readyz")
    assert status == 200
    assert json.loads(body)["ready"] is True
    # On the S3 port, "healthz" is just a bucket name: unauthenticated → AccessDenied.
    status, body = http_get(proxy.endpoint + "/healthz")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body


def test_access_log_has_one_json_line_per_request(proxy: Proxy) -> None:
    response = proxy.client("alice").put_object(Bucket="docs", Key="log/line", Body=b"12345")
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]

    def matching() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in proxy.process.log_text().splitlines()
            if line.startswith("{") and request_id in line
        ]

    # The line is written once the response is fully sent, so it may trail the client a little.
    lines = wait_for(matching, f"an access line for {request_id}")
    assert len(lines) == 1
    entry = lines[0]
    assert entry["tenant"] == "alice"
    assert entry["operation"] == "PutObject"
    assert entry["bucket"] == "docs"
    assert entry["status"] == 200
    assert entry["bytes_in"] == 5
    assert entry["duration_ms"] >= 0
    assert "time" in entry


@pytest.mark.upstream_layout
def test_locate_names_the_real_upstream_object(proxy: Proxy) -> None:
    proxy.client("alice").put_object(Bucket="docs", Key="find/me.txt", Body=b"here")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3proxy",
            "locate",
            "--config",
            str(proxy.config_path),
            "--access-key",
            proxy.keys("alice")[0],
            "docs",
            "find/me.txt",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    fields = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert fields == {
        "upstream": UPSTREAM,
        "bucket": proxy.home_bucket,
        "key_encoding": "flat",
        "key": upstream_key("alice", "docs", "find/me.txt"),
    }
    stored = proxy.upstream.get_object(Bucket=fields["bucket"], Key=fields["key"])
    assert stored["Body"].read() == b"here"


@pytest.fixture()
def own_proxy(seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path) -> Any:
    running = start_proxy(seaweed, upstream_s3, tmp_path, server={"workers": WORKERS})
    yield running
    if running.process.returncode is None:
        running.process.stop()


def test_sighup_reloads_keys_and_keeps_config_on_error(own_proxy: Proxy) -> None:
    settings = yaml.safe_load(own_proxy.config_path.read_text())
    new_key = ("AKCAROL000000000003", "carol-secret-key-cccccccccccccccc")
    settings["tenants"]["carol"] = {
        "keys": [{"access_key": new_key[0], "secret_key": new_key[1]}],
        "home": {"upstream": UPSTREAM, "bucket": own_proxy.home_bucket},
    }
    carol = client_for(own_proxy.endpoint, *new_key)
    with pytest.raises(ClientError) as caught:
        carol.put_object(Bucket="docs", Key="k", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"

    own_proxy.config_path.write_text(yaml.safe_dump(settings))
    own_proxy.process.reload_and_wait("configuration reloaded", count=WORKERS + 1)
    carol.create_bucket(Bucket="docs")
    carol.put_object(Bucket="docs", Key="k", Body=b"carol")
    assert carol.get_object(Bucket="docs", Key="k")["Body"].read() == b"carol"

    own_proxy.config_path.write_text("tenants: [this is not valid")
    own_proxy.process.reload_and_wait("reload of")  # said once, by the supervisor
    assert carol.get_object(Bucket="docs", Key="k")["Body"].read() == b"carol"
    assert own_proxy.client("alice").put_object(Bucket="docs", Key="k2", Body=b"a")
    assert own_proxy.process.log_path.read_text().count("reload of") == 1


def test_sigterm_lets_in_flight_download_finish(own_proxy: Proxy) -> None:
    size = 48 * 1024 * 1024
    body = os.urandom(1024 * 1024) * 48
    own_proxy.client("alice").put_object(Bucket="docs", Key="drain/big", Body=body)
    response = own_proxy.client("alice").get_object(Bucket="docs", Key="drain/big")
    stream = response["Body"]
    first = stream.read(1024 * 1024)  # the transfer is now in flight
    stopped = threading.Thread(target=own_proxy.process.send_signal, args=(signal.SIGTERM,))
    stopped.start()
    rest = stream.read()
    stopped.join()
    assert len(first) + len(rest) == size
    assert first + rest == body
    assert own_proxy.process.wait(timeout=30) == 0


def test_drain_delay_fails_readiness_but_keeps_serving(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    """server.drain_delay: after SIGTERM the load balancer sees /readyz fail while requests are
    still answered; a second SIGTERM ends the wait and the replica exits cleanly."""
    proxy = start_proxy(
        seaweed, upstream_s3, tmp_path, server={"drain_delay": 120, "workers": WORKERS}
    )
    try:
        s3 = proxy.client("alice")
        s3.put_object(Bucket="docs", Key="drain/delay", Body=b"still here")
        assert http_get(proxy.admin_endpoint + "/readyz")[0] == 200
        proxy.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while (status := http_get(proxy.admin_endpoint + "/readyz"))[0] != 503:
            assert time.monotonic() < deadline, status
        assert json.loads(status[1]) == {"ready": False, "draining": True}
        fresh = client_for(proxy.endpoint, *proxy.keys("alice"))  # a new connection
        assert fresh.get_object(Bucket="docs", Key="drain/delay")["Body"].read() == b"still here"
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(timeout=30) == 0
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()


def test_prometheus_metrics_on_admin_port_only(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket="docs", Key="metrics/probe", Body=b"123456")
    s3.get_object(Bucket="docs", Key="metrics/probe")["Body"].read()
    put = 's3proxy_requests_total{operation="PutObject",status="200",tenant="alice"}'
    get = 's3proxy_request_duration_seconds_bucket{le="0.005",operation="GetObject"}'
    # Counted once each answer is sent: the GET's count may trail the body just read.
    text = scrape_until(proxy.admin_endpoint, put, get)
    if proxy.server is not None:  # the local store makes no upstream requests
        upstream_puts = '{method="PUT",upstream="main"}'
        assert f"s3proxy_upstream_request_duration_seconds_count{upstream_puts}" in text
    assert "s3proxy_requests_in_flight" in text
    received = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('s3proxy_received_bytes_total{tenant="alice"}')
    ]
    assert received and received[0] >= 6
    # No bucket or key names as labels (bounded cardinality).
    assert "metrics/probe" not in text and 'bucket="' not in text
    # On the S3 port, "metrics" is a bucket name like any other.
    status, _ = http_get(proxy.endpoint + "/metrics")
    assert status == 403
