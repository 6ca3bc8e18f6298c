"""``server.engine: uvicorn`` (s3proxy.uvicorn_engine): what the Hypercorn engine does at the
HTTP layer holds on uvicorn too, on the wire: S3 XML for requests the HTTP layer refuses,
``Expect: 100-continue``, HEAD, chunked bodies, pipelining, the keep-alive timeout, connection
bounds, 499 on a client disconnect, TLS, the supervisor's socket (workers), and the drain on
SIGTERM. The HTTP layer does not depend on the storage behind it: a local store serves these,
and a SeaweedFS upstream where workers need one. The whole suite also runs on this engine with
``S3PROXY_SERVER__ENGINE=uvicorn`` (BENCHMARKS.md, "Engine").
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.integration.conftest import Proxy, client_for, start_proxy
from tests.integration.test_http_layer import split
from tests.integration.test_logs import access_lines, wait_for
from tests.support.busy_connections import CONTINUE, hold_busy, upload_head
from tests.support.processes import SeaweedFS
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

ENGINES = ("uvicorn", "hypercorn")
"""Both engines: the rest of the suite runs on the default (uvicorn); Hypercorn stays
supported, and these are the HTTP-layer behaviours it must keep too."""
TIMEOUT = 30
KEEP_ALIVE = 2
"""engine_proxy's ``server.keep_alive_timeout``, in seconds."""
EARLIEST = KEEP_ALIVE - 0.1
"""The soonest a keep-alive close may come after what armed the timer, as the test's clock sees
it: the proxy's loop clock counts whole milliseconds, never ahead of the real one."""


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def engine_proxy(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    proxy = start_proxy(
        None,
        None,
        tmp_path_factory.mktemp("engine"),
        server={"engine": engine, "keep_alive_timeout": KEEP_ALIVE},
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def read_all(sock: socket.socket) -> bytes:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply


def exchange(proxy: Proxy, data: bytes, *pieces: bytes) -> bytes:
    """Send ``data`` (then each piece in its own write), read until the proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        for piece in pieces:
            sock.sendall(piece)
        return read_all(sock)


def head_bytes(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def signed_head(proxy: Proxy, method: str, key: str, extra: dict[str, str], **kw: Any) -> bytes:
    ak, sk = proxy.keys("alice")
    headers = sign(method, object_url(proxy.endpoint, "docs", key), ak, sk, extra, **kw)
    return head_bytes(method, f"/docs/{key}", headers)


def code(body: bytes) -> str | None:
    return ET.fromstring(body).findtext("Code")


def test_the_log_names_the_engine(engine_proxy: Proxy, engine: str) -> None:
    assert f"HTTP engine: {engine}" in engine_proxy.process.log_text()


class TestRefusalsBelowTheS3Layer:
    @pytest.mark.parametrize(
        ("head", "status", "expected"),
        [
            (b"GET /docs HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n", 400, "InvalidRequest"),
            (
                b"GET /docs HTTP/1.1\r\nHost: h\r\nContent-Length: ten\r\n\r\n",
                400,
                "InvalidRequest",
            ),
            (
                b"GET /docs HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
                "InvalidRequest",
            ),
            (b"GET /docs HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400, "InvalidRequest"),
            (
                b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
                501,
                "NotImplemented",
            ),
            (
                b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
                "NotImplemented",
            ),
        ],
        ids=[
            "header-line",
            "content-length",
            "two-lengths",
            "request-line",
            "gzip",
            "gzip-chunked",
        ],
    )
    def test_bad_http_gets_an_s3_xml_error(
        self, engine_proxy: Proxy, head: bytes, status: int, expected: str
    ) -> None:
        status_line, headers, body = split(exchange(engine_proxy, head))
        assert status_line.startswith(f"HTTP/1.1 {status} ".encode())
        assert headers["content-type"] == "application/xml"
        assert headers["connection"] == "close"
        assert headers["content-length"] == str(len(body))
        assert code(body) == expected
        assert ET.fromstring(body).findtext("RequestId") == headers["x-amz-request-id"]
        if status == 501:
            assert ET.fromstring(body).findtext("Header") == "Transfer-Encoding"

    @pytest.mark.parametrize("size", [20_000, 600_000], ids=["one-read", "many-reads"])
    def test_a_header_section_over_16_kib_is_refused(self, engine_proxy: Proxy, size: int) -> None:
        head = head_bytes("GET", "/docs", {"Host": "h", "X-Filler": "a" * size})
        status_line, _, body = split(exchange(engine_proxy, head))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert code(body) == "RequestHeaderSectionTooLarge"

    def test_a_large_header_section_below_the_limit_is_served(self, engine_proxy: Proxy) -> None:
        head = signed_head(
            engine_proxy, "GET", "absent", {"Connection": "close", "X-Filler": "a" * 12_000}
        )
        assert exchange(engine_proxy, head).startswith(b"HTTP/1.1 404 Not Found\r\n")

    def test_content_length_with_chunked_is_refused_and_nothing_stored(
        self, engine_proxy: Proxy
    ) -> None:
        key = "engine/cl-te-" + os.urandom(4).hex()
        extra = {"Transfer-Encoding": "chunked", "Content-Length": "5"}
        head = signed_head(engine_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
        reply = exchange(engine_proxy, head, b"5\r\nhello\r\n0\r\n\r\n")
        status_line, _, body = split(reply)
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert code(body) == "InvalidRequest"
        assert reply.count(b"HTTP/1.1") == 1
        assert not stored(engine_proxy, key)

    def test_a_bad_chunk_ends_the_upload_with_an_s3_error(self, engine_proxy: Proxy) -> None:
        key = "engine/bad-chunk-" + os.urandom(4).hex()
        extra = {"Transfer-Encoding": "chunked"}
        head = signed_head(engine_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
        status_line, _, body = split(exchange(engine_proxy, head, b"5\r\nhello\r\nzz\r\n"))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert code(body) == "InvalidRequest"
        assert not stored(engine_proxy, key)


def stored(proxy: Proxy, key: str) -> bool:
    listing = proxy.client("alice").list_objects_v2(Bucket="docs", Prefix=key)
    return bool(listing.get("KeyCount"))


class TestRequestsAndConnections:
    def test_chunked_body_pipelining_and_head_on_one_connection(self, engine_proxy: Proxy) -> None:
        key = "engine/pipelined-" + os.urandom(4).hex()
        put = signed_head(
            engine_proxy,
            "PUT",
            key,
            {"Transfer-Encoding": "chunked"},
            payload_hash="UNSIGNED-PAYLOAD",
        )
        get = signed_head(engine_proxy, "GET", key, {})
        head = signed_head(engine_proxy, "HEAD", key, {"Connection": "close"})
        # Three requests in one write: answered in order, the HEAD without a body.
        reply = exchange(engine_proxy, put + b"5\r\nhello\r\n0\r\n\r\n" + get + head)
        answers = reply.split(b"HTTP/1.1 ")[1:]
        assert [answer[:6] for answer in answers] == [b"200 OK"] * 3
        assert answers[1].endswith(b"\r\n\r\nhello")
        assert b"content-length: 5\r\n" in answers[2].lower()
        assert answers[2].endswith(b"\r\n\r\n")

    def test_expect_100_continue(self, engine_proxy: Proxy, engine: str) -> None:
        """Continue is sent when the proxy reads the body; a request refused before that gets
        its final answer instead (RFC 9110 §10.1.1, as S3 does), and the body is not sent, on
        both engines (Hypercorn sent Continue as soon as it read the head before wave 12 K)."""
        key = "engine/expect-" + os.urandom(4).hex()
        body = b"x" * 1000
        extra = {"Expect": "100-continue", "Content-Length": str(len(body))}
        with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(signed_head(engine_proxy, "PUT", key, extra, body=body))
            interim = sock.recv(65536)  # Hypercorn adds a Date header to it
            assert interim.startswith(b"HTTP/1.1 100 Continue\r\n") and interim.endswith(
                b"\r\n\r\n"
            )
            sock.sendall(body)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        ak, sk = engine_proxy.keys("alice")
        url = object_url(engine_proxy.endpoint, "no-such-bucket-engine", "k")
        headers = sign("PUT", url, ak, sk, extra, body)
        with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(head_bytes("PUT", "/no-such-bucket-engine/k", headers))
            reply = read_all(sock)
        status_line, headers_out, error = split(reply)
        assert status_line == b"HTTP/1.1 404 Not Found"
        assert headers_out["connection"] == "close"
        assert code(error) == "NoSuchBucket"

    def test_an_idle_connection_closes_after_the_keep_alive_timeout(
        self, engine_proxy: Proxy
    ) -> None:
        """Answered, the connection stays open for the keep-alive timeout, then the proxy
        closes it. The timer also runs from the connection's start until a head is complete: on
        a box so loaded that the proxy reads the head more than the timeout after accepting the
        connection, it closes unanswered (as it must) and the exchange is tried again; an
        unanswered close any sooner fails."""
        for _ in range(3):
            request = signed_head(engine_proxy, "GET", "absent", {})  # signed before connecting
            opened = time.monotonic()  # before the proxy can accept (and arm its timer)
            with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as s:
                sent = time.monotonic()  # before the proxy can answer (and arm its timer)
                s.sendall(request)
                try:
                    first = s.recv(65536)
                except ConnectionResetError:  # closed with the head unread: the kernel resets
                    first = b""
                if not first:
                    assert time.monotonic() - opened >= EARLIEST, "closed before any answer"
                    continue
                assert first.startswith(b"HTTP/1.1 404 Not Found\r\n")
                assert s.recv(65536) == b""  # closed by the proxy
                assert time.monotonic() - sent >= EARLIEST, "closed before the timeout"
                return
        pytest.fail("three connections in a row were closed before their head was read")

    def test_a_refused_upload_still_sending_its_body_reads_the_error(
        self, engine_proxy: Proxy
    ) -> None:
        """The proxy answers before the body ends and reads the rest away before closing:
        closing at once would reset the connection under the client's feet."""
        ak, sk = engine_proxy.keys("alice")
        url = object_url(engine_proxy.endpoint, "no-such-bucket-engine", "k")
        body = b"x" * (4 * 1024 * 1024)
        headers = sign("PUT", url, ak, sk, {"Content-Length": str(len(body))}, body)
        with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(head_bytes("PUT", "/no-such-bucket-engine/k", headers) + body)
            status_line, _, error = split(read_all(sock))
        assert status_line == b"HTTP/1.1 404 Not Found"
        assert code(error) == "NoSuchBucket"

    def test_an_abandoned_download_is_logged_499(self, engine_proxy: Proxy) -> None:
        size = 64 * 1024 * 1024
        engine_proxy.client("alice").put_object(Bucket="docs", Key="engine/big", Body=b"x" * size)
        with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(signed_head(engine_proxy, "GET", "engine/big", {}))
            received = b""
            while len(received) < 1024 * 1024:
                chunk = sock.recv(65536)
                assert chunk
                received += chunk
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        request_id = split(received)[1]["x-amz-request-id"]
        line = wait_for(lambda: access_lines(engine_proxy.process, request_id=request_id), "none")
        assert (line[0]["status"], line[0]["error"]) == (499, "ClientDisconnected")
        assert line[0]["bytes_out"] < size // 2


def test_connections_past_the_per_client_bound_get_503(tmp_path: Path, engine: str) -> None:
    server = {"engine": engine, "max_connections_per_client": 2}
    proxy = start_proxy(None, None, tmp_path, server=server)
    try:
        for tenant in ("alice", "bob"):  # the set-up's clients keep their connections open
            proxy.client(tenant).close()
        held: list[socket.socket] = []
        wait_for(lambda: hold_one_more(proxy, held), "two connections were not admitted")
        wait_for(lambda: hold_one_more(proxy, held), "two connections were not admitted")
        for number, sock in enumerate(held):  # busy: never closed for a new one
            upload = upload_head(proxy.endpoint, *proxy.keys("alice"), "docs", f"held/{number}")
            assert hold_busy(sock, upload).startswith(CONTINUE)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as third:
            status_line, headers, body = split(read_all(third))
        assert status_line == b"HTTP/1.1 503 Service Unavailable"
        assert headers["retry-after"] == "1"
        assert code(body) == "SlowDown"
        for sock in held:
            sock.close()
        wait_for(lambda: hold_one_more(proxy, []), "no connection was admitted after the close")
    finally:
        proxy.process.stop()


def hold_one_more(proxy: Proxy, held: list[socket.socket]) -> bool:
    """Open a connection and ask one request on it; keep it in ``held`` if it was served."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    sock.sendall(signed_head(proxy, "GET", "absent", {}))
    if sock.recv(65536).startswith(b"HTTP/1.1 404 Not Found\r\n"):
        held.append(sock)
        return True
    sock.close()
    return False


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(
    engine_proxy: Proxy,
) -> None:
    opened = time.monotonic()  # before the proxy can accept (and arm its timer)
    with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
        assert sock.recv(65536) == b""  # the keep-alive timeout, from the connection's start
        assert time.monotonic() - opened >= EARLIEST, "closed before the timeout"


def test_tls(tmp_path: Path, engine: str) -> None:
    authority = trustme.CA()
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem")
    )
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    pem = str(tmp_path / "server.pem")
    proxy = start_proxy(
        None, None, tmp_path, server={"engine": engine, "tls_cert": pem, "tls_key": pem}
    )
    try:
        endpoint = f"https://127.0.0.1:{proxy.port}"
        s3 = client_for(endpoint, *proxy.keys("alice"), verify=str(tmp_path / "ca.pem"))
        s3.create_bucket(Bucket="tls-engine")
        s3.put_object(Bucket="tls-engine", Key="k", Body=b"over tls")
        assert s3.get_object(Bucket="tls-engine", Key="k")["Body"].read() == b"over tls"
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            assert sock.version() in ("TLSv1.2", "TLSv1.3")
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n")
            status_line, _, body = split(read_all_tls(sock))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert code(body) == "InvalidRequest"
    finally:
        proxy.process.stop()


def read_all_tls(sock: ssl.SSLSocket) -> bytes:
    reply = b""
    try:
        while chunk := sock.recv(65536):
            reply += chunk
    except ssl.SSLError:  # closed without close_notify after the answer
        pass
    return reply


def test_sigterm_drains_with_two_workers(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path, engine: str
) -> None:
    """Workers serve the supervisor's socket; on SIGTERM a download in flight finishes, an idle
    connection is closed at once, and every process exits 0."""
    proxy = start_proxy(seaweed, upstream_s3, tmp_path, server={"engine": engine, "workers": 2})
    try:
        body = os.urandom(1024 * 1024) * 32
        s3 = proxy.client("alice")
        s3.put_object(Bucket="docs", Key="engine/drain", Body=body)
        stream = s3.get_object(Bucket="docs", Key="engine/drain")["Body"]
        first = stream.read(1024 * 1024)
        idle = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        idle.sendall(signed_head(proxy, "GET", "absent", {}))
        assert idle.recv(65536).startswith(b"HTTP/1.1 404 Not Found\r\n")
        stopper = threading.Thread(target=proxy.process.send_signal, args=(signal.SIGTERM,))
        stopper.start()
        assert idle.recv(65536) == b""  # the idle connection is closed by the drain
        idle.close()
        rest = stream.read()
        stopper.join()
        assert first + rest == body
        assert proxy.process.wait(timeout=TIMEOUT) == 0
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()
