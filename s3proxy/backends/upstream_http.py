"""One upstream HTTP/1.1 connection, on an asyncio protocol with httptools' C response parser:
the native upstream client (``client: native``; its response and body reader are
:mod:`s3proxy.backends.upstream_response`, the pool and request writer
:mod:`s3proxy.backends.upstream_pool`).

Why not aiohttp for this hop: per small request its client path (ClientResponse,
StreamReader, per-read timers, a yarl URL and a multidict per request) cost ~15 % of the
proxy's CPU, and its reader copies every body chunk (issue 18, BENCHMARKS.md "Upstream
client"). This module does only what the S3 hop needs: one response at a time per connection,
case-insensitive headers, bodies framed by Content-Length, chunked or EOF, and no
decompression, cookies or redirects.

Memory stays flat for any body size: reading pauses when more than the connection's
``read_ahead`` bytes (:data:`HIGH_WATER`; less past the loop's body-buffer bound, below) wait
for the consumer and resumes below a quarter of it. Once the head of a Content-Length response
is parsed, later socket reads go to the consumer as they are, without passing through the
parser (no copy per chunk). A read, a wait for the head, or a wait for the socket to drain
fails with :class:`TimeoutError` after ``read_timeout`` seconds without progress; one timer per
connection checks it (none per read). Bytes of an unfinished head are not progress: the whole
head must arrive within ``read_timeout`` and within :data:`MAX_HEAD` bytes, so an upstream that
trickles headers (a slowloris) fails the request instead of holding it and growing its memory.

Reads of a large body (:mod:`.upstream_body_reads`): once the head of a response
with at least :data:`LARGE_BODY` bytes of Content-Length body still to come is parsed, the
transport's protocol becomes a ``BufferedProtocol`` until that body ends: each read goes into
the unused tail of a 1 MiB buffer and is handed to the consumer as a memoryview of it — no copy,
and up to 1 MiB per read, where uvloop's plain reads take at most 256,000 bytes and copy each
into a new bytes object; a buffer is read into again once no chunk refers to it. Heads and
small bodies keep uvloop's plain reads (one Python call per read instead of two).
BENCHMARKS.md "Wave 10: large GET". Past the loop's bound on body buffers (a body begun, or
one that needs a further buffer) the body goes on in plain reads, with less read ahead
(``read_ahead``; :mod:`.upstream_body_reads` says why); so does one past its owner's share of
them (the owner is the ``CURRENT_TENANT`` the connection was opened for: one pool per tenant).

A connection is pooled only when its response ended exactly where HTTP/1.1 framing says: any byte
after it (a second response nobody asked for, extra body bytes), a body ended by a reset instead
of a clean end, or a framing error drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import cast

import httptools

from s3proxy.backends.upstream_body_reads import (
    LARGE_BODY,
    MIN_TAIL,
    SMALL_AHEAD,
    BodyBuffer,
    BodyReads,
    read_buffers,
)
from s3proxy.backends.upstream_response import HIGH_WATER, Headers, Response
from s3proxy.limits import CURRENT_TENANT

_RESET = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() sends RST."""
MAX_HEAD = 64 * 1024
"""Bytes a response head (1xx heads before it included) may take. S3's are a few KiB (user
metadata is at most 2 KB); aiohttp refuses a header line over 8190 bytes."""


class UpstreamClosed(ConnectionError):
    """The upstream closed the connection, or broke HTTP/1.1 framing, before the response
    ended."""


