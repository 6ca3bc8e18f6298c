"""Client connections bounded per process and per client address.

Request slots (:mod:`s3proxy.limits`) bound what a tenant's requests hold; they cannot bound
connections that send no request at all (idle keep-alive connections, or connections opened and
left), which still cost a socket, buffers and a Hypercorn task each. Hypercorn has no limit of
its own, so the proxy wraps the function Hypercorn runs per accepted connection: past
``server.max_client_connections`` open connections in this process, or
``server.max_connections_per_client`` from one address, an idle connection of whoever holds
the most is closed in the new one's place (:mod:`s3proxy.connection_owners`: one tenant's
idle connections must not lock the others out), and with none idle the new connection is
answered ``503 SlowDown`` with ``Retry-After`` and closed at once. Idle connections also close
after ``server.keep_alive_timeout``.

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
from s3proxy.connection_owners import ACTIVE, Closable, Held, HypercornConnection, Owners
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.logs import log_refusal
from s3proxy.request import new_request_id
from s3proxy.tls_front import TlsFront
from s3proxy.xmlcodec import error_xml


class ConnectionCounts:
    """Open connections of this process, in total and per client address; those of the S3
    port also by owner (:mod:`s3proxy.connection_owners`)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self.by_client: dict[str, int] = {}
        self.owners = Owners()

    def admit(self, client: str) -> bool:
        held = self.by_client.get(client, 0)
        if self.open >= self.total or held >= self.per_client:
            return False
        self.open += 1
        self.by_client[client] = held + 1
        return True

    def admit_held(self, client: str, peer: tuple[str, int], conn: Closable) -> Held | None:
        """:meth:`admit` a connection noted with its owner; at a bound, an idle connection of
        the largest owner is closed in its place (connection_owners). None: refused."""
        if not self.admit(client):
            at_own_bound = self.by_client.get(client, 0) >= self.per_client
            taken = self.owners.idle_one(client if at_own_bound else None)
            if taken is None:
                return None
            taken.conn.reclaim()
            self.release_held(taken)
            if not self.admit(client):
                return None
        held = Held(client, peer, conn)
        self.owners.add(held)
        return held

    def release_held(self, held: Held) -> None:
        """A connection :meth:`admit_held` counted has closed, or was taken (once only)."""
        if not held.released:
            held.released = True
            self.owners.remove(held)
            self.release(held.client)

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
    ACTIVE[:] = [counts.owners]
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
            server = original(*args)
            front = writer.transport.get_protocol()
            if isinstance(front, TlsFront):  # which may take it for a new connection
                front.server = server
            await server
            return
        if answer is not refusal:  # the admin port: counted, never taken
            if not counts.admit(client):
                await _refuse(writer, answer)
                return
            try:
                await original(*args)
            finally:
                counts.release(client)
            return
        server = original(*args)
        held = counts.admit_held(client, _peer(peer, client), HypercornConnection(server))
        if held is None:
            await _refuse(writer, answer)
            return
        try:
            await server
        finally:
            counts.release_held(held)

    hypercorn.asyncio.run.TCPServer = bounded  # type: ignore[attr-defined,assignment]


async def _refuse(writer: asyncio.StreamWriter, answer: Callable[[], bytes]) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.write(answer())
        await asyncio.wait_for(writer.drain(), 5)
    writer.close()


def _peer(peer: object, client: str) -> tuple[str, int]:
    """The connection's (address, port), as the ASGI scope's ``client`` names it."""
    port = peer[1] if isinstance(peer, tuple) and len(peer) > 1 else 0
    return client, int(port)


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
