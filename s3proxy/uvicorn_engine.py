"""``server.engine: uvicorn``: the S3 port served by uvicorn with httptools (llhttp, a C HTTP/1.1
parser) instead of Hypercorn with h11, a pure-Python one. BENCHMARKS.md, "Engine", has the
measured difference; the admin port stays on Hypercorn either way.

What :mod:`s3proxy.hypercorn_patch` and :mod:`s3proxy.connections` give the Hypercorn engine
holds here too, and is kept in this module:

- a request the HTTP layer refuses (bad request line or header, bad Content-Length, a bad chunk,
  a header section over :data:`MAX_HEAD_BYTES`, Content-Length with Transfer-Encoding, a
  Transfer-Encoding other than ``chunked``) gets S3's XML error and a closed connection; uvicorn
  would send plain text, and llhttp accepts ``Transfer-Encoding: gzip, chunked``, which would
  hand the application a body still gzip-encoded; what llhttp lets through and h11 refuses is
  refused too (:meth:`S3Protocol.head_error`; h11 is made as strict as llhttp in
  :mod:`s3proxy.strict_head`), and a body the client's half-close cuts short gets its 400;
- ``send()`` after the client closed raises (ASGI's "Disconnected Client" rule; uvicorn drops the
  message), so an abandoned download stops reading its upstream and is logged 499;
- open connections are bounded per process and per client address (503 SlowDown beyond);
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
import re
import socket
from collections.abc import Iterator
from typing import Any

import httptools
import uvicorn
from hypercorn.config import Config as HypercornConfig
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from s3proxy.collector import tune_collector
from s3proxy.config import Settings
from s3proxy.connection_writer import ConnectionWriter
from s3proxy.connections import ConnectionCounts, refusal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.hypercorn_patch import AMBIGUOUS_FRAMING, ClientGone, below_s3_error, error_response
from s3proxy.strict_head import HTTP_VERSIONS, target_error

MAX_HEAD_BYTES: int = HypercornConfig.h11_max_incomplete_size
"""Request line plus header section, as the Hypercorn engine allows (16 KiB)."""

TLS_CIPHERS: str = HypercornConfig.ciphers
"""Hypercorn's cipher string (ECDHE with AES-GCM): the same TLS offer on both engines."""

UNREADABLE = "The request could not be read as HTTP/1.1: bad request line, header or body framing."


def parser_error(message: str) -> S3Error:
    """The S3 error for what llhttp refused, by its message (the Hypercorn engine's answers)."""
    if "Transfer-Encoding" in message and "Content-Length" in message:
        return S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING)
    if "Transfer-Encoding" in message:
        return below_s3_error(501)
    return S3Error(S3ErrorCode.InvalidRequest, UNREADABLE)


def error_bytes(error: S3Error) -> bytes:
    """An error answer of the HTTP layer, status line to body, closing the connection."""
    status, headers, body = error_response(error)
    lines = [httptools_impl.STATUS_LINE[status]]
    lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
    return b"".join(lines) + b"\r\n" + body


UNKNOWN_METHOD = re.compile(rb"[A-Z]+ ")
"""A method llhttp does not know (``FOO``, ``BREW``): 405 MethodNotAllowed, as the
operation table answers the methods llhttp knows and S3 does not serve (PATCH, PROPFIND), and as
the Hypercorn engine answers every upper-case method; any other token stays 400."""

MAX_PIPELINED = 32
"""Requests queued behind one in progress on a connection. uvicorn reads on after each answer
however many wait, so a client pipelining without reading answers grew the queue without bound;
past this one the next gets 503 SlowDown and the connection closes (Hypercorn reads one at a
time)."""


class _Refused(Exception):
    """Raised in a parser callback to stop llhttp; the protocol's ``refusal`` says why."""


