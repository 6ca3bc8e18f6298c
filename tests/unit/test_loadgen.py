"""The benchmarks' small-request client (benchmarks.loadgen) against a scripted HTTP server: a
connection the server resets is reported as which request on which connection, not as a bare
ConnectionResetError, and a server that says ``Connection: close`` gets a new connection for
the next request instead of a write on a closed one."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from benchmarks import loadgen

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
OK_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def read_request(sock: socket.socket) -> bool:
    """One bodiless request head; False at the end of the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


@contextmanager
def server(serve: Callable[[socket.socket], None]) -> Iterator[loadgen.Target]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve(self.request)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as tcp:
        tcp.daemon_threads = True
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            port = tcp.server_address[1]
            yield loadgen.Target("scripted", f"http://127.0.0.1:{port}", "AK", "SK", "b")
        finally:
            tcp.shutdown()


def requests(target: loadgen.Target, count: int) -> list[bytes]:
    return loadgen.small_requests(target, "GET", [f"k{i}" for i in range(count)])


def test_a_reset_says_which_request_on_which_connection() -> None:
    def answer_once_then_reset(sock: socket.socket) -> None:
        if read_request(sock):
            sock.sendall(OK)
        if read_request(sock):  # the second request: reset, unanswered
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    with server(answer_once_then_reset) as target, pytest.raises(RuntimeError) as caught:
        loadgen.run_small_ops(target, requests(target, 3), 1)
    message = str(caught.value)
    assert message.startswith("scripted: ConnectionResetError")
    assert "GET /b/k1" in message and "a connection that had 1 answers before" in message


def test_connection_close_moves_the_next_request_to_a_new_connection() -> None:
    connections: list[int] = []

    def answer_once_and_close(sock: socket.socket) -> None:
        connections.append(1)
        if read_request(sock):
            sock.sendall(OK_CLOSE)

    with server(answer_once_and_close) as target:
        result = loadgen.run_small_ops(target, requests(target, 3), 1)
    assert len(result.latencies) == 3
    assert len(connections) == 3