class Connection(asyncio.Protocol):
    """One keep-alive connection to the upstream; one request/response at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self._loop = loop
        self._buffers = read_buffers(loop)
        self._owner = CURRENT_TENANT.get()
        """Whose share of the loop's body buffers this connection's reads take: its pool's
        tenant (made while serving that tenant's request)."""
        self._large = False
        """A large body is being read (counted in the body buffers' ``reading``)."""
        self._body_reads: BodyReads | None = None
        """The transport's protocol while a large body is read, else None (it is this)."""
        self._body_buffer: BodyBuffer | None = None
        self._view: memoryview | None = None
        """The body buffer being filled (a view of ``_body_buffer``), or None."""
        self._at = 0
        """Where the next read goes in ``_view``."""
        self._plain_next = False
        """The read under way is this body's last into a body buffer (the bound was met)."""
        self.read_ahead = HIGH_WATER
        """Body bytes the response buffers for its consumer before reading pauses."""
        self._read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.got_bytes = False
        """A byte of the current response was received."""
        self.keep_alive = False
        self.answered_early = False
        """The answer came while part of a bytes body was still unsent (:meth:`watch_unsent`)."""
        self._watch_unsent = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._waiting = False
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._read_paused = False
        self._parser: httptools.HttpResponseParser | None = None
        self._method = ""
        self._raw: list[tuple[str, str]] = []
        self._informational = False
        self._direct = -1
        """Content-Length bytes still to come that bypass the parser; -1 when parsing."""
        self._in_exchange = False
        """A request was begun and its response has not ended (failing does not end it)."""
        self._head_bytes = 0
        """Bytes of earlier reads that ended inside the head."""
        self._read_size = 0
        """Bytes of the read being parsed."""
        self.response: Response | None = None
        self.peer: tuple[str, int] = ("", 0)
        """(host, port) this connection went to: its pool key."""
        self.on_gone: Callable[[], None] | None = None
        """Called once when the connection closes (by either side): the process-wide count of
        open connections (:class:`~s3proxy.backends.upstream_budget.ConnectionBudget`)."""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def body_buffer(self) -> memoryview:
        """Where the next read of a large body goes: the current body buffer's tail, or a
        buffer of :class:`ReadBuffers`."""
        view = self._view
        if view is not None:
            if len(view) - self._at >= MIN_TAIL:
                return view[self._at :]
            self._drop_buffer()
        buffer = self._buffers.take(self._owner)
        self._at = 0
        if buffer is None:  # the bound or the owner's share: this read into a small buffer, then
            # plain reads
            self._plain_next = True
            self.read_ahead = SMALL_AHEAD
            view = self._view = memoryview(bytearray(MIN_TAIL))
            return view
        self._body_buffer = buffer
        view = self._view = memoryview(buffer)
        return view

    def body_read(self, nbytes: int) -> None:
        """``nbytes`` were read into :meth:`body_buffer`: handed on as they are."""
        view = self._view
        assert view is not None
        at = self._at
        self._at = at + nbytes
        self.data_received(view[at : at + nbytes])
        if self._plain_next:
            self._plain_next = False
            self._read_plain()

    def _drop_buffer(self) -> None:
        """Leave the body buffer to the chunks that still refer to it (ReadBuffers)."""
        buffer = self._body_buffer
        self._view = None
        if buffer is not None:
            self._body_buffer = None
            self._buffers.give(buffer)

    def _read_plain(self) -> None:
        """Back to plain reads (the large body ended or failed) with no body buffer held: an
        idle connection holds none."""
        self._drop_buffer()
        if self._body_reads is not None:
            self._body_reads = None
            if self.transport is not None and not self.closed:
                self.transport.set_protocol(self)

    def data_received(self, data: bytes | memoryview) -> None:
        self.got_bytes = True
        remaining = self._direct
        if remaining >= 0:
            self._last = self._loop.time()
            response = self.response
            assert response is not None
            if len(data) >= remaining:
                if len(data) > remaining:  # bytes after the body: not HTTP/1.1 we can pool
                    self.keep_alive = False
                    data = data[:remaining]
                self._direct = -1
                response.feed(data)
                self._message_done()
            else:
                self._direct = remaining - len(data)
                response.feed(data)
            return
        parser = self._parser
        if parser is None:  # nothing was asked: the connection is out of step
            self._fail(UpstreamClosed("upstream sent bytes with no request outstanding"))
            self.close()
            return
        self._read_size = len(data)
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(UpstreamClosed(f"malformed upstream response: {exc!r}"))
            self.close()
            return
        response = self.response
        if response is None:  # still in the head: not progress until it is whole
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._fail(UpstreamClosed(f"upstream response head over {MAX_HEAD} bytes"))
                self.close()
            return
        self._last = self._loop.time()
        if self._parser is not None and response.framing == "length":
            # Inside a Content-Length body: later reads bypass the parser (no copy).
            self._direct = response.expected - response.received
            if self._direct >= LARGE_BODY and self.transport is not None:
                self._large = True
                self._buffers.begin(self._owner)
                if self._buffers.can_take(self._owner):
                    self._body_reads = BodyReads(self)
                    self.transport.set_protocol(self._body_reads)
                else:
                    self.read_ahead = SMALL_AHEAD

    def eof_received(self) -> bool:
        """A clean end (FIN, or TLS close_notify): the only end of a body framed by the
        connection's end; a reset or our own abort is not one (:meth:`connection_lost`)."""
        response = self.response
        if response is not None and self._parser is not None and response.framing == "eof":
            self.keep_alive = False
            self._message_done()
        return False  # close our side too: a half-closed connection is not reused

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._read_plain()
        self._gone()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if isinstance(exc, OSError):
            self._fail(exc)
        else:  # None, or what a protocol callback raised: never a bare non-OSError upward
            self._fail(UpstreamClosed("upstream closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._parser is None:  # a second response in the read that ended the first
            self.keep_alive = False
            self.close()
            raise UpstreamClosed("upstream sent a response nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if status < 200:  # 100 Continue and friends: not the answer
            self._raw = []
            self._informational = True
            return
        if self._head_bytes + self._read_size > MAX_HEAD and _head_size(self._raw) > MAX_HEAD:
            raise UpstreamClosed(f"upstream response head over {MAX_HEAD} bytes")
        headers = Headers(self._raw)
        self.keep_alive = parser.should_keep_alive()
        if self._watch_unsent:
            self._watch_unsent = False
            transport = self.transport
            if transport is not None and transport.get_write_buffer_size():
                self.answered_early = True  # the upstream stopped reading the body
                self.keep_alive = False  # and its rest would go out as the next request
        if self._method == "HEAD" or status in (204, 304):
            framing = "none"
        elif "transfer-encoding" in headers:  # llhttp refuses it with a Content-Length
            codings = ",".join(v for n, v in self._raw if n.lower() == "transfer-encoding")
            if codings.rpartition(",")[2].strip().lower() == "chunked":
                framing = "chunked"  # chunked last: the parser's framing (RFC 9112 6.3)
            else:
                framing = "eof"
                self.keep_alive = False
        elif "content-length" in headers:
            framing = "length"
        else:
            framing = "eof"
            self.keep_alive = False
        self.response = Response(self, status, self._method, headers, framing)
        self._wake()
        if framing == "none":
            self._message_done()
        elif framing == "length":
            length = int(headers["content-length"])
            self.response.expected = length
            if length == 0:
                self._message_done()

    def on_body(self, body: bytes) -> None:
        if self._parser is None:  # after a HEAD answer (llhttp, not told, takes it for a body)
            self.keep_alive = False
            self.close()
            raise UpstreamClosed("upstream sent bytes after an answer without a body")
        response = self.response
        assert response is not None
        response.feed(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._parser is not None:
            self._message_done()

    # -- the request's side ----------------------------------------------------------------

    def begin(self, method: str) -> None:
        """Expect the response to a request about to be written."""
        self._method = method
        self._raw = []
        self.response = None
        self.got_bytes = False
        self._error = None
        self._head_bytes = 0
        self.read_ahead = HIGH_WATER
        self._in_exchange = True
        self._parser = httptools.HttpResponseParser(self)

    def watch_unsent(self) -> None:
        """Part of the request's bytes body is still in the transport's buffer: note whether
        the answer arrives before it went out."""
        self._watch_unsent = True
        self.answered_early = False

    async def wait_head(self) -> Response:
        while self.response is None:
            await self._wait()
        return self.response

    async def drain(self) -> None:
        """Wait while the socket's buffer is full, but not past an answer: an upstream that
        answered early (a 4xx on a PUT) may never read the rest."""
        while self._write_paused and self.response is None:
            await self._wait()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._loop.create_future()
        self._waiting = True
        self._last = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._last + self._read_timeout, self._check_timeout)
        try:
            await waiter
        finally:
            # A reader woken by its body's last bytes may resume after the connection, back in
            # the pool, already serves the next request: leave that request's waiter alone.
            if self._waiter is waiter:
                self._waiting = False
                self._waiter = None

    def _check_timeout(self) -> None:
        """The connection's one read timer: fails a wait that saw no progress for
        ``read_timeout`` seconds, re-arms for one that did, lapses when nothing waits."""
        self._timer = None
        if not self._waiting:
            return
        deadline = self._last + self._read_timeout
        if self._loop.time() >= deadline:
            self.keep_alive = False
            self._fail(TimeoutError(f"no upstream progress in {self._read_timeout} s"))
            self.close()
        else:
            self._timer = self._loop.call_at(deadline, self._check_timeout)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self._parser = None
        self._direct = -1
        self._read_plain()
        self._large_done()
        if self.response is not None:
            self.response.fail(error)

    def _message_done(self) -> None:
        self._read_plain()
        self._large_done()
        self._in_exchange = False
        self._parser = None
        self._direct = -1
        if self.response is not None:
            self.response.finish()

    def _large_done(self) -> None:
        if self._large:
            self._large = False
            self._buffers.end(self._owner)

    def pause_reading(self) -> None:
        if not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    def reusable(self) -> bool:
        return not self.closed and self.keep_alive and self._error is None

    def close(self) -> None:
        """Drop the connection at once. With an exchange under way (its response not ended)
        the upstream gets a reset, never a clean end: a request cut short (a body that failed
        its checks, a client gone mid-upload) must not look like a complete, shorter request
        (SeaweedFS stores an empty object for a head followed by a clean end). ``abort()``
        alone sends a FIN when nothing is left unread, hence SO_LINGER 0."""
        self.keep_alive = False
        self._gone()
        transport = self.transport
        if transport is None or self.closed:
            return
        if self._in_exchange:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        transport.abort()

    def _gone(self) -> None:
        gone = self.on_gone
        if gone is not None:
            self.on_gone = None
            gone()


def _head_size(raw: list[tuple[str, str]]) -> int:
    """A head's header lines in bytes; measured only when a read that large brought it."""
    return sum(len(name) + len(value) + 4 for name, value in raw)
