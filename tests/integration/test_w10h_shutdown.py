"""SIGTERM as an operator meets it (Kubernetes, Docker, a load balancer's drain), on the server
users start: ``s3proxy serve`` with two worker processes in front of SeaweedFS.

With a large PUT still uploading, a large GET still downloading and a CompleteMultipartUpload
held at the upstream (a relay, tests/support/relay.py, holds it: no sleep decides the order),
SIGTERM makes /readyz fail and new connections be refused at once, while all three finish,
whole, and the process exits 0. A fourth, a PUT whose client stops sending, is cut when
``server.shutdown_timeout`` passes: answered 503 ServiceUnavailable (retryable) under the
request id of its access line, with nothing of it stored upstream. (One proxy for both: each
multi-process start and drain costs seconds of CI time.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    HOME_BUCKET,
    Proxy,
    create_upstream_buckets,
    lanes,
    start_proxy,
    upstream_key,
)
from tests.support.relay import Exchange, relay_to
from tests.support.s3http import object_url, sign
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

DEADLINE = 30.0
PUT_SIZE = 8 * 1024 * 1024
GET_SIZE = 8 * 1024 * 1024
"""Twice what the kernel buffers for a reader that stops (tcp_wmem's 4 MiB at most): the GET
stays in flight until the test reads on."""
SHUTDOWN_TIMEOUT = 3


@pytest.fixture()
def seaweed_lane(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if "seaweedfs" not in lanes():
        pytest.skip("the shutdown tests run in front of SeaweedFS")
    server, upstream = (request.getfixturevalue(n) for n in ("seaweed", "upstream_s3"))
    create_upstream_buckets(upstream)
    return server, upstream


def admin_status(proxy: Proxy, path: str) -> int | None:
    """The admin port's status for ``path``; None once it refuses connections."""
    try:
        with urllib.request.urlopen(proxy.admin_endpoint + path, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def in_flight(proxy: Proxy) -> float:
    with urllib.request.urlopen(proxy.admin_endpoint + "/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("s3proxy_requests_in_flight "):
                return float(line.split()[1])
    return 0.0


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def start_put(proxy: Proxy, key: str) -> socket.socket:
    """A PUT of PUT_SIZE bytes whose first half is sent; the caller sends the rest (or not)."""
    url = object_url(proxy.endpoint, "docs", key)
    headers = sign(
        "PUT",
        url,
        *proxy.keys("alice"),
        {"Content-Length": str(PUT_SIZE)},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    connection = socket.create_connection(("127.0.0.1", proxy.port), timeout=DEADLINE)
    head = f"PUT /docs/{key} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    connection.sendall(head.encode() + b"\r\n" + b"p" * (PUT_SIZE // 2))
    return connection


def read_answer(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, body


def access_line(proxy: Proxy, key: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in proxy.process.log_text().splitlines()
        if line.startswith('{"time"') and f'"key":"{key}"' in line and '"request_id"' in line
    ]


def test_sigterm_fails_readiness_refuses_connections_and_finishes_what_is_in_flight(
    seaweed_lane: tuple[Any, Any], tmp_path: Path
) -> None:
    """Four requests in flight at SIGTERM: a PUT, a GET and a Complete that go on and finish,
    and a PUT whose client never sends the rest, cut when ``shutdown_timeout`` passes."""
    server, upstream = seaweed_lane
    run = os.urandom(4).hex()
    held, release = threading.Event(), threading.Event()

    def hold_complete(exchange: Exchange) -> bytes | None:
        if exchange.method == "POST" and "uploadId" in exchange.query:
            held.set()
            release.wait(DEADLINE)
        return None  # then forwarded to SeaweedFS

    with relay_to(server.endpoint) as relay:
        proxy = start_proxy(
            server,
            upstream,
            tmp_path,
            {"endpoint": relay.endpoint},
            server={"workers": 2, "shutdown_timeout": SHUTDOWN_TIMEOUT},
        )
        try:
            s3 = proxy.client("alice")
            body = os.urandom(1024 * 1024) * (GET_SIZE // (1024 * 1024))
            s3.put_object(Bucket="docs", Key=f"w10h/{run}/get", Body=body)
            upload = s3.create_multipart_upload(Bucket="docs", Key=f"w10h/{run}/mpu")["UploadId"]
            part = s3.upload_part(
                Bucket="docs", Key=f"w10h/{run}/mpu", UploadId=upload, PartNumber=1, Body=b"m" * 10
            )
            relay.answer = hold_complete
            completed: list[Any] = []
            completing = threading.Thread(
                target=lambda: completed.append(
                    s3.complete_multipart_upload(
                        Bucket="docs",
                        Key=f"w10h/{run}/mpu",
                        UploadId=upload,
                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
                    )
                )
            )
            completing.start()
            assert held.wait(DEADLINE)
            download = socket.socket()
            download.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            download.connect(("127.0.0.1", proxy.port))
            url = object_url(proxy.endpoint, "docs", f"w10h/{run}/get")
            headers = sign("GET", url, *proxy.keys("alice"))
            head = f"GET /docs/w10h/{run}/get HTTP/1.1\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            download.sendall(head.encode())
            first = b""
            while b"\r\n\r\n" not in first:  # the answer has begun; the rest waits for us
                first += download.recv(65536)
            assert first.startswith(b"HTTP/1.1 200")
            put = start_put(proxy, f"w10h/{run}/put")
            cut = start_put(proxy, f"w10h/{run}/cut")
            wait_for(lambda: in_flight(proxy) >= 4, "four requests in flight")

            proxy.process.send_signal(signal.SIGTERM)
            wait_for(lambda: admin_status(proxy, "/readyz") in (503, None), "readiness fails")
            wait_for(lambda: refuses_connections(proxy.port), "new connections refused")

            put.sendall(b"p" * (PUT_SIZE - PUT_SIZE // 2))
            release.set()
            rest = b""
            download.settimeout(DEADLINE)
            while chunk := download.recv(1024 * 1024):
                rest += chunk
            download.close()
            status, _, _ = read_answer(put)
            put.close()
            completing.join(DEADLINE)
            cut_status, cut_headers, cut_body = read_answer(cut)  # its body never came
            cut.close()
            assert proxy.process.wait(timeout=DEADLINE) == 0
        finally:
            release.set()
            if proxy.process.returncode is None:
                proxy.process.stop()
    assert status == 200
    received = first.partition(b"\r\n\r\n")[2] + rest
    assert received == body
    assert completed and completed[0]["ResponseMetadata"]["HTTPStatusCode"] == 200
    stored = upstream.head_object(
        Bucket=HOME_BUCKET, Key=upstream_key("alice", "docs", f"w10h/{run}/put")
    )
    assert stored["ContentLength"] == PUT_SIZE
    mpu = upstream.head_object(
        Bucket=HOME_BUCKET, Key=upstream_key("alice", "docs", f"w10h/{run}/mpu")
    )
    assert mpu["ContentLength"] == 10

    # The cut PUT: a 503 an SDK retries (elsewhere), under its access line's request id.
    assert cut_status == 503
    assert b"<Code>ServiceUnavailable</Code>" in cut_body
    assert cut_headers.get("x-amz-id-2")
    lines = wait_for(lambda: access_line(proxy, f"w10h/{run}/cut"), "the cut PUT's access line")
    assert [(line["request_id"], line["status"], line["error"]) for line in lines] == [
        (cut_headers["x-amz-request-id"], 503, "Cancelled")
    ]
    prefix = upstream_key("alice", "docs", f"w10h/{run}/cut")
    assert upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=prefix).get("KeyCount", 0) == 0
    uploads = upstream.list_multipart_uploads(Bucket=HOME_BUCKET).get("Uploads", [])
    assert not [u for u in uploads if u["Key"].startswith(prefix)]
