"""Upstream failures never become a client 2xx, and never show upstream text.

A real S3 server does not fail on demand, so these tests put a deliberately broken HTTP server
(a few lines of sockets, not an S3 emulation) behind the proxy: one that cuts a GET body short,
answers errors full of internal detail, sets a cookie, or is not listening at all. It is
addressed as `localhost` (a host name: HTTP clients keep no cookies for bare IP addresses).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import select
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.processes import ProxyProcess, free_port, write_config
from tests.support.s3http import object_url, sign, signed

pytestmark = pytest.mark.integration

AK, SK = "AKFAIL00000000000001", "failure-tests-secret-key-0123"
LEAKY = "upstream-internal-detail-9f8e"
DECLARED_SIZE = 4 * 1024 * 1024
UNSIGNED = "UNSIGNED-PAYLOAD"


HOSTILE_GETS = {
    "bad-status": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "switching": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    "length-and-chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nabcde\r\n0\r\n\r\n"
    ),
    "bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nabcde",
    "huge-head": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 100_000 + b"\r\nContent-Length: 0\r\n\r\n",
    "closes-at-once": b"",
}
"""GET answers that are not HTTP/1.1 a client can trust (path suffix -> raw answer): each must
reach the proxy's client as 503 ServiceUnavailable, never the upstream's bytes."""
INTERIM = (
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n"
    b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
    b"Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT\r\n\r\nfinal"
)
CHUNKED_CUT = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
    b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
    b"Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT\r\n\r\n" + b"100000\r\n" + b"c" * 0x100000
)
"""A chunked body without its last chunk (and the connection then closed)."""


def _reply(method: str, path: str) -> bytes:
    if method == "GET" and path.rsplit("/", 1)[-1] in HOSTILE_GETS:
        return HOSTILE_GETS[path.rsplit("/", 1)[-1]]
    if method == "GET" and path.endswith("/interim"):
        return INTERIM
    if method == "GET" and path.endswith("/chunked-cut"):
        return CHUNKED_CUT
    if ".s3proxy-layout" in path:  # the layout's key-encoding marker: none yet, then written
        if method == "PUT":
            return b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: "0"\r\n\r\n'
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    if method == "GET" and ("list-type=2" in path or "uploads" in path):  # an empty root
        body = b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
        return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    if method == "GET" and path.endswith("/cookie"):  # what a sticky load balancer adds
        return (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
            b'ETag: "0123456789abcdef0123456789abcdef"\r\n'
            b"Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT\r\n"
            b"Set-Cookie: AWSALB=sticky-node-7; Path=/\r\n\r\nok"
        )
    if method == "GET" and path.endswith("/short"):
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Length: {DECLARED_SIZE}\r\n"
            'ETag: "0123456789abcdef0123456789abcdef"\r\n'
            "Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT\r\n\r\n"
        )
        # 1 MiB, then the connection drops: more than one chunk of the proxy's stream, so the
        # response head is already on its way to the client when the upstream fails.
        return head.encode() + b"x" * (1024 * 1024)
    if method == "HEAD":
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    if path.endswith("/refused"):  # SeaweedFS's answer to a key it cannot store
        body = f"<Error><Code>InvalidRequest</Code><Message>{LEAKY}</Message></Error>".encode()
        return (
            f"HTTP/1.1 400 Bad Request\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/xml\r\n\r\n"
        ).encode() + body
    body = (
        f"<Error><Code>InternalError</Code><Message>{LEAKY} in bucket {LEAKY}</Message>"
        f"<Resource>/{LEAKY}/key</Resource></Error>"
    ).encode()
    return (
        f"HTTP/1.1 500 Internal Server Error\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/xml\r\nConnection: close\r\n\r\n"
    ).encode() + body


SEEN_PATHS: list[str] = []
SEEN_HEADERS: list[dict[str, str]] = []


def _serve(listener: socket.socket) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            SEEN_PATHS.append(path)
            SEEN_HEADERS.append(
                {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
            )
            length = next(
                (int(v) for k, _, v in (line.partition(": ") for line in lines[1:])
                 if k.lower() == "content-length"),
                0,
            )  # fmt: skip
            if method == "PUT" and path.endswith("/dies-mid-put"):
                _die_mid_body(connection, len(rest))
                continue
            if method == "GET" and path.endswith("/trickle"):
                _trickle(connection)
                continue
            remaining = length - len(rest)
            while remaining > 0:
                chunk = connection.recv(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            reply = _reply(method, path)
            if b"Connection: close" not in reply:  # one request per connection, and said so
                reply = reply.replace(b"\r\n", b"\r\nConnection: close\r\n", 1)
            connection.sendall(reply)


KILL = threading.Event()
"""Set by the mid-PUT test when everything between it and the upstream is full."""
DIED = threading.Event()
DIED_AT: list[float] = []
"""When the upstream of the mid-PUT test went away (time.monotonic())."""
READ_BEFORE_STALLING = 1024 * 1024
STILL = 0.5
"""Seconds the client's send buffer stays full before the mid-PUT test calls the path full."""


