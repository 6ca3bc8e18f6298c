"""``server.engine: uvicorn``: the S3 port served by uvicorn with httptools (llhttp, a C HTTP/1.1
parser) instead of Hypercorn with h11, a pure-Python one. BENCHMARKS.md, "Engine", has the
measured difference; the admin port stays on Hypercorn either way.

What :mod:`s3proxy.hypercorn_patch` and :mod:`s3proxy.connections` give the Hypercorn engine
holds here too, and is kept in this module and in :mod:`s3proxy.uvicorn_protocol` (the
connection: everything below but the start-up and the signals):

- a request the HTTP layer refuses (bad request line or header, bad Content-Length, a bad chunk,
  a header section over :data:`MAX_HEAD_BYTES`, Content-Length with Transfer-Encoding, a
  Transfer-Encoding other than ``chunked``) gets S3's XML error and a closed connection; uvicorn
  would send plain text, and llhttp accepts ``Transfer-Encoding: gzip, chunked``, which would
  hand the application a body still gzip-encoded; what llhttp lets through and h11 refuses is
  refused too (:meth:`S3Protocol.head_error`; h11 is made as strict as llhttp in
  :mod:`s3proxy.strict_head`), and a body the client's half-close cuts short gets its 400;
- ``send()`` after the client closed raises (ASGI's "Disconnected Client" rule; uvicorn drops the
  message), so an abandoned download stops reading its upstream and is logged 499;
- open connections are bounded per process and per client address (503 SlowDown beyond); a TLS
  connection is counted before its handshake (:mod:`s3proxy.tls_front`);
- a connection whose client reads none of its answer for ``server.body_idle_timeout`` seconds is
  aborted, so that the request ends and frees its slot and upstream connection
  (:meth:`S3Protocol.pause_writing`), and a chunked body's framing (chunk extensions, trailers)
  is bounded as h11 bounds it (``uvicorn_protocol.MAX_CHUNK_FRAMING``);
- SIGTERM is the proxy's (s3proxy.server): uvicorn's own signal handlers are not installed;
  stopping closes the listener and idle connections at once, in-flight requests finish for up to
  ``server.shutdown_timeout`` seconds;
- the supervisor's listening socket (``fd``) is served as it is, of whatever address family;
- TLS with Hypercorn's cipher choice; the keep-alive timeout; the Date header, no Server header.

Socket reads are the event loop's: 250 KB per read on uvloop, 256 KiB on asyncio's transports,
as Hypercorn's patched read (hypercorn_patch.SOCKET_READ). Each read's body bytes reach the
application as they came from the parser (uvicorn copies them into a bytearray, then out of it
again), and once a Content-Length body goes on past a read, the reads after it reach the
application without passing through the parser at all (``S3Protocol.body_received``); reading
stops while more than 64 KiB of a request body waits for the application, which bounds what a
slow upstream makes the proxy hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import uvicorn
from hypercorn.config import Config as HypercornConfig
from uvicorn.config import create_ssl_context

from s3proxy.collector import tune_collector
from s3proxy.config import Settings
from s3proxy.connection_writer import ConnectionWriter
from s3proxy.connections import ConnectionCounts
from s3proxy.http_errors import MAX_HEAD_BYTES
from s3proxy.tls_front import handshake_timeout, tls_protocol_factory
from s3proxy.uvicorn_cycle import S3Cycle
from s3proxy.uvicorn_errors import error_bytes, parser_error
from s3proxy.uvicorn_pipeline import MAX_PIPELINED
from s3proxy.uvicorn_protocol import S3Protocol, install, protocol_for

__all__ = [
    "MAX_HEAD_BYTES",
    "MAX_PIPELINED",
    "TICK_SECONDS",
    "TLS_CIPHERS",
    "ConnectionWriter",
    "S3Cycle",
    "S3Protocol",
    "error_bytes",
    "install",
    "listening_socket",
    "parser_error",
    "protocol_for",
    "serve",
    "uvicorn_config",
]

TLS_CIPHERS: str = HypercornConfig.ciphers
"""Hypercorn's cipher string (ECDHE with AES-GCM): the same TLS offer on both engines."""

