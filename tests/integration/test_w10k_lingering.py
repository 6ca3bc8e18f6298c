"""A request answered before its body has arrived (an upload refused early: NoSuchBucket,
AccessDenied, a quota) is followed by the rest of that body: the client is still sending it.
Closing the connection at once with request bytes unread makes the kernel reset it, and a
client (boto3, aws-cli) then sees a connection reset instead of the S3 error. Both engines
close such a connection lingering: the answer, then FIN, then what the client still sends is
read and dropped for :data:`s3proxy.connection_writer.LINGER_SECONDS` (uvicorn:
s3proxy.connection_writer; Hypercorn: s3proxy.hypercorn_patch.linger_on_close).

The test orders the exchange so that it fails without the lingering close whatever the load:
the client sends only the head, waits until the whole error answer has arrived, and only then
sends the body. Without the linger the proxy has closed (or is closing) a socket with bytes
unread, so the body meets a reset.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_http_layer import error_code, split
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 30
BODY = 16 * 1024 * 1024
"""More than loopback's socket buffers hold: the body cannot all be queued before a reset."""


@pytest.fixture(scope="module", params=("uvicorn", "hypercorn"))
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    engine: str = request.param
    proxy = start_proxy(None, None, tmp_path_factory.mktemp("w10k"), server={"engine": engine})
    try:
        yield proxy
    finally:
        proxy.process.stop()


def _refused_put_head(proxy: Proxy, size: int) -> bytes:
    """A signed PUT head of ``size`` body bytes into a bucket that does not exist."""
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "no-such-bucket-w10k", "k")
    extra = {"Content-Length": str(size)}
    headers = sign("PUT", url, ak, sk, extra, payload_hash="UNSIGNED-PAYLOAD")
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"PUT /no-such-bucket-w10k/k HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def _peek_answer(sock: socket.socket) -> int:
    """Wait, without reading it, until one whole answer (head and Content-Length body) is in
    ``sock``'s receive buffer; its length."""
    while True:
        data = sock.recv(1 << 20, socket.MSG_PEEK)
        assert data, "the proxy closed without answering"
        head, found, body = data.partition(b"\r\n\r\n")
        if found:
            length = int(split(data)[1]["content-length"])
            if len(body) >= length:
                return len(head) + len(found) + length


def test_the_rest_of_a_refused_body_is_read_away_and_the_answer_survives(
    engine_proxy: Proxy,
) -> None:
    with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(_refused_put_head(engine_proxy, BODY))
        size = _peek_answer(sock)  # answered and closing, not one body byte sent yet
        sock.sendall(b"x" * BODY)  # a reset here: BrokenPipeError / ConnectionResetError
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, headers, body = split(reply)
    assert len(reply) == size
    assert status_line == b"HTTP/1.1 404 Not Found"
    assert headers["connection"] == "close"
    assert error_code(body) == "NoSuchBucket"
