"""Connections, follow-ups of wave 12 H (wave 12, K), on both engines, decided at the HTTP
layer before any backend call (the local store serves them, as in test_engine):

- a request whose body the client cuts short (a half-close, a close, bad chunk framing) is
  one access line, the application's (tenant, operation, key), with the answer the HTTP layer
  sent; it also wrote an anonymous ``Unknown`` 400 line of its own before;
- a TLS connection is counted by the connection bounds before its handshake;
- ``100 Continue`` is sent when the application first reads the body, so a request refused
  before that gets its refusal first and the body is never sent (Hypercorn sent it at once)."""

from __future__ import annotations

import os
import select
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, head_bytes, signed_head
from tests.integration.test_http_layer import split
from tests.integration.test_logs import access_lines, wait_for
from tests.integration.test_w11d_wire import refused, stored
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 30


@pytest.fixture(scope="module", params=ENGINES)
def k_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    server = {"engine": request.param}
    proxy = start_proxy(None, None, tmp_path_factory.mktemp("w12k"), server=server)
    try:
        yield proxy
    finally:
        proxy.process.stop()


def cut_short(proxy: Proxy, key: str, how: str) -> bytes:
    """A PUT whose body stops after its first bytes, in one of three ways; what came back."""
    if how == "chunk-line":  # one good chunk, then a chunk line no parser reads
        extra = {"Transfer-Encoding": "chunked"}
        sent = b"5\r\nhello\r\nzz\r\n"
    else:
        extra = {"Content-Length": str(1 << 20)}
        sent = b"x" * 1000
    head = signed_head(proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    reply = b""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + sent)
        if how == "half-close":
            sock.shutdown(socket.SHUT_WR)
        if how != "close":
            while chunk := sock.recv(65536):
                reply += chunk
    return reply


@pytest.mark.parametrize("how", ["half-close", "chunk-line", "close"])
def test_a_body_cut_short_is_one_access_line(k_proxy: Proxy, how: str) -> None:
    """G saw every UploadPart that aws-cli abandoned logged twice: the application's 499 line
    and an anonymous ``Unknown`` 400 InvalidRequest line for the answer the HTTP layer sent.
    Now the application's line is the only one, and it carries that answer (status, code and
    the request id the client got); nothing is stored."""
    key = "w12k/cut-" + os.urandom(4).hex()
    anonymous_before = len(access_lines(k_proxy.process, operation="Unknown"))
    reply = cut_short(k_proxy, key, how)
    lines = wait_for(lambda: access_lines(k_proxy.process, key=key), "no access line")
    # The HTTP layer's line, if any, is written before the application's (when it answers).
    assert len(access_lines(k_proxy.process, operation="Unknown")) == anonymous_before
    assert len(lines) == 1, lines
    line = lines[0]
    assert (line["operation"], line["tenant"]) == ("PutObject", "alice")
    assert (line["status"], line["error"]) == (400, "InvalidRequest")
    if reply:
        assert refused(reply) == (400, "InvalidRequest")
        assert line["request_id"] == split(reply)[1]["x-amz-request-id"]
    assert not stored(k_proxy, key)


def test_100_continue_comes_only_when_the_body_is_read(k_proxy: Proxy) -> None:
    """Hypercorn sent ``100 Continue`` as soon as it parsed the head, so a request refused
    before its body is read (here a bad signature) was answered only after the client had
    sent the whole body; uvicorn sends it when the application first reads. Both now: the
    refusal is the first answer, and an accepted PUT gets its 100 Continue, then its 200."""
    key = "w12k/expect-" + os.urandom(4).hex()
    extra = {"Content-Length": "5", "Expect": "100-continue"}
    ak, _ = k_proxy.keys("alice")
    url = object_url(k_proxy.endpoint, "docs", key)
    forged = sign("PUT", url, ak, "x" * 40, extra, payload_hash="UNSIGNED-PAYLOAD")
    with socket.create_connection(("127.0.0.1", k_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head_bytes("PUT", f"/docs/{key}", forged))
        assert sock.recv(65536).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    head = signed_head(k_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    with socket.create_connection(("127.0.0.1", k_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)  # Hypercorn's carries a Date header
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        assert interim.endswith(b"\r\n\r\n")
        sock.sendall(b"hello")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


PER_CLIENT = 4
"""tls_proxy's ``server.max_connections_per_client``."""
KEEP_ALIVE = 2
"""tls_proxy's ``server.keep_alive_timeout``: also its TLS handshake timeout (tls_front)."""


@pytest.fixture(scope="module")
def tls_proxy(
    k_proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, ssl.SSLContext]]:
    """A TLS proxy on k_proxy's engine, allowing PER_CLIENT connections from one address."""
    path = tmp_path_factory.mktemp("w12k-tls")
    authority = trustme.CA()
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(path / "server.pem")
    )
    pem = str(path / "server.pem")
    server = {
        "engine": k_proxy.process.log_text().split("HTTP engine: ", 1)[1].split('"', 1)[0],
        "tls_cert": pem,
        "tls_key": pem,
        "max_connections_per_client": PER_CLIENT,
        "keep_alive_timeout": KEEP_ALIVE,
    }
    proxy = start_proxy(None, None, path, server=server)
    context = ssl.create_default_context()
    authority.configure_trust(context)
    try:
        yield proxy, context
    finally:
        proxy.process.stop()


def closed_by_proxy(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_tls_connections_are_counted_before_their_handshake(
    tls_proxy: tuple[Proxy, ssl.SSLContext],
) -> None:
    """Both engines counted a TLS connection only once its handshake was over: 2,000 bare TCP
    connects to a TLS proxy allowing 50 per address were all accepted, each holding a socket
    for the loop's 60-s handshake timeout. Now the connections past the bound are closed at
    once, those within it after the handshake timeout (here the 2-s keep-alive timeout),
    and a TLS client is served again once they are gone."""
    proxy, context = tls_proxy
    bare = [
        socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        for _ in range(PER_CLIENT + 6)
    ]
    try:
        over: set[socket.socket] = set()
        deadline = time.monotonic() + KEEP_ALIVE / 2  # the ones over the bound: at once
        while len(over) < 6 and (left := deadline - time.monotonic()) > 0:
            over.update(select.select(bare, [], [], left)[0])
        assert len(over) == 6
        for sock in over:
            assert closed_by_proxy(sock)
        held = [sock for sock in bare if sock not in over]
        opened = time.monotonic()
        for sock in held:  # the handshake timeout (KEEP_ALIVE), not asyncio's 60 s
            sock.settimeout(KEEP_ALIVE + 5)
            assert closed_by_proxy(sock)
        assert time.monotonic() - opened < KEEP_ALIVE + 5
    finally:
        for sock in bare:
            sock.close()
    endpoint = f"https://127.0.0.1:{proxy.port}"

    def listed() -> bool:
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n")
            return sock.recv(65536).startswith(b"HTTP/1.1 400 ")

    assert wait_for(listed, f"{endpoint} not served after the bare connections closed")