def _die_mid_body(connection: socket.socket, received: int) -> None:
    """An upstream killed mid-PUT: it reads part of the body, stops reading (busy), then its
    socket is closed with the rest unread, as the kernel does for a killed process."""
    while received < READ_BEFORE_STALLING:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += len(chunk)
    KILL.wait(30)
    DIED_AT.append(time.monotonic())
    DIED.set()


def _trickle(connection: socket.socket) -> None:
    """A slowloris upstream: a header byte every 50 ms, never the head's end, until the proxy
    gives up and closes (or 30 s)."""
    connection.settimeout(1)
    with contextlib.suppress(OSError):
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(600):
            connection.sendall(b"z")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def broken_upstream() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    thread = threading.Thread(target=_serve, args=(listener,), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture(scope="module")
def failing_proxy(
    broken_upstream: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    work = tmp_path_factory.mktemp("failing-proxy")
    port, admin_port, dead_port = free_port(), free_port(), free_port()
    config = write_config(
        work / "s3proxy.yaml",
        {
            "server": {"port": port, "admin_port": admin_port, "secret": "s" * 32},
            # plain: upstream keys are the client's, as the path test below reads them
            "layout": {"key_encoding": "plain"},
            "upstreams": {
                "broken": {"endpoint": f"http://localhost:{broken_upstream}",
                           "access_key": "UPAK", "secret_key": "upstream-secret"},
                "slow": {"endpoint": f"http://localhost:{broken_upstream}",
                         "access_key": "UPAK", "secret_key": "upstream-secret",
                         "read_timeout": 1},
                "down": {"endpoint": f"http://127.0.0.1:{dead_port}",
                         "access_key": "UPAK", "secret_key": "upstream-secret",
                         "connect_timeout": 2},
            },
            "tenants": {
                "t": {
                    "keys": [{"access_key": AK, "secret_key": SK}],
                    "buckets": {
                        "broken": {"upstream": "broken", "bucket": LEAKY},
                        "down": {"upstream": "down", "bucket": "down-bucket"},
                        "slow": {"upstream": "slow", "bucket": LEAKY},
                    },
                }
            },
        },
    )  # fmt: skip
    process = ProxyProcess.start(config, admin_port=admin_port, log_path=work / "proxy.log")
    try:
        yield f"http://127.0.0.1:{port}", admin_port
    finally:
        process.stop()


def test_get_cut_short_upstream_aborts_the_client_connection(
    failing_proxy: tuple[str, int],
) -> None:
    url = object_url(failing_proxy[0], "broken", "short")
    headers = sign("GET", url, AK, SK)
    port = int(failing_proxy[0].rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("GET", "/broken/short", skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(DECLARED_SIZE)
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_chunked_get_cut_short_is_never_a_complete_answer(failing_proxy: tuple[str, int]) -> None:
    """An upstream GET framed chunked, cut before its last chunk: the client must not get a
    complete 200 with fewer bytes (an error, or an aborted body)."""
    url = object_url(failing_proxy[0], "broken", "chunked-cut")
    headers = sign("GET", url, AK, SK)
    port = int(failing_proxy[0].rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", "/broken/chunked-cut", skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        if response.status == 200:
            with pytest.raises(http.client.IncompleteRead):
                response.read()
        else:
            body = response.read()
            assert response.status >= 500
            assert b"c" * 64 not in body
    finally:
        connection.close()


@pytest.mark.parametrize("name", HOSTILE_GETS)
def test_hostile_upstream_answer_is_503_without_its_bytes(
    failing_proxy: tuple[str, int], name: str
) -> None:
    response = signed("GET", object_url(failing_proxy[0], "broken", name), AK, SK)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert b"could not be reached" in response.body
    assert b"Traceback" not in response.body
    for upstream_bytes in (b"Switching", b"h2c", b"abcde", b"ppppppppp"):
        assert upstream_bytes not in response.body
    assert all(value != "h2c" and "ppp" not in value for _, value in response.headers)


def test_interim_answer_before_the_final_one_is_skipped(failing_proxy: tuple[str, int]) -> None:
    response = signed("GET", object_url(failing_proxy[0], "broken", "interim"), AK, SK)
    assert (response.status, response.body) == (200, b"final")


def test_slowloris_upstream_head_is_a_503_after_read_timeout(
    failing_proxy: tuple[str, int],
) -> None:
    """Header bytes trickled forever never count as progress: the proxy answers 503 once the
    upstream's read_timeout (1 s here) passed, instead of waiting for ever."""
    started = time.monotonic()
    response = signed("GET", object_url(failing_proxy[0], "slow", "trickle"), AK, SK)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert b"zzz" not in response.body
    assert time.monotonic() - started < 15


def test_upstream_500_is_503_without_upstream_text(failing_proxy: tuple[str, int]) -> None:
    url = object_url(failing_proxy[0], "broken", "put-me")
    response = signed("PUT", url, AK, SK, body=b"data")
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert b"storage behind this gateway failed" in response.body
    assert LEAKY.encode() not in response.body
    assert all(LEAKY not in value for _, value in response.headers)


def test_upstream_client_error_stays_a_client_error(failing_proxy: tuple[str, int]) -> None:
    """An upstream 400 is the request's fault: 400 for the client too, never a 500 to retry."""
    url = object_url(failing_proxy[0], "broken", "refused")
    response = signed("PUT", url, AK, SK, body=b"data")
    assert (response.status, response.error_code) == (400, "InvalidRequest")
    assert LEAKY.encode() not in response.body


def test_upstream_auth_failure_is_500_internal_error(failing_proxy: tuple[str, int]) -> None:
    response = signed("HEAD", object_url(failing_proxy[0], "broken", "k"), AK, SK)
    assert response.status == 500


def test_upstream_down_is_503_and_not_ready(failing_proxy: tuple[str, int]) -> None:
    response = signed("GET", object_url(failing_proxy[0], "down", "k"), AK, SK)
    assert (response.status, response.error_code) == (503, "ServiceUnavailable")
    assert b"could not be reached" in response.body
    assert b"reduce your request rate" not in response.body.lower()
    admin_port = failing_proxy[1]
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=30)
        raise AssertionError("readiness must fail while an upstream is down")
    except urllib.error.HTTPError as error:
        assert error.code == 503
        report = json.loads(error.read())
        assert report["ready"] is False
        assert report["upstreams"]["down/down-bucket"] != "ok"
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=30) as answer:
        exposition = answer.read().decode()  # what the readiness alert in charts/ reads
    assert 's3proxy_upstream_ready{target="down/down-bucket"} 0.0' in exposition


def test_upstream_path_keeps_dot_segments_and_double_slashes(
    failing_proxy: tuple[str, int],
) -> None:
    key = "dots/../x//y/./z"
    signed("PUT", object_url(failing_proxy[0], "broken", key), AK, SK, body=b"1")
    shard = hashlib.sha256(key.encode()).hexdigest()[:1]
    assert f"/{LEAKY}/{shard}/dots/../x//y/./z" in SEEN_PATHS


def test_upstream_cookies_are_neither_passed_on_nor_sent_back(
    failing_proxy: tuple[str, int],
) -> None:
    """S3 is not cookie-based: a cookie the upstream (or its load balancer) sets must not reach
    the client, nor come back upstream on later requests, which may be other tenants'."""
    port = int(failing_proxy[0].rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:  # one kept-alive connection: both requests are served by the same worker
        for key in ("cookie", "cookie"):
            url = object_url(failing_proxy[0], "broken", key)
            connection.putrequest("GET", f"/broken/{key}", skip_host=True)
            for name, value in sign("GET", url, AK, SK).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"ok")
            assert response.getheader("Set-Cookie") is None
    finally:
        connection.close()
    sent = [headers for path, headers in zip(SEEN_PATHS, SEEN_HEADERS, strict=True)
            if path.endswith("/cookie")]  # fmt: skip
    assert len(sent) == 2
    assert all("cookie" not in headers for headers in sent)


def test_upstream_dying_mid_put_is_a_prompt_503(failing_proxy: tuple[str, int]) -> None:
    """The upstream dies while the proxy streams a PUT body to it: the client, still sending,
    gets 503 ServiceUnavailable at once. It used to get nothing: the proxy's answer waited
    behind the body it had stopped reading, until the client's own read timeout (60 s for
    aws-cli and boto3, 20 s here) gave up on a silent connection.

    The upstream dies when every buffer on the way is full (the client's send would block),
    which is where a busy upstream leaves a large upload; the client then behaves as urllib3
    does: it keeps sending, and when the server closes, reads the answer."""
    size = 64 * 1024 * 1024
    url = object_url(failing_proxy[0], "broken", "dies-mid-put")
    headers = sign("PUT", url, AK, SK, {"Content-Length": str(size)}, payload_hash=UNSIGNED)
    port = int(failing_proxy[0].rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    KILL.clear()
    DIED.clear()
    DIED_AT.clear()
    try:
        connection.putrequest("PUT", "/broken/dies-mid-put", skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        sock = connection.sock
        assert sock is not None
        chunk = memoryview(b"x" * 65536)
        sent = 0
        sock.setblocking(False)
        while not KILL.is_set():  # fill every buffer up to the stalled upstream
            try:
                sent += sock.send(chunk)
            except BlockingIOError:  # full for now; full for good once nothing moves
                if not select.select([], [sock], [], STILL)[1]:
                    KILL.set()
            assert sent < size, "the upstream never stalled the body"
        sock.settimeout(20)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < size:
                sent += sock.send(chunk[: size - sent])
        response = connection.getresponse()
        answered = time.monotonic()
        body = response.read()
    finally:
        KILL.set()
        connection.close()
    assert response.status == 503
    assert b"<Code>ServiceUnavailable</Code>" in body
    assert DIED.wait(5)
    assert len(DIED_AT) == 1
    assert answered - DIED_AT[0] < 5, "the 503 must follow the upstream's death, not a timer"
