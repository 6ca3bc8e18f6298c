"""Adjustments to Hypercorn's HTTP/1.1: what real clients need on the status line, S3 errors for
requests refused below the S3 layer, a response head sent with the first body bytes, a larger
socket read for upload bodies, and a lingering close (:func:`linger_on_close`), as on uvicorn.

Hypercorn writes status lines without a reason phrase (``HTTP/1.1 400 \\r\\n``). That is valid
HTTP, but the botocore inside Debian 12's aws-cli v2 (2.9) only recognises a 100 status line of
three words, and botocore's ``Expect: 100-continue`` handling reads an early final answer the
same way: without a reason, an early error on an upload becomes ConnectionClosedError instead of
the S3 error. S3 always sends the reason (``HTTP/1.1 100 Continue``, ``HTTP/1.1 400 Bad
Request``), so the proxy does too, on every status line.

Hypercorn answers a request h11 cannot parse (header section too large, bad framing) with an
empty body; S3 clients then show a bare status. Those answers carry S3's XML error document.

A request with both Content-Length and ``Transfer-Encoding: chunked`` is ambiguous framing, the
shape of request smuggling: h11 would read it as chunked while something in front of the proxy
may have read the Content-Length. RFC 9112 §6.3 lets a server refuse it; the proxy does, with
400 and a closed connection, before the application sees the request, so nothing is stored.
What else h11 reads more leniently than llhttp (the uvicorn engine's parser) is refused as there
(:mod:`s3proxy.strict_head`); no Upgrade is served (a WebSocket GET is plain HTTP); a request
read whole before the client's half-close is answered before the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
from collections.abc import Awaitable, Callable
from ssl import SSLError
from typing import Any

import h11
import hypercorn.asyncio.task_group
import hypercorn.asyncio.tcp_server
import hypercorn.asyncio.worker_context
from h11._headers import Headers
from hypercorn.events import Closed, RawData
from hypercorn.protocol.events import Body, EndBody, Response
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream

from s3proxy import host_id, strict_head
from s3proxy.connection_writer import LINGER_SECONDS
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.logs import log_refusal
from s3proxy.request import new_request_id
from s3proxy.xmlcodec import error_xml

_PATCHED = "_s3proxy_patched"

AMBIGUOUS_FRAMING = "A request may not carry both Content-Length and Transfer-Encoding."


def reason(status: int) -> bytes:
    """The standard reason phrase of ``status`` (``Unknown`` for a code HTTP does not name)."""
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b"Unknown"


def below_s3_error(status: int) -> S3Error:
    """The S3 error for what h11 or Hypercorn refused with ``status`` (S3's codes for them)."""
    if status == 431:  # h11: the header section (or a chunk line) outgrew its buffer
        return S3Error(S3ErrorCode.RequestHeaderSectionTooLarge)
    if status == 501:  # h11: a Transfer-Encoding other than one "chunked"
        return S3Error(S3ErrorCode.NotImplemented, Header="Transfer-Encoding")
    if status >= 500:
        return S3Error(S3ErrorCode.InternalError)
    return S3Error(
        S3ErrorCode.InvalidRequest,
        "The request could not be read as HTTP/1.1: bad request line, header or body framing.",
    )


def error_response(
    error: S3Error, *, logged: bool = True
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and XML body of an error sent by the HTTP layer (connection closed),
    with its access line and metrics (s3proxy.logs.log_refusal) unless ``logged`` is false:
    an application that failed before answering has logged its own line."""
    request_id = new_request_id()
    body = error_xml(error, request_id)
    headers = [
        (b"content-type", b"application/xml"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amz-request-id", request_id.encode()),
        host_id.HEADER,
        (b"connection", b"close"),
    ]
    if logged:
        log_refusal(request_id, error.status, error.code.name, len(body))
    return error.status, headers, body


def _with_reason(event: Any) -> Any:
    """``event`` with its status's reason phrase. The headers, which h11 checked when
    Hypercorn built the event, go on as an h11 ``Headers`` value (names lower-case on the wire,
    as before): a plain list would have every header normalised and validated a second time,
    17 → 5 µs per response (microbenchmark, 8 headers)."""
    if isinstance(event, h11.InformationalResponse) and not event.reason:
        return h11.InformationalResponse(
            status_code=event.status_code,
            headers=_checked(event.headers),
            reason=_reason(event.status_code),
        )
    if isinstance(event, h11.Response) and not event.reason:
        return h11.Response(
            status_code=event.status_code,
            headers=_checked(event.headers),
            reason=_reason(event.status_code),
        )
    return event


def _checked(headers: Headers) -> Headers:
    return Headers([(name, name, value) for name, value in headers])


@functools.cache
def _reason(status: int) -> bytes:
    return reason(status)


def add_informational_reasons() -> None:
    """Wrap ``H11Protocol._send_h11_event`` once per process (idempotent): a reason phrase on
    every status line, and a response head held back to go out with the first body bytes."""
    original: Callable[[Any, Any], Awaitable[None]] = H11Protocol._send_h11_event
    if getattr(original, _PATCHED, False):
        return

    async def send(self: Any, event: Any) -> None:
        event = _with_reason(event)
        if isinstance(event, h11.Response):
            # Hypercorn writes the head, then each body chunk: two socket sends for a small
            # response. Hypercorn always follows a head with body data or the end of the
            # message, so the head waits for that and both go in one write.
            try:
                self._s3proxy_head = self.connection.send(event)
            except h11.LocalProtocolError:
                if self.connection.their_state != h11.ERROR:
                    raise
            return
        head = getattr(self, "_s3proxy_head", None)
        if head is None:
            await original(self, event)
            return
        self._s3proxy_head = None
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            data = b""
        await self.send(RawData(data=head + data if data else head))

    setattr(send, _PATCHED, True)
    H11Protocol._send_h11_event = send  # type: ignore[method-assign]


async def _send_h11_error(protocol: Any, error: S3Error) -> None:
    status, headers, body = error_response(error)
    send = H11Protocol._send_h11_event
    await send(protocol, h11.Response(status_code=status, headers=headers))
    await send(protocol, h11.Data(data=body))
    await send(protocol, h11.EndOfMessage())


def add_s3_error_bodies() -> None:
    """Errors Hypercorn sends itself (h11 parse failures; an application that ended without
    answering) carry S3's XML error document; ambiguous framing is refused (module docstring).
    Idempotent."""
    create_stream: Callable[[Any, h11.Request], Awaitable[None]] = H11Protocol._create_stream
    if getattr(create_stream, _PATCHED, False):
        return

    async def connection_error(self: Any, status_code: int) -> None:
        await _send_h11_error(self, below_s3_error(status_code))

    async def guarded_create_stream(self: Any, request: h11.Request) -> None:
        size = len(request.target)
        length = chunked = upgrade = False
        for name, value in request.headers:  # h11 gives lower-case names
            size += len(name) + len(value) + 4
            length = length or name == b"content-length"
            chunked = chunked or name == b"transfer-encoding"
            upgrade = upgrade or name == b"upgrade"
        error = None
        if size > self.config.h11_max_incomplete_size:
            # h11 only limits a header section still arriving: one that came in a single read
            # is measured here, so the limit does not depend on how the bytes were split.
            error = S3Error(S3ErrorCode.RequestHeaderSectionTooLarge)
        elif length and chunked:
            error = S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING)
        elif (
            request.method == b"PRI"
            or not request.method.isupper()
            or request.http_version not in strict_head.HTTP_VERSIONS
        ):
            # HTTP/2's preface is not served (http1_only); methods are case-sensitive, and
            # ASGI upper-cases them: "put" would be served as PUT (uvicorn refuses it so too).
            error = below_s3_error(400)
        elif (target := strict_head.target_error(request.target)) is not None:
            error = target
        elif upgrade and strict_head.asks_upgrade(request.headers):
            if chunked:  # as uvicorn answers it (uvicorn_engine.S3Protocol.upgraded)
                error = S3Error(S3ErrorCode.NotImplemented, Header="Upgrade")
            else:  # plain HTTP/1.1, never a WebSocket stream
                request = strict_head.without_upgrade(request)
        if error is not None:
            await _send_h11_error(self, error)
            await self.send(Closed())
            return
        await create_stream(self, request)

    async def stream_error(self: Any, status_code: int) -> None:
        # 500: the application ended without answering, and logged its own line.
        error = below_s3_error(status_code)
        status, headers, body = error_response(error, logged=status_code < 500)
        await self.send(Response(stream_id=self.stream_id, headers=headers, status_code=status))
        await self.send(Body(stream_id=self.stream_id, data=body))
        await self.send(EndBody(stream_id=self.stream_id))
        self.state = ASGIHTTPState.CLOSED

    for function in (connection_error, guarded_create_stream, stream_error):
        setattr(function, _PATCHED, True)
    H11Protocol._send_error_response = connection_error  # type: ignore[method-assign]
    H11Protocol._create_stream = guarded_create_stream  # type: ignore[method-assign]
    HTTPStream._send_error_response = stream_error  # type: ignore[method-assign]


async def _stay_on_http1(self: Any, event: h11.Request) -> None:
    return None


def http1_only() -> None:
    """HTTP/1.1 only, as on uvicorn. Hypercorn would switch a connection to HTTP/2 on an h2c
    Upgrade or on the prior-knowledge preface (``PRI * HTTP/2.0``), where none of this module's
    limits, error bodies or framing checks hold (a 60 KB header section was served there). The
    Upgrade header is ignored (RFC 9110 §7.8 lets a server), the preface is refused as a bad
    request (guarded_create_stream), and server.py offers only http/1.1 in TLS's ALPN."""
    H11Protocol._check_protocol = _stay_on_http1  # type: ignore[method-assign]


SOCKET_READ = 256 * 1024
"""Hypercorn reads each connection 64 KiB at a time; every read is copied into h11's buffer and
becomes one ASGI body message. 256 KiB reads cut the proxy's CPU per uploaded GB by 16 % (all 4
interleaved pairs of BENCHMARKS.md's profile run; GET unchanged). Backpressure stays: Hypercorn
queues at most ``max_app_queue_size`` body messages per request (4 in server.py: 1 MiB)."""


def read_larger_chunks() -> None:
    hypercorn.asyncio.tcp_server.MAX_RECV = SOCKET_READ


class ClientGone(ConnectionError):
    """A response message sent after the client closed its connection."""


def raise_on_send_after_close() -> None:
    """ASGI's "Disconnected Client" rule: send() on a closed connection raises an OSError.
    Hypercorn instead drops the message and returns, so an abandoned download went on reading
    its whole body from the upstream into a dead socket (asyncio warning at every write) and
    was logged as a complete 200. Idempotent."""
    original: Callable[[Any, Any], Awaitable[None]] = HTTPStream.app_send
    if getattr(original, _PATCHED, False):
        return

    async def app_send(self: Any, message: Any) -> None:
        if self.closed and message is not None and message["type"].startswith("http.response"):
            raise ClientGone("the client closed the connection")
        await original(self, message)

    setattr(app_send, _PATCHED, True)
    HTTPStream.app_send = app_send  # type: ignore[method-assign]


def disconnect_without_waiting() -> None:
    """Hypercorn tells the application that a request is over by queueing ``http.disconnect``
    behind the body messages it has not read yet, waiting for room, in the task that sent the
    response's last message. An application that answered without reading its whole body (an
    upstream that died mid-PUT: 503) fills that queue, so its last send waited for itself:
    the request hung, the client's body stalled, and the client gave up after its own read
    timeout (~60 s for aws-cli and boto3). The request is over, so when the queue is full its
    unread body messages are dropped and ``http.disconnect`` never waits. Idempotent."""
    original: Callable[..., Awaitable[Callable[[Any], Awaitable[None]]]]
    original = hypercorn.asyncio.task_group.TaskGroup.spawn_app
    if getattr(original, _PATCHED, False):
        return

    async def spawn_app(self: Any, *args: Any) -> Callable[[Any], Awaitable[None]]:
        put = await original(self, *args)
        queue = getattr(put, "__self__", None)
        if not isinstance(queue, asyncio.Queue):
            return put

        async def app_put(message: Any) -> None:
            if message["type"] == "http.disconnect":
                if queue.full():  # emptied, not just one slot: Hypercorn's reader, waiting
                    while not queue.empty():  # to put one more body message, must get room
                        queue.get_nowait()
                queue.put_nowait(message)  # no await since the check: nothing refilled it
                return
            await put(message)

        return app_put

    setattr(spawn_app, _PATCHED, True)
    hypercorn.asyncio.task_group.TaskGroup.spawn_app = spawn_app  # type: ignore[method-assign,assignment]


class IdleTimer:
    """Hypercorn's keep-alive timeout of one connection, as a timer handle instead of a task.

    Hypercorn stops its idle timer when a request starts and restarts it when the response is
    done, by cancelling and awaiting one task (behind a lock) and creating another, which itself
    runs ``wait_for`` (a second task) on the server's "terminated" event: ~40 µs of a small
    request's CPU where a ``call_later`` handle costs ~5 µs (BENCHMARKS.md). This keeps what it
    did: an idle connection is closed ``keep_alive_timeout`` seconds after its last response,
    and at once when the server stops (``terminated``: :func:`_fire_idle_timers`), through the
    same shielded ``_initiate_server_close`` in the connection's task group."""

    __slots__ = ("_closing", "_server", "_task_group", "_timer")

    def __init__(self, server: Any) -> None:
        self._server = server
        self._timer: asyncio.TimerHandle | None = None
        self._task_group: Any = None
        self._closing: asyncio.Task[None] | None = None

    async def restart(self, task_group: Any, action: Any = None) -> None:
        self._cancel_timer()
        if self._closing is not None and not self._closing.done():
            return  # already closing the connection
        self._task_group = task_group
        terminated = self._server.context.terminated
        if terminated.is_set():
            self.fire()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._server.config.keep_alive_timeout, self.fire)
        _idle_timers(terminated).add(self)

    async def stop(self) -> None:
        self._cancel_timer()
        closing, self._closing = self._closing, None
        if closing is not None and closing is not asyncio.current_task():
            closing.cancel()  # the close itself is shielded, as Hypercorn's was
            with contextlib.suppress(asyncio.CancelledError):
                await closing

    def fire(self) -> None:
        """Time is up, or the server stops: close the connection."""
        self._cancel_timer()
        if self._closing is not None:
            return
        close = self._close()
        try:
            self._closing = self._task_group._task_group.create_task(close)
        except RuntimeError:  # the connection's task group is done: it is closing already
            close.close()

    async def _close(self) -> None:
        await asyncio.shield(self._server._initiate_server_close())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            _idle_timers(self._server.context.terminated).discard(self)


def _idle_timers(terminated: Any) -> set[IdleTimer]:
    """The idle timers waiting on one server's "terminated" event."""
    timers: set[IdleTimer] | None = getattr(terminated, "_s3proxy_idle", None)
    if timers is None:
        timers = set()
        terminated._s3proxy_idle = timers
    return timers


def cheaper_idle_timer() -> None:
    """Every connection gets an :class:`IdleTimer`; setting a server's "terminated" event fires
    the timers of its idle connections. Idempotent."""
    init: Callable[..., None] = hypercorn.asyncio.tcp_server.TCPServer.__init__
    if getattr(init, _PATCHED, False):
        return

    def tcp_server_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.idle_task = IdleTimer(self)

    original_set = hypercorn.asyncio.worker_context.EventWrapper.set

    async def event_set(self: Any) -> None:
        await original_set(self)
        for timer in list(getattr(self, "_s3proxy_idle", ())):
            timer.fire()

    for function in (tcp_server_init, event_set):
        setattr(function, _PATCHED, True)
    hypercorn.asyncio.tcp_server.TCPServer.__init__ = tcp_server_init  # type: ignore[method-assign]
    hypercorn.asyncio.worker_context.EventWrapper.set = event_set  # type: ignore[method-assign]


def _expects_more_input(server: Any) -> bool:
    """Whether the client of one Hypercorn connection may still be sending: a request body not
    read to its end (answered early, or refused as it arrived) or a request h11 refused, with
    no end of input seen yet."""
    connection = getattr(getattr(server, "protocol", None), "protocol", None)
    connection = getattr(connection, "connection", None)
    return (
        isinstance(connection, h11.Connection)
        and connection.their_state in (h11.SEND_BODY, h11.ERROR)
        and not server.reader.at_eof()
    )


ANSWER_CHECK_SECONDS = 1.0


def _answer_pending(server: Any) -> bool:
    """Whether a request was read whole and its answer is not sent yet."""
    connection = getattr(getattr(server.protocol, "protocol", None), "connection", None)
    return (
        isinstance(connection, h11.Connection)
        and connection.their_state in (h11.DONE, h11.MUST_CLOSE)
        and connection.our_state in (h11.SEND_RESPONSE, h11.SEND_BODY)
        and server.protocol.protocol.stream is not None
    )


async def _answer_before_closing(server: Any) -> None:
    """The client ended its input (a half-close) after a request read whole and not answered
    yet: the answer is sent before the connection closes, as on uvicorn
    (uvicorn_engine.S3Protocol.eof_received). Hypercorn ended the request's stream at once: the
    client never read its answer, though a PUT was stored."""
    while _answer_pending(server):
        can_read = server.protocol.protocol.can_read  # set when a response ends (_maybe_recycle)
        await can_read.clear()
        with contextlib.suppress(TimeoutError):
            # a write that fails (the client closed after all) ends the stream without
            # setting it: looked at again every second
            await asyncio.wait_for(can_read.wait(), ANSWER_CHECK_SECONDS)


def linger_on_close() -> None:
    """A lingering close, as on the uvicorn engine (s3proxy.connection_writer): Hypercorn ends a
    connection with ``write_eof()`` and ``close()`` at once, so when a request was answered
    before its body arrived (an upload refused early) the client's remaining bytes meet a
    closed socket and the kernel resets the connection; a client then sees the reset, not the
    S3 error (the answer is lost with it if still unread). Here such a connection sends its
    answer and FIN, then its reader keeps reading and dropping what the client still sends
    (h11 never sees it) until the client closes or :data:`LINGER_SECONDS` have passed.

    The close returns at once and the request's stream is closed then: the request's task
    (which holds its slot until it returns) never waits for the linger. A stopping server waits
    for it within Hypercorn's ``graceful_timeout`` (server.shutdown_timeout), which cancels it
    like any other connection. TLS connections, which cannot half-close, close as before.
    Idempotent."""
    tcp_server = hypercorn.asyncio.tcp_server.TCPServer
    close: Callable[[Any], Awaitable[None]] = tcp_server._close
    if getattr(close, _PATCHED, False):
        return

    async def lingering_close(self: Any) -> None:
        if not hasattr(self, "_s3proxy_linger") and _expects_more_input(self):
            writer = self.writer
            if writer.can_write_eof() and not writer.is_closing():
                try:
                    writer.write_eof()  # the answer, then FIN
                except (NotImplementedError, OSError, RuntimeError):
                    pass
                else:
                    self._s3proxy_linger = self.loop.call_later(LINGER_SECONDS, writer.close)
                    await self.idle_task.stop()
                    # The request is over for the application too (http.disconnect), as it
                    # was when the close ended the reader: one cut while reading its body
                    # (h11 refused a chunk) must not wait for the linger.
                    await self.protocol.handle(Closed())
                    return
        linger: asyncio.TimerHandle | None = getattr(self, "_s3proxy_linger", None)
        if linger is not None:
            linger.cancel()
        await close(self)

    async def read_data(self: Any) -> None:
        # Hypercorn's loop (TCPServer._read_data), dropping what arrives once lingering.
        half_closed = False
        while not self.reader.at_eof():
            try:
                data = await asyncio.wait_for(
                    self.reader.read(hypercorn.asyncio.tcp_server.MAX_RECV),
                    self.config.read_timeout,
                )
            except (ConnectionError, OSError, TimeoutError, SSLError):
                break
            if not data and _answer_pending(self):
                half_closed = True  # not told to h11, which would end the request at once
                break
            if not hasattr(self, "_s3proxy_linger"):
                await self.protocol.handle(RawData(data))
        if half_closed:
            await _answer_before_closing(self)
        await self.protocol.handle(Closed())

    for function in (lingering_close, read_data):
        setattr(function, _PATCHED, True)
    tcp_server._close = lingering_close  # type: ignore[method-assign]
    tcp_server._read_data = read_data  # type: ignore[method-assign]


def install() -> None:
    """Every adjustment above, and h11 reading request heads as llhttp does
    (:mod:`s3proxy.strict_head`), once per process."""
    strict_head.install()
    add_informational_reasons()
    add_s3_error_bodies()
    http1_only()
    read_larger_chunks()
    raise_on_send_after_close()
    disconnect_without_waiting()
    cheaper_idle_timer()
    linger_on_close()
