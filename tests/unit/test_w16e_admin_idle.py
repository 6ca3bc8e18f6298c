"""The admin port closes idle connections soon (wave 16, E): it kept them for
``server.keep_alive_timeout``, the S3 port's 75 s, so a probe or scraper that left its sockets
open held its 32 per address (of 256 in all) for more than a minute each. It now closes them
after :data:`s3proxy.server.ADMIN_KEEP_ALIVE_SECONDS` (5 s), also one whose request head is
still arriving; the S3 port keeps its own timeout. The constant is lowered here so the test
takes a fraction of a second; nothing in it is timed (wave 18, E2)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from s3proxy import hypercorn_patch, server
from s3proxy.config import load_settings
from s3proxy.server import Role, serve_role
from s3proxy.stalled_answers import STALLS
from tests.support.busy_connections import read_answer
from tests.support.waiting import DEADLINE

SHORT = 0.3
"""The admin bound under test (5 s in the product)."""
S3_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
"""Answered on either port with its connection kept (the S3 port: 403 AccessDenied)."""


def _closed(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closed ``sock`` (end of input or reset) before ``deadline``
    (:data:`DEADLINE` from the start of the wait), whatever the box's load: False only for a
    connection held past it, as the S3 port's keep-alive timeout (75 s) would hold it."""
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        while sock.recv(65536):
            continue
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _still_open(sock: socket.socket) -> bool:
    """Whether ``sock`` has neither end of input nor a reset waiting, looked at without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def _listener() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def test_idle_and_half_sent_admin_connections_close_soon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing here is timed: a close is waited for (up to DEADLINE, below the S3 port's 75 s),
    and the S3 port's connection is shown kept by order, not by a clock. Its keep-alive timer
    was armed (its answer ended) before any admin connection existed; both ports run in one
    event loop, whose timers fire in deadline order, so had the S3 port the admin's bound, its
    connection would be closed before any admin one is seen closed. (The test once slept 0.3 s
    for the listeners and asserted each close within SHORT + 1.5 s: a loaded box failed it.)"""
    monkeypatch.setattr(server, "ADMIN_KEEP_ALIVE_SECONDS", SHORT, raising=False)
    monkeypatch.setattr(STALLS, "limit", STALLS.limit)  # serve_role sets it: put back after
    hypercorn_patch.install()
    env = {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
    }
    settings = load_settings(None, env=env)
    assert settings.server.keep_alive_timeout == 75.0 > DEADLINE
    admin = _listener()
    s3 = _listener()
    admin_port = admin.getsockname()[1]
    s3_port = s3.getsockname()[1]
    role = Role(s3_fd=s3.detach(), admin_fd=admin.detach(), announce=False, supervised=True)

    def probe() -> tuple[bytes, bytes, list[bool], bytes]:
        # Both listeners are bound: a connection waits in the backlog until its server accepts.
        s3_kept = socket.create_connection(("127.0.0.1", s3_port), timeout=DEADLINE)
        s3_kept.sendall(S3_HEALTHZ)
        s3_first = read_answer(s3_kept)  # its keep-alive timer is armed, before any below
        idle = socket.create_connection(("127.0.0.1", admin_port), timeout=DEADLINE)
        half = socket.create_connection(("127.0.0.1", admin_port), timeout=DEADLINE)
        used = socket.create_connection(("127.0.0.1", admin_port), timeout=DEADLINE)
        try:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            used.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_answer(used)
            deadline = time.monotonic() + DEADLINE
            closes = [_closed(sock, deadline) for sock in (idle, half, used)]
            s3_again = b""
            if _still_open(s3_kept):
                s3_kept.sendall(S3_HEALTHZ)
                s3_again = read_answer(s3_kept)
            return s3_first, answer, closes, s3_again
        finally:
            for sock in (idle, half, used, s3_kept):
                sock.close()

    async def main() -> tuple[bytes, bytes, list[bool], bytes]:
        serving = asyncio.ensure_future(serve_role(settings, None, role))
        try:
            return await asyncio.to_thread(probe)
        finally:
            os.kill(os.getpid(), server.STOP_NOW)
            await asyncio.wait_for(serving, DEADLINE)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        s3_first, answer, closes, s3_again = asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert answer.startswith(b"HTTP/1.1 200")
    assert closes == [True, True, True], "an admin-port connection was held past the bound"
    assert s3_first.startswith(b"HTTP/1.1 403")
    assert s3_again.startswith(b"HTTP/1.1 403"), "the S3 port closed at the admin's bound"
