"""Client connections bounded per process and per client address.

Request slots (:mod:`s3proxy.limits`) bound what a tenant's requests hold; they cannot bound
connections that send no request at all (idle keep-alive connections, or connections opened and
left), which still cost a socket, buffers and a Hypercorn task each. Hypercorn has no limit of
its own, so the proxy wraps the function Hypercorn runs per accepted connection: past
``server.max_client_connections`` open connections in this process, or
``server.max_connections_per_client`` from one address, a new connection is answered
``503 SlowDown`` with ``Retry-After`` and closed at once. Idle connections also close after
``server.keep_alive_timeout``.

The admin port (always Hypercorn) is bounded the same way by its own, smaller counts
(``server.admin_max_connections``, ``server.admin_max_connections_per_client``): it had none,
and one client could hold thousands of connections to it, each a descriptor and a task, until
probes and scrapes found the process out of descriptors (:func:`install_admin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections.abc import Callable
from typing import Any

import hypercorn.asyncio.run

from s3proxy import host_id
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.logs import log_refusal
from s3proxy.request import new_request_id
from s3proxy.tls_front import TlsFront
from s3proxy.xmlcodec import error_xml


class ConnectionCounts:
    """Open connections of this process, in total and per client address."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self.by_client: dict[str, int] = {}

    def admit(self, client: str) -> bool:
        held = self.by_client.get(client, 0)
        if self.open >= self.total or held >= self.per_client:
            return False
        self.open += 1
        self.by_client[client] = held + 1
        return True

    def release(self, client: str) -> None:
        self.open -= 1
        held = self.by_client[client] - 1
        if held:
            self.by_client[client] = held
        else:
            del self.by_client[client]


def refusal() -> bytes:
    """The answer to a connection over the bounds, with its access line and metrics."""
    request_id = new_request_id()
    body = error_xml(
        S3Error(S3ErrorCode.SlowDown, "Too many connections from this address."), request_id
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
        f"x-amz-request-id: {request_id}\r\nx-amz-id-2: {host_id.HOST_ID.decode()}\r\n\r\n"
    )
    log_refusal(request_id, 503, S3ErrorCode.SlowDown.name, len(body))
    return head.encode() + body


def admin_refusal() -> bytes:
    """The admin port's answer to a connection over its bounds: plain text, as its other
    answers, and no access line (the admin port logs none)."""
    body = b"too many connections\n"
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


_original: Callable[..., Any] | None = None
_bounded: dict[str, tuple[object, ConnectionCounts, Callable[[], bytes]]] = {}
"""The apps whose connections Hypercorn's per-connection server counts: "s3" and "admin", each
with its counts and its refusal."""


def install(counts: ConnectionCounts, app: object) -> None:
    """Count connections to the S3 endpoint ``app`` served by Hypercorn (a later call replaces
    the counts and the app). A TLS connection is counted before its handshake instead
    (:func:`_start_server`): only the S3 endpoint has TLS."""
    _tls_counts[:] = [counts]
    hypercorn.asyncio.run.asyncio = _AsyncioWithCountedTls()  # type: ignore[attr-defined,assignment]
    _bounded["s3"] = (app, counts, refusal)
    _wrap_tcp_server()


def install_admin(counts: ConnectionCounts, app: object) -> None:
    """Count connections to the admin port's ``app`` (a later call replaces them)."""
    _bounded["admin"] = (app, counts, admin_refusal)
    _wrap_tcp_server()


def _wrap_tcp_server() -> None:
    """Wrap Hypercorn's per-connection server (``hypercorn.asyncio.run.TCPServer``), once, so
    that connections to the apps in :data:`_bounded` are counted."""
    global _original
    if _original is not None:
        return
    _original = original = hypercorn.asyncio.run.TCPServer  # type: ignore[attr-defined]

    async def bounded(*args: Any) -> None:
        served = getattr(args[0], "app", None)  # Hypercorn's ASGIWrapper of an app
        entry = next((e for e in _bounded.values() if e[0] is served), None)
        if entry is None:
            await original(*args)
            return
        _, counts, answer = entry
        writer: asyncio.StreamWriter = args[-1]
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if writer.get_extra_info("ssl_object") is not None:  # counted by its TlsFront
            await original(*args)
            return
        if not counts.admit(client):
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(answer())
                await asyncio.wait_for(writer.drain(), 5)
            writer.close()
            return
        try:
            await original(*args)
        finally:
            counts.release(client)

    hypercorn.asyncio.run.TCPServer = bounded  # type: ignore[attr-defined,assignment]


_tls_counts: list[ConnectionCounts] = []
"""The counts :func:`install` was given last, for :func:`_start_server`."""


async def _start_server(
    client_connected_cb: Callable[..., Any],
    *,
    ssl: ssl_module.SSLContext | None = None,
    ssl_handshake_timeout: float | None = None,
    limit: int = 2**16,
    **kwds: Any,
) -> asyncio.AbstractServer:
    """``asyncio.start_server`` as Hypercorn calls it, with a TLS listener's connections
    counted before their handshake (s3proxy.tls_front): plain TCP, each connection behind a
    :class:`TlsFront` that counts it and then starts TLS."""
    if ssl is None or not _tls_counts:
        return await asyncio.start_server(
            client_connected_cb, limit=limit, ssl_handshake_timeout=ssl_handshake_timeout, **kwds
        )
    loop = asyncio.get_running_loop()
    counts, context = _tls_counts[0], ssl
    timeout = ssl_handshake_timeout or 10.0

    def front() -> asyncio.Protocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        stream = asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)
        return TlsFront(stream, context, timeout, counts)

    return await loop.create_server(front, **kwds)


class _AsyncioWithCountedTls:
    """The ``asyncio`` module as ``hypercorn.asyncio.run`` sees it: its ``start_server`` is
    :func:`_start_server`, everything else asyncio's own."""

    start_server = staticmethod(_start_server)

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)
