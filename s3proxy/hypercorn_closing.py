"""How a Hypercorn connection ends: its keep-alive timeout on a timer handle
(:class:`IdleTimer`), a lingering close (:func:`linger_on_close`), an answer sent before a
half-closed connection closes, and a connection whose client stopped reading its answer aborted
after a timeout (:func:`abort_stalled_sends`), as on the uvicorn engine
(:mod:`s3proxy.connection_writer`, :mod:`s3proxy.uvicorn_protocol`). All patch Hypercorn's
``TCPServer``; split from :mod:`s3proxy.hypercorn_patch`, whose ``install`` applies them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from ssl import SSLError
from typing import Any

import h11
import hypercorn.asyncio.tcp_server
import hypercorn.asyncio.worker_context
from hypercorn.events import Closed, RawData

from s3proxy.connection_owners import HEAD_BEGAN
from s3proxy.connection_writer import LINGER_SECONDS
from s3proxy.stalled_answers import Waiter, peer_of, reset

_PATCHED = "_s3proxy_patched"  # the marker of every Hypercorn patch: each applies once


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
    (uvicorn_protocol.S3Protocol.eof_received). Hypercorn ended the request's stream at once: the
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
            if not data and self.writer.is_closing():
                break  # closed by the server (shutdown, keep-alive timeout): a request head
                # begun before is not refused with a 400 no client reads (and the log shows)
            if not hasattr(self, "_s3proxy_linger"):
                note_head_start(self)
                await self.protocol.handle(RawData(data))
        else:
            # The end of input came while that read's requests were handled (pipelined, in
            # turn): the last of them may still be unanswered, as after a half-close above.
            # Before, it was stored but its answer never sent.
            half_closed = _answer_pending(self)
        if half_closed:
            await _answer_before_closing(self)
        await self.protocol.handle(Closed())

    for function in (lingering_close, read_data):
        setattr(function, _PATCHED, True)
    tcp_server._close = lingering_close  # type: ignore[method-assign]
    tcp_server._read_data = read_data  # type: ignore[method-assign]


def note_head_start(server: Any) -> None:
    """Note when a request head began to arrive (the loop's time of the read that brings its
    first byte: h11 between requests, holding nothing), for connection_owners: a head that
    stalls past the grace gives way to a new connection at the bound, as an idle one does."""
    h11_connection = getattr(getattr(server.protocol, "protocol", None), "connection", None)
    if (
        isinstance(h11_connection, h11.Connection)
        and h11_connection.their_state is h11.IDLE
        and not h11_connection.trailing_data[0]
    ):
        setattr(server, HEAD_BEGAN, asyncio.get_running_loop().time())


def abort_stalled_sends() -> None:
    """A response write that waits for the client to read for longer than the config's
    ``s3proxy_send_timeout`` (server.body_idle_timeout) aborts the connection, as the uvicorn
    engine does (uvicorn_protocol.S3Protocol.pause_writing, whose docstring says why): Hypercorn
    waited in ``drain()`` for as long as the client kept its receive window shut, and the
    request kept its tenant's slot and upstream connection all that time. The wait ends as a
    lost connection (Hypercorn's own path for a failed write), so the request's next send
    raises ClientGone. A write that leaves nothing buffered, as most do, costs one check; one
    that waits notes when it began, and one timer per connection, armed at most once per
    timeout, looks (:func:`_check_stalled`). Idempotent."""
    tcp_server = hypercorn.asyncio.tcp_server.TCPServer
    original: Callable[[Any, Any], Awaitable[None]] = tcp_server.protocol_send
    if getattr(original, _PATCHED, False):
        return

    async def protocol_send(self: Any, event: Any) -> None:
        timeout: float | None = getattr(self.config, "s3proxy_send_timeout", None)
        if timeout is None or not isinstance(event, RawData):
            await original(self, event)
            return
        async with self.send_lock:
            writer = self.writer
            try:
                writer.write(event.data)
                if not writer.transport.get_write_buffer_size():
                    await writer.drain()
                    return
                now = self._s3proxy_send_from = self.loop.time()
                if getattr(self, "_s3proxy_stalled", None) is None:
                    self._s3proxy_stalled = self.loop.call_later(timeout, _check_stalled, self)
                waiter = _waiter(self, writer.transport)
                if waiter is not None:  # the S3 port: bounded per worker (stalled_answers)
                    waiter.since = now
                    if not waiter.noted:
                        self.config.s3proxy_stalls.note(waiter)
                try:
                    await writer.drain()
                finally:
                    self._s3proxy_send_from = None
                    if waiter is not None:
                        waiter.since = None
            except (ConnectionError, RuntimeError):
                await self.protocol.handle(Closed())

    setattr(protocol_send, _PATCHED, True)
    tcp_server.protocol_send = protocol_send  # type: ignore[method-assign]


def _waiter(server: Any, transport: Any) -> Waiter | None:
    """The server's answer as its :class:`Stalls` sees it (made at its first wait), or None off
    the S3 port (the admin port's config names no Stalls)."""
    waiter: Waiter | None = getattr(server, "_s3proxy_waiter", None)
    if waiter is None and getattr(server.config, "s3proxy_stalls", None) is not None:
        waiter = server._s3proxy_waiter = Waiter(peer_of(transport), transport)
    return waiter


def _check_stalled(server: Any) -> None:
    """A connection's send timer: abort it if a write has waited for the whole timeout, else
    look again when the current wait would reach it."""
    server._s3proxy_stalled = None
    since: float | None = getattr(server, "_s3proxy_send_from", None)
    if since is None:
        return
    left = since + server.config.s3proxy_send_timeout - server.loop.time()
    if left > 0:
        server._s3proxy_stalled = server.loop.call_later(left, _check_stalled, server)
    else:
        reset(server.writer.transport)  # a reset: its unsent bytes are dropped (stalled_answers)
