"""Connections wave 12 left (wave 13 E), decided at the HTTP layer before any backend call: the
local store serves them.

- uvicorn answered 33 pipelined requests, then 503 SlowDown and closed, where Hypercorn answers
  every one: now what does not fit in a connection's queue is kept unparsed until half of it is
  answered (s3proxy.uvicorn_pipeline), and every request is answered in order;
- the admin port had no connection bound: one client could hold thousands of connections to it.
  It is now bounded as the S3 port is, by ``server.admin_max_connections`` and
  ``server.admin_max_connections_per_client`` (s3proxy.connections).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import signed_head
from tests.support.waiting import DEADLINE, wait_for

pytestmark = pytest.mark.integration

TIMEOUT = DEADLINE
"""Seconds a socket read may wait: reached only by an answer that never comes."""
ADMIN_PER_CLIENT = 3


@pytest.fixture(scope="module")
def e_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    server = {
        "engine": "uvicorn",
        "admin_max_connections": 8,
        "admin_max_connections_per_client": ADMIN_PER_CLIENT,
    }
    proxy = start_proxy(None, None, tmp_path_factory.mktemp("w13e"), server=server)
    try:
        yield proxy
    finally:
        proxy.process.stop()


def read_answers(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """``count`` HTTP/1.1 answers read off ``sock``: (status, body) each, in order (bodies
    framed by Content-Length, as every answer here is)."""
    buffer = b""
    answers: list[tuple[int, bytes]] = []
    while len(answers) < count:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = buffer[:end].decode("latin-1").split("\r\n")
            fields = dict(line.split(": ", 1) for line in head[1:])
            length = int(next((v for k, v in fields.items() if k.lower() == "content-length"), 0))
            if len(buffer) >= end + 4 + length:
                answers.append((int(head[0].split()[1]), buffer[end + 4 : end + 4 + length]))
                buffer = buffer[end + 4 + length :]
                continue
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buffer += chunk
    return answers


def test_pipelined_requests_past_the_queue_are_all_answered_in_order(e_proxy: Proxy) -> None:
    """40 PUTs with bodies, then 40 GETs of the same keys, sent in one write before any answer
    is read: before, the 33rd was 503 SlowDown and the connection closed, so 47 requests went
    unanswered and 8 objects unstored; now all 80 are answered in order, each GET with its own
    PUT's body."""
    tag = os.urandom(3).hex()
    keys = [f"w13e/pipe-{tag}-{n}" for n in range(40)]
    sent = b""
    for n, key in enumerate(keys):
        body = f"body {n} of {tag}".encode()
        extra = {"Content-Length": str(len(body))}
        sent += signed_head(e_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD") + body
    for key in keys:
        sent += signed_head(e_proxy, "GET", key, {})
    with socket.create_connection(("127.0.0.1", e_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(sent)
        answers = read_answers(sock, 80)
    assert [status for status, _ in answers] == [200] * 80, answers[-1]
    assert [body for _, body in answers[40:]] == [f"body {n} of {tag}".encode() for n in range(40)]


def test_a_half_close_after_pipelined_requests_waits_for_all_their_answers(
    e_proxy: Proxy,
) -> None:
    """50 GETs, then the client's half-close, while requests past the queue are still kept
    unparsed: all 50 are answered, then the connection closes."""
    request = signed_head(e_proxy, "GET", "w13e/absent", {})
    with socket.create_connection(("127.0.0.1", e_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(request * 50)
        sock.shutdown(socket.SHUT_WR)
        answers = read_answers(sock, 51)  # one more than sent: read to the close
    assert [status for status, _ in answers] == [404] * 50


def admin_connection(proxy: Proxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.admin_port), timeout=TIMEOUT)


def healthz(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
    reply = b""
    while not reply.endswith(b"ok\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def test_the_admin_port_bounds_one_clients_connections(e_proxy: Proxy) -> None:
    """One address holds the admin port's per-client bound of connections: the next one is
    answered 503 with ``Retry-After`` at once and closed (before, it was accepted, as were
    thousands more), those held are served, and a connection closed frees its place."""
    held = [admin_connection(e_proxy) for _ in range(ADMIN_PER_CLIENT)]
    try:
        assert healthz(held[0]).startswith(b"HTTP/1.1 200")
        with admin_connection(e_proxy) as extra:
            # before, no answer: an idle connection, accepted (the read times out)
            refused = extra.recv(4096)
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), refused
        assert b"\r\nRetry-After: 1\r\n" in refused and b"too many connections" in refused
        assert healthz(held[1]).startswith(b"HTTP/1.1 200")
        held.pop().close()

        def served() -> bool:  # the release comes when the server sees the close
            with admin_connection(e_proxy) as again:
                return healthz(again).startswith(b"HTTP/1.1 200")

        wait_for(served, "a place freed by the closed connection")
    finally:
        for sock in held:
            sock.close()