TICK_SECONDS = 1.0
"""How often the server's loop wakes by itself (uvicorn: 0.1 s): to refresh the Date header."""


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: s3proxy.server owns SIGTERM and SIGINT."""

    _tick: asyncio.Future[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        """uvicorn's loop, ticking once a second instead of ten times: the Date header it
        refreshes changes once a second either way, and an idle worker woke 11 times a second
        (1.5 ms CPU/s, BENCHMARKS.md "Large objects"). :meth:`wake` ends a tick at once, so a
        stop is not noticed up to a second late."""
        loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # on_tick refreshes the date when counter % 10 == 0
            tick = self._tick = loop.create_future()
            timer = loop.call_later(TICK_SECONDS, _settle, tick)
            try:
                await tick
            finally:
                timer.cancel()
            should_exit = await self.on_tick(counter)

    def wake(self) -> None:
        """End the current tick now (``should_exit`` was just set)."""
        if self._tick is not None:
            _settle(self._tick)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def listening_socket(host: str, port: int, fd: int | None) -> socket.socket:
    """The supervisor's socket (any family), or a new one on ``host:port``; OSError if taken."""
    if fd is not None:
        return socket.socket(fileno=fd)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024)


def uvicorn_config(
    app: Any,
    settings: Settings,
    counts: ConnectionCounts | None,
    send_timeouts: list[Callable[[float], None]] | None = None,
) -> uvicorn.Config:
    """``send_timeouts`` gets a setter of the answers' send timeout (``body_idle_timeout``) for
    each protocol class, so that a reload applies it to the connections' next waits."""
    server = settings.server
    tls = server.tls_cert is not None and server.tls_key is not None
    http: Any = protocol_for(counts, server.body_idle_timeout)
    timed = http
    if tls:  # counted before its handshake (s3proxy.tls_front): the listener is plain TCP
        context = create_ssl_context(
            str(server.tls_cert),
            str(server.tls_key),
            None,
            ssl.PROTOCOL_TLS_SERVER,
            ssl.CERT_NONE,
            None,
            TLS_CIPHERS,
        )
        inner = timed = protocol_for(None, server.body_idle_timeout)
        timeout = handshake_timeout(server.keep_alive_timeout)
        http = tls_protocol_factory(inner, context, timeout, counts)
    if send_timeouts is not None:
        send_timeouts.append(partial(setattr, timed, "send_timeout"))
    return uvicorn.Config(
        app,
        http=http,
        ws="none",
        lifespan="off",
        interface="asgi3",
        loop="none",
        proxy_headers=False,  # the client address is the socket's (connection bounds, logs)
        server_header=False,
        date_header=True,
        access_log=False,
        log_config=None,
        log_level=logging.WARNING,
        timeout_keep_alive=server.keep_alive_timeout,  # type: ignore[arg-type]
        timeout_graceful_shutdown=server.shutdown_timeout,  # type: ignore[arg-type]
    )


async def serve(
    app: Any,
    settings: Settings,
    fd: int | None,
    counts: ConnectionCounts | None,
    stop: asyncio.Event,
    send_timeouts: list[Callable[[float], None]] | None = None,
) -> None:
    """Serve ``app`` until ``stop`` is set, then drain (module docstring); ``send_timeouts``:
    as :func:`uvicorn_config`'s."""
    install()
    tune_collector()
    sock = listening_socket(settings.server.host, settings.server.port, fd)
    server = _Server(uvicorn_config(app, settings, counts, send_timeouts))

    async def stop_when_asked() -> None:
        await stop.wait()
        server.should_exit = True
        server.wake()

    watcher = asyncio.ensure_future(stop_when_asked())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        sock.close()
        stop.set()  # uvicorn stopped by itself: stop the admin port too
