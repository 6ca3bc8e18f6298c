"""While a server drains, each answer closes its connection (wave 17, E).

SIGTERM fails /readyz and the server keeps answering for ``server.drain_delay`` so that a load
balancer stops sending it new connections; but a client (or balancer) holding keep-alive
connections kept using them, and at the end of the drain they were closed under it, racing
its next request (a reset, which a client retries only for some requests). With several
workers only the admin process heard the signal. Now every answer from the first signal on
carries ``Connection: close`` and the connection closes after it.
"""

from __future__ import annotations

import http.client
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import start_proxy
from tests.support.processes import SeaweedFS

pytestmark = pytest.mark.integration
DEADLINE = 20.0
DRAINING = re.compile(r"draining: \d+ requests? in flight \(pid (\d+)\)")


def _answer(connection: http.client.HTTPConnection) -> str | None:
    """Its ``Connection`` header of one request on ``connection``."""
    connection.request("GET", "/")
    response = connection.getresponse()
    response.read()
    return response.getheader("connection")


def test_answers_while_draining_close_their_connections(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    """On the default engine (Hypercorn honours the header through h11 alike; probed by hand)."""
    proxy = start_proxy(seaweed, upstream_s3, tmp_path, server={"drain_delay": 120, "workers": 2})
    try:
        held = [http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10) for _ in range(4)]
        assert [_answer(connection) for connection in held] == [None] * 4  # kept alive
        proxy.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + DEADLINE
        while len(set(DRAINING.findall(proxy.process.log_path.read_text()))) < 2:
            assert time.monotonic() < deadline, "the workers did not hear the signal"
            time.sleep(0.05)
        assert _answer(http.client.HTTPConnection("127.0.0.1", proxy.port)) == "close"
        for connection in held:  # opened before the signal
            assert connection.sock is not None
            connection.sock.sendall(b"GET / HTTP/1.1\r\nHost: s3\r\n\r\n")
            answer = b""
            while chunk := connection.sock.recv(65536):  # to the end: the server closes it
                answer += chunk
            head = answer.split(b"\r\n\r\n")[0].lower()
            assert b"\r\nconnection: close" in head, head
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(timeout=60) == 0
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()
