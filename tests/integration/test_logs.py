"""What the operator reads: one timestamp format, one access line per request (aborted downloads
499 with the bytes actually sent, uploads whose upstream died), object keys plain or hashed, no
per-write transport noise, and drain progress after SIGTERM.

The proxies here are real processes on loopback: a local store, or a few lines of sockets posing
as an upstream that dies in the middle of an upload.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import TENANT_KEYS, Proxy, start_proxy
from tests.support.processes import ProxyProcess, free_port, write_config
from tests.support.s3http import object_url, sign, signed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

RFC3339_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DEADLINE = 30.0
AK, SK = TENANT_KEYS["alice"]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def access_lines(process: ProxyProcess, **match: Any) -> list[dict[str, Any]]:
    return [
        entry
        for entry in json_lines(process.log_text())
        if "request_id" in entry and all(entry.get(k) == v for k, v in match.items())
    ]


@pytest.fixture()
def local_proxy(tmp_path: Path) -> Iterator[Proxy]:
    proxy = start_proxy(None, None, tmp_path)
    try:
        yield proxy
    finally:
        proxy.process.stop()


def test_every_line_has_one_timestamp_format_and_access_lines_carry_the_key(
    local_proxy: Proxy,
) -> None:
    local_proxy.client("alice").put_object(Bucket="docs", Key="logs/a b.txt", Body=b"12345")
    line = wait_for(
        lambda: access_lines(local_proxy.process, key="logs/a b.txt"), "no access line"
    )[0]
    assert (line["operation"], line["status"], line["bucket"]) == ("PutObject", 200, "docs")
    entries = json_lines(local_proxy.process.log_text())
    assert any("level" in entry for entry in entries)  # application lines are checked too
    assert all(RFC3339_MS_UTC.match(entry["time"]) for entry in entries), entries


def test_hashed_keys_are_stable_and_do_not_show_the_key(tmp_path: Path) -> None:
    proxy = start_proxy(None, None, tmp_path, logging={"access_log_keys": "hash"})
    try:
        s3 = proxy.client("alice")
        s3.put_object(Bucket="docs", Key="secret/plan.txt", Body=b"1")
        s3.get_object(Bucket="docs", Key="secret/plan.txt")["Body"].read()
        s3.put_object(Bucket="docs", Key="secret/other.txt", Body=b"2")
        keyed = wait_for(
            lambda: (found := [e for e in access_lines(proxy.process) if "key" in e])[2:] and found,
            "no access lines",
        )
    finally:
        proxy.process.stop()
    put, get, other = (entry["key"] for entry in keyed[-3:])
    assert re.fullmatch(r"[0-9a-f]{32}", put)
    assert put == get != other
    assert "secret/plan" not in proxy.process.log_text()


def test_an_abandoned_download_is_logged_499_with_the_bytes_actually_sent(
    local_proxy: Proxy,
) -> None:
    size = 64 * 1024 * 1024
    local_proxy.client("alice").put_object(Bucket="docs", Key="big", Body=b"x" * size)
    url = object_url(local_proxy.endpoint, "docs", "big")
    with socket.create_connection(("127.0.0.1", local_proxy.port), timeout=DEADLINE) as client:
        head = "".join(f"{name}: {value}\r\n" for name, value in sign("GET", url, AK, SK).items())
        client.sendall(f"GET /docs/big HTTP/1.1\r\n{head}\r\n".encode())
        received = b""
        while len(received) < 1024 * 1024:
            chunk = client.recv(65536)
            assert chunk, "the proxy closed the download"
            received += chunk
        match = re.search(rb"x-amz-request-id: (\w+)", received, re.IGNORECASE)
        assert match is not None
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    request_id = match.group(1).decode()  # the socket is closed (reset) here: the client left
    line = wait_for(lambda: access_lines(local_proxy.process, request_id=request_id), "no line")
    assert len(line) == 1
    assert (line[0]["status"], line[0]["error"]) == (499, "ClientDisconnected")
    # What left the proxy before it saw the reset: at least what the client read, and far
    # less than the object (socket buffers on loopback hold a few MiB at most).
    assert len(received) - 1024 <= line[0]["bytes_out"] < size // 2
    assert "socket.send() raised exception" not in local_proxy.process.log_text()


def test_sigterm_logs_the_requests_in_flight_every_second(local_proxy: Proxy) -> None:
    assert_drain_progress(local_proxy.process, local_proxy.endpoint, "docs")


def test_sigterm_with_two_workers_logs_progress_too(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    process, endpoint = proxy_before(fake_upstream, tmp_path, workers=2)
    try:
        assert_drain_progress(process, endpoint, "fake")
    finally:
        if process.returncode is None:
            process.stop()


def assert_drain_progress(process: ProxyProcess, endpoint: str, bucket: str) -> None:
    """An upload is held open (part of its body sent) across SIGTERM: the drain reports it in
    flight at least twice, a second apart; once its body is complete it is answered and the
    server exits cleanly."""
    url = object_url(endpoint, bucket, "slow-upload")
    length = 1024
    headers = sign(
        "PUT", url, AK, SK, {"Content-Length": str(length)}, payload_hash="UNSIGNED-PAYLOAD"
    )
    port = int(endpoint.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as client:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"PUT /{bucket}/slow-upload HTTP/1.1\r\n{head}\r\n".encode()
        client.sendall(request + b"a" * 100)
        wait_for(lambda: _metric_in_flight(process), "the upload never started")
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: [n for n in _drain_reports(process) if n == 1][1:], "no drain progress")
        client.sendall(b"a" * (length - 100))
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert process.wait(timeout=DEADLINE) == 0


def _drain_reports(process: ProxyProcess) -> list[int]:
    found = re.findall(r"draining: (\d+) requests? in flight", process.log_text())
    return [int(count) for count in found]


def _metric_in_flight(process: ProxyProcess) -> bool:
    with urllib.request.urlopen(process.admin_endpoint + "/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(r"^s3proxy_requests_in_flight (\S+)$", text, re.MULTILINE)
    return match is not None and float(match.group(1)) >= 1


# --- an upstream that dies in the middle of an upload ---------------------------------------

LAYOUT_MARKER = ".s3proxy-layout"
EMPTY_LISTING = b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"


class FakeUpstream:
    """Answers the layout marker, listings and probes. The PUT of ``dying-put`` reads 256 KiB
    of its body, then resets the connection and stops listening (the upstream process is gone);
    the PUT of ``hanging-put`` reads its body and never answers until :meth:`close`."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.died = threading.Event()
        self.hanging = threading.Event()
        self.released = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        method, path = data.split(b"\r\n", 1)[0].decode().split(" ")[:2]
        length = re.search(rb"(?i)content-length: (\d+)", data)
        remaining = int(length.group(1)) if length else 0
        remaining -= len(data.partition(b"\r\n\r\n")[2])
        if method == "PUT" and "dying-put" in path:
            while remaining > 4 * 1024 * 1024 - 256 * 1024:
                remaining -= len(connection.recv(65536))
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            self.listener.close()
            self.died.set()
            return
        while remaining > 0:
            remaining -= len(connection.recv(65536))
        if method == "PUT" and "hanging-put" in path:
            self.hanging.set()
            self.released.wait(DEADLINE)
            return
        status = "404 Not Found" if LAYOUT_MARKER in path and method != "PUT" else "200 OK"
        body = EMPTY_LISTING if method == "GET" and LAYOUT_MARKER not in path else b""
        head = f'HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nETag: "0"\r\n'
        connection.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)


