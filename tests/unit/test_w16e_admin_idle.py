"""The admin port closes idle connections soon (wave 16, E): it kept them for
``server.keep_alive_timeout``, the S3 port's 75 s, so a probe or scraper that left its sockets
open held its 32 per address (of 256 in all) for more than a minute each. It now closes them
after :data:`s3proxy.server.ADMIN_KEEP_ALIVE_SECONDS` (5 s), also one whose request head is
still arriving; the S3 port keeps its own timeout. The constant is lowered here so the test
takes a fraction of a second."""

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

SHORT = 0.3
"""The admin bound under test (5 s in the product)."""
PATIENCE = 3.0
"""How long the test waits for a close before it calls the connection held."""


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (end of input or reset); None if it did not."""
    sock.settimeout(0.05)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def _listener() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def test_idle_and_half_sent_admin_connections_close_soon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "ADMIN_KEEP_ALIVE_SECONDS", SHORT, raising=False)
    hypercorn_patch.install()
    env = {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
    }
    settings = load_settings(None, env=env)
    assert settings.server.keep_alive_timeout == 75.0
    admin = _listener()
    s3 = _listener()
    admin_port = admin.getsockname()[1]
    s3_port = s3.getsockname()[1]
    role = Role(s3_fd=s3.detach(), admin_fd=admin.detach(), announce=False, supervised=True)

    def probe() -> tuple[float | None, float | None, float | None, bytes]:
        idle = socket.create_connection(("127.0.0.1", admin_port))
        half = socket.create_connection(("127.0.0.1", admin_port))
        s3_idle = socket.create_connection(("127.0.0.1", s3_port))
        used = socket.create_connection(("127.0.0.1", admin_port))
        try:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            used.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            used.settimeout(PATIENCE)
            answer = used.recv(4096)
            return (
                _closed_within(idle, PATIENCE),
                _closed_within(half, PATIENCE),
                _closed_within(used, PATIENCE),
                answer + (b"" if _closed_within(s3_idle, 0.2) is None else b"S3 CLOSED"),
            )
        finally:
            for sock in (idle, half, s3_idle, used):
                sock.close()

    async def main() -> tuple[float | None, float | None, float | None, bytes]:
        serving = asyncio.ensure_future(serve_role(settings, None, role))
        await asyncio.sleep(0.3)  # the listeners are bound already: this lets them accept
        try:
            return await asyncio.to_thread(probe)
        finally:
            os.kill(os.getpid(), server.STOP_NOW)
            await asyncio.wait_for(serving, 10)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        idle, half, after_answer, answer = asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert answer.startswith(b"HTTP/1.1 200") and b"S3 CLOSED" not in answer
    for seconds in (idle, half, after_answer):
        assert seconds is not None, "an admin-port connection was held past the bound"
        assert seconds < SHORT + 1.5
