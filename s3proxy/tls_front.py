"""TLS started after a connection is counted, on both engines.

asyncio (and uvloop) run a TLS server's handshake before the server sees the connection: the
protocol's ``connection_made`` (uvicorn) or the stream callback (Hypercorn) comes after it, so
the connection bounds (:mod:`s3proxy.connections`) counted a TLS connection only once its
handshake was over. 2,000 bare TCP connects to a TLS proxy with ``max_connections_per_client:
50`` were all accepted and each held a socket for the loop's 60-s handshake timeout. So the TLS
listener is a plain TCP one: a connection is counted (per process and per client address) as it
is accepted, one over the bounds is closed at once (no answer can be read before TLS), and TLS
starts after (``loop.start_tls``) with :data:`HANDSHAKE_SECONDS` to finish. uvicorn's protocol
runs behind :class:`TlsFront`, and so does Hypercorn's stream protocol
(``s3proxy.connections._start_server``)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from s3proxy.connection_owners import Held, TlsConnection

if TYPE_CHECKING:  # s3proxy.connections imports this module
    from s3proxy.connections import ConnectionCounts

HANDSHAKE_SECONDS = 10.0
"""A TLS handshake not finished in this time (or the keep-alive timeout, if shorter) closes
the connection: a handshake takes a few round trips, and asyncio's 60 s let a client hold a
counted socket for a minute without sending a byte."""


MAX_HELLO_BYTES = 64 * 1024
"""TCP bytes a client may send before its handshake starts (a ClientHello is a few hundred
bytes to a few KiB): more closes the connection."""


def handshake_timeout(keep_alive: float) -> float:
    return min(HANDSHAKE_SECONDS, keep_alive)


def peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


class TlsFront(asyncio.Protocol):
    """One TLS connection: counted when accepted, then its handshake, then ``inner`` (uvicorn's
    HTTP protocol, built with no counts of its own, or the stream protocol Hypercorn's
    connection reads) is connected to the TLS transport and every event is passed on to it.
    Events that come between the handshake's end and that connection (asyncio may deliver data
    first) wait in :attr:`early`."""

    def __init__(
        self,
        inner: asyncio.Protocol,
        context: ssl.SSLContext,
        timeout: float,
        counts: ConnectionCounts | None,
    ) -> None:
        self.inner = inner
        self.context = context
        self.timeout = timeout
        self.counts = counts
        self.admitted: Held | None = None
        self.server: Any = None  # Hypercorn's per-connection server, once TLS is up
        self.switched = False  # start_tls has taken the TCP transport
        self.connected = False  # the handshake is over and ``inner`` connected
        self.hello: list[bytes] = []  # TCP bytes read before start_tls took the transport
        self.early: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.raw: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.raw is not None:  # start_tls does not call it again; guard anyway
            return
        raw = self.raw = cast(asyncio.Transport, transport)  # a TCP connection's, any loop's
        client = peer_address(raw)
        if self.counts is not None:
            peer = raw.get_extra_info("peername")
            port = int(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else 0
            self.admitted = self.counts.admit_held(client, (client, port), TlsConnection(self))
            if self.admitted is None:
                raw.abort()  # before TLS no answer can be read: a closed connection
                return
        self.task = asyncio.get_running_loop().create_task(self.handshake(raw))  # kept: a
        # task only the loop refers to weakly may be collected while it waits

    async def handshake(self, raw: asyncio.Transport) -> None:
        """Start TLS on the counted connection. uvloop starts reading once connection_made
        returns, whatever it paused, so the client's first bytes (its ClientHello) may reach
        this protocol first: they are kept (:attr:`hello`) and handed to the TLS protocol once
        start_tls has given it the transport and connected it (two turns of the loop: it
        schedules that connection, and its own reading, with call_soon)."""
        loop = asyncio.get_running_loop()
        starting = asyncio.ensure_future(
            loop.start_tls(
                raw, self, self.context, server_side=True, ssl_handshake_timeout=self.timeout
            )
        )
        try:
            await asyncio.sleep(0)  # start_tls's first step: the TLS protocol takes over
            await asyncio.sleep(0)  # ... and is connected: it may read the ClientHello now
            self.switched = True
            hello, self.hello = b"".join(self.hello), []
            if hello and not raw.is_closing():
                tls = raw.get_protocol()
                if tls is self or not hasattr(tls, "buffer_updated"):  # uvloop's: no subclass
                    raise ConnectionError("start_tls did not take the connection")
                tls = cast(asyncio.BufferedProtocol, tls)
                view = memoryview(hello)
                while view:
                    buffer = memoryview(tls.get_buffer(len(view)))
                    size = min(len(buffer), len(view))
                    buffer[:size] = view[:size]
                    tls.buffer_updated(size)
                    view = view[size:]
            secure = await starting
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError, RuntimeError):
            starting.cancel()
            raw.abort()
            self.release()
            return
        if secure is None or secure.is_closing():
            self.release()
            return
        self.connected = True
        self.inner.connection_made(secure)
        early, self.early = self.early, []
        for method, args in early:
            method(*args)

    def release(self) -> None:
        if self.admitted is not None and self.counts is not None:
            self.counts.release_held(self.admitted)
            self.admitted = None

    def _pass(self, method: Callable[..., Any], *args: Any) -> Any:
        if self.connected:
            return method(*args)
        self.early.append((method, args))
        return None

    def data_received(self, data: bytes) -> None:
        if self.switched or self.raw is None:
            self._pass(self.inner.data_received, data)
            return
        self.hello.append(data)  # TCP bytes before TLS: see handshake()
        self.raw.pause_reading()
        if sum(map(len, self.hello)) > MAX_HELLO_BYTES:
            self.raw.abort()

    def eof_received(self) -> bool | None:
        if self.connected:
            return self.inner.eof_received()
        self.early.append((self.inner.eof_received, ()))
        return True  # keep the transport until the protocol has seen it

    def pause_writing(self) -> None:
        self._pass(self.inner.pause_writing)

    def resume_writing(self) -> None:
        self._pass(self.inner.resume_writing)

    def connection_lost(self, exc: Exception | None) -> None:
        self.release()
        if self.connected:
            self.inner.connection_lost(exc)
        self.connected = False
        self.early.clear()


def tls_protocol_factory(
    make_inner: Callable[..., asyncio.Protocol],
    context: ssl.SSLContext,
    timeout: float,
    counts: ConnectionCounts | None,
) -> Callable[..., asyncio.Protocol]:
    """What uvicorn builds per connection (its ``http`` protocol class, called with its
    keyword arguments): the HTTP protocol behind a :class:`TlsFront`."""

    def build(**kwargs: Any) -> asyncio.Protocol:
        return TlsFront(make_inner(**kwargs), context, timeout, counts)

    return build