@pytest.fixture()
def fake_upstream() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    yield upstream
    upstream.close()


def proxy_before(upstream: FakeUpstream, work: Path, **server: Any) -> tuple[ProxyProcess, str]:
    port, admin_port = free_port(), free_port()
    config = write_config(
        work / "s3proxy.yaml",
        {
            "server": {"port": port, "admin_port": admin_port, "secret": "s" * 32, **server},
            "layout": {"key_encoding": "plain"},  # the upstream path shows the client's key
            "upstreams": {
                "fake": {
                    "endpoint": f"http://127.0.0.1:{upstream.port}",
                    "access_key": "UPAK",
                    "secret_key": "upstream-secret",
                    "connect_timeout": 2,
                }
            },
            "tenants": {
                "t": {
                    "keys": [{"access_key": AK, "secret_key": SK}],
                    "buckets": {"fake": {"upstream": "fake", "bucket": "upstream-b"}},
                }
            },
        },
    )
    process = ProxyProcess.start(config, admin_port=admin_port, log_path=work / "proxy.log")
    return process, f"http://127.0.0.1:{port}"


def test_an_upload_whose_upstream_died_leaves_exactly_one_access_line(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    process, endpoint = proxy_before(fake_upstream, tmp_path)
    try:
        url = object_url(endpoint, "fake", "dying-put")
        try:
            status: int | None = signed("PUT", url, AK, SK, body=b"y" * (4 * 1024 * 1024)).status
        except OSError:  # the proxy may have cut the upload: then the client saw no status
            status = None
        assert fake_upstream.died.is_set()
        lines = wait_for(lambda: access_lines(process, key="dying-put"), "no access line")
        assert len(lines) == 1
        logged = lines[0]["status"]
        assert logged >= 500 or logged == 499, lines
        if status is not None:
            assert status == logged
    finally:
        process.stop()


def test_an_upload_cut_by_the_shutdown_timeout_leaves_its_access_line(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    process, endpoint = proxy_before(fake_upstream, tmp_path, shutdown_timeout=1, workers=1)
    url = object_url(endpoint, "fake", "hanging-put")

    outcome: list[int | None] = []

    def put() -> None:
        try:
            outcome.append(signed("PUT", url, AK, SK, body=b"z" * 1000).status)
        except OSError:  # the shutdown cut the connection
            outcome.append(None)

    upload = threading.Thread(target=put, daemon=True)
    upload.start()
    try:
        assert fake_upstream.hanging.wait(DEADLINE)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.returncode is None:
            process.stop()
    upload.join(DEADLINE)
    assert outcome and (outcome[0] is None or outcome[0] >= 500), outcome
    lines = access_lines(process, key="hanging-put")
    assert [(line["status"], line["error"]) for line in lines] == [(503, "Cancelled")]