class S3Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the proxy's refusals and connection bounds. ``counts``
    is set on the subclass :func:`protocol_for` makes per server."""

    counts: ConnectionCounts | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal: S3Error | None = None
        self.refused = False
        self.deferred: S3Error | None = None  # a refusal waiting for an answer (refuse)
        self.head_bytes = 0  # of an unfinished head, counted over reads
        self.head_size = 0  # of the head being parsed: request target and headers
        self.in_head = True  # between requests or inside a head: what arrives is head bytes
        self.messages_done = 0
        self.admitted: str | None = None
        self.body_left = -1
        """Content-Length body bytes still to come that bypass the parser (see
        :meth:`body_received`); -1 while the parser reads, -2 for a body it must frame."""
        self.body_seen = 0  # of the current request's body
        self.hosts = 0  # Host headers of the current request
        self.upgrade_body = 0  # of an Upgrade request: see upgraded()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = ConnectionWriter(transport, self)  # type: ignore[assignment]
        # The keep-alive timeout runs from the connection's start and from each response until
        # a request's head is complete, as Hypercorn's does: a connection that sends nothing,
        # or never finishes a head, is closed after it too (uvicorn times only idle responses).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        if self.counts is None:
            return
        client = self.client[0] if self.client else ""
        if not self.counts.admit(client):
            transport.write(refusal())
            transport.close()
            return
        self.admitted = client

    def expects_more_input(self) -> bool:
        """Whether the client may still be sending: a request body not read to its end, or
        the rest of a request refused while it arrived."""
        if self.refused:
            return True
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.disconnected

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted is not None and self.counts is not None:
            self.counts.release(self.admitted)
            self.admitted = None
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio allows True
        """The client ended its input (a half-close). Inside a request body (shorter than its
        Content-Length, or before the last chunk) the request is refused and nothing stored,
        as on Hypercorn; uvicorn closed without an answer. After a request read whole and not
        answered yet, the answer is sent, then the connection closes (uvicorn closed at once).
        Otherwise the transport closes now."""
        cycle = self.cycle
        if cycle is None or cycle.disconnected or cycle.response_complete or self.refused:
            return None
        if not self.in_head and cycle.more_body:
            self.refuse(S3Error(S3ErrorCode.InvalidRequest, UNREADABLE))
            return None
        cycle.keep_alive = False  # the last request read: the connection closes after it
        return True

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing() or self.deferred is not None:
            return  # lingering after the last answer, or refused already: dropped unread
        if self.body_left > 0:
            self.body_received(data)
            return
        done = self.messages_done
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.upgraded(data[upgrade.args[0] :])
            return
        except httptools.HttpParserError as exc:
            error = self.refusal or parser_error(str(exc))
            if (
                isinstance(exc, httptools.HttpParserInvalidMethodError)
                and self.messages_done == done
                and self.head_bytes == 0  # this read starts the head: its first word is the method
                and UNKNOWN_METHOD.match(data) is not None
            ):
                error = S3Error(S3ErrorCode.MethodNotAllowed)
            self.refuse(error)
            return
        if self.in_head and not self.transport.is_closing():
            # An unfinished head: every byte of this read belongs to it, unless a request
            # ended in this read (then part of it was that request's body, and counting starts
            # with the next read: at most one read, 256 KiB, past the limit is parsed).
            self.head_bytes = self.head_bytes + len(data) if self.messages_done == done else 0
            if self.head_bytes > MAX_HEAD_BYTES:
                self.refuse(S3Error(S3ErrorCode.RequestHeaderSectionTooLarge))
        elif self.body_left == -1 and not self.in_head and not self.transport.is_closing():
            self.body_left = self.body_to_come()

    def upgraded(self, rest: bytes) -> None:
        """No upgrade is served (RFC 9110 §7.8 lets a server ignore Upgrade): a request with
        ``Connection: upgrade`` and an ``Upgrade`` header goes on as plain HTTP/1.1. llhttp
        ends such a request at its head and then reads on as if a new request began there: its
        body was read as requests of its own (a request smuggled past any front end that framed
        it by its Content-Length) and the application saw an empty body. That body is read here
        as any other (:meth:`body_received`); a chunked one, which llhttp cannot be asked to
        decode then, is refused (501) and the connection closed. ``rest``: what followed the
        head in this read."""
        length, self.upgrade_body = self.upgrade_body, 0
        if length < 0:
            self.refuse(S3Error(S3ErrorCode.NotImplemented, Header="Upgrade"))
        elif length > 0:
            self.body_left = length
            if rest:
                self.body_received(rest)
        elif rest:
            self.data_received(rest)

    def declared_body(self) -> int:
        """The body an Upgrade request declares: its Content-Length, -1 if chunked, else 0."""
        length = 0
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return -1
            if name == b"content-length":
                length = int(value)  # llhttp read it as a number
        return length

    def body_to_come(self) -> int:
        """Once per request whose body goes on past a read: the Content-Length bytes still to
        come, which :meth:`body_received` takes without the parser; -2 for a chunked body."""
        for name, value in self.headers:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    return int(value) - self.body_seen
        return -2

    def body_received(self, data: bytes) -> None:
        """A read inside a Content-Length body: handed on as it came, without passing through
        llhttp (which would copy it into a new bytes object, one more copy of every uploaded
        byte: issue 18). The read that ends the body ends the request, and a fresh parser
        takes what follows (a pipelined request): the old one still counts body bytes."""
        left = self.body_left
        if len(data) < left:
            self.body_left = left - len(data)
            self.on_body(data)
            return
        self.body_left = -1
        rest = b""
        if len(data) > left:
            data, rest = data[:left], data[left:]
        self.on_body(data)
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.on_message_complete()
        if rest:
            self.data_received(rest)

    def refuse(self, error: S3Error) -> None:
        """Answer ``error`` and close, unless a response is under way (it cannot be cut in
        two): then only close."""
        if self.transport.is_closing() or self.deferred is not None:
            return
        self.refused = True
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            # The request was read whole and is still being answered: what is refused came
            # after it (a pipelined head, or bytes past its Content-Length). Its answer first.
            self.deferred = error
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(error_bytes(error))
        self.transport.close()

    def on_response_complete(self) -> None:
        deferred = self.deferred
        if deferred is not None and (self.cycle is None or self.cycle.response_complete):
            self.deferred = None
            if not self.transport.is_closing():
                self.transport.write(error_bytes(deferred))
                self.transport.close()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        self.refuse(S3Error(S3ErrorCode.InvalidRequest, UNREADABLE))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.body_left = -1
        self.body_seen = 0
        self.in_head = True
        self.head_bytes = 0
        self.head_size = 0
        self.hosts = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_size += len(url)
        if self.head_size > MAX_HEAD_BYTES:
            self.refusal = S3Error(S3ErrorCode.RequestHeaderSectionTooLarge)
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD_BYTES:
            self.refusal = S3Error(S3ErrorCode.RequestHeaderSectionTooLarge)
            raise _Refused
        if len(name) == 17 and name.lower() == b"transfer-encoding":
            # llhttp accepts codings before the final "chunked" and leaves them undecoded.
            coding = value.strip(b" \t").lower()
            if coding != b"chunked" or any(n == b"transfer-encoding" for n, _ in self.headers):
                self.refusal = below_s3_error(501)
                raise _Refused
        elif len(name) == 4 and name.lower() == b"host":
            self.hosts += 1
        super().on_header(name, value)

    def on_body(self, body: bytes) -> None:
        self.body_seen += len(body)
        cycle = self.cycle
        if cycle.response_complete:
            return
        assert isinstance(cycle, S3Cycle)
        cycle.chunks.append(body)
        cycle.pending += len(body)
        if cycle.pending > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_headers_complete(self) -> None:
        if len(self.pipeline) >= MAX_PIPELINED:  # the queued ones are answered first (refuse)
            self.refusal = S3Error(S3ErrorCode.SlowDown, "Too many pipelined requests.")
            raise _Refused
        self.refusal = self.head_error()
        if self.refusal is not None:
            raise _Refused
        self.in_head = False
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def head_error(self) -> S3Error | None:
        """What llhttp lets through and the Hypercorn engine refuses (RFC 9112 §3.2): an HTTP
        version other than 1.0 and 1.1, an HTTP/1.1 request without a Host or any request with
        two, a target that is not a path (strict_head.target_error)."""
        version = self.parser.get_http_version()
        hosts = self.hosts
        if hosts > 1 or (hosts == 0 and version == "1.1") or version.encode() not in HTTP_VERSIONS:
            return S3Error(S3ErrorCode.InvalidRequest, UNREADABLE)
        return target_error(self.url)

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade() and not self.upgrade_body:
            # llhttp ends an Upgrade request at its head: its body is still to be read
            self.upgrade_body = self.declared_body()
            if self.upgrade_body:
                return
        super().on_message_complete()
        self.in_head = True
        self.head_bytes = 0
        self.messages_done += 1


class S3Cycle(RequestResponseCycle):
    """One request's ASGI exchange: ``send`` after a disconnect raises, and an application that
    failed before answering gets S3's InternalError document."""

    transport: ConnectionWriter  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunks: list[bytes] = []  # request body parts not yet received by the application
        self.pending = 0

    async def receive(self) -> Any:
        """uvicorn's ``receive``, with the body parts handed over as they are: one part (a
        socket read's worth) is passed on without a copy."""
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.pending = 0
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: Any) -> None:
        if self.disconnected:
            raise ClientGone("the client closed the connection")
        if message["type"] == "http.response.start":
            self.transport.hold()
            await super().send(message)
            return
        await super().send(message)
        self.transport.flush()  # a head with no body write after it (HEAD, an empty body)
        if self.disconnected and not self.response_complete:
            raise ClientGone("the client closed the connection")

    async def send_500_response(self) -> None:
        if self.disconnected or self.transport.is_closing():
            return
        error = S3Error(S3ErrorCode.InternalError)
        status, headers, body = error_response(error, logged=False)  # the app logged its line
        with contextlib.suppress(OSError):
            await super().send(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            await super().send({"type": "http.response.body", "body": body})


def install() -> None:
    """Requests on uvicorn's httptools protocol run as :class:`S3Cycle` (uvicorn creates the
    cycle by its module-level name). Idempotent."""
    httptools_impl.RequestResponseCycle = S3Cycle  # type: ignore[misc]


def protocol_for(counts: ConnectionCounts | None) -> type[S3Protocol]:
    """uvicorn builds the protocol itself from a class: the counts ride on a subclass."""
    return type("BoundS3Protocol", (S3Protocol,), {"counts": counts})


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


def uvicorn_config(app: Any, settings: Settings, counts: ConnectionCounts | None) -> uvicorn.Config:
    server = settings.server
    tls = server.tls_cert is not None and server.tls_key is not None
    return uvicorn.Config(
        app,
        http=protocol_for(counts),
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
        ssl_certfile=str(server.tls_cert) if tls else None,
        ssl_keyfile=str(server.tls_key) if tls else None,
        ssl_ciphers=TLS_CIPHERS,
    )


async def serve(
    app: Any,
    settings: Settings,
    fd: int | None,
    counts: ConnectionCounts | None,
    stop: asyncio.Event,
) -> None:
    """Serve ``app`` until ``stop`` is set, then drain (module docstring)."""
    install()
    tune_collector()
    sock = listening_socket(settings.server.host, settings.server.port, fd)
    server = _Server(uvicorn_config(app, settings, counts))

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
