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

Memory stays flat for any body size: reading pauses when more than :data:`HIGH_WATER` bytes
wait for the consumer and resumes below :data:`LOW_WATER`. Once the head of a Content-Length
response is parsed, later socket reads go to the consumer as they are, without passing through
the parser (no copy per chunk). A read, a wait for the head, or a wait for the socket to drain
fails with :class:`TimeoutError` after ``read_timeout`` seconds without progress; one timer per
connection checks it (none per read).
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools

from s3proxy.backends.upstream_response import Headers, Response


class UpstreamClosed(ConnectionError):
    """The upstream closed the connection, or broke HTTP/1.1 framing, before the response
    ended."""


class Connection(asyncio.Protocol):
    """One keep-alive connection to the upstream; one request/response at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self._loop = loop
        self._read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.got_bytes = False
        """A byte of the current response was received."""
        self.keep_alive = False
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
        self.response: Response | None = None
        self.peer: tuple[str, int] = ("", 0)
        """(host, port) this connection went to: its pool key."""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self._last = self._loop.time()
        remaining = self._direct
        if remaining >= 0:
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
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamClosed(f"malformed upstream response: {exc}"))
            self.close()
            return
        response = self.response
        if self._parser is not None and response is not None and response.framing == "length":
            # Inside a Content-Length body: later reads bypass the parser (no copy).
            self._direct = response.expected - response.received

    def eof_received(self) -> bool:
        return False  # close our side too: a half-closed connection is not reused

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        response = self.response
        if response is not None and self._parser is not None and response.framing == "eof":
            self.keep_alive = False
            self._message_done()
            return
        self._fail(UpstreamClosed("upstream closed the connection") if exc is None else exc)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake()

    # -- httptools callbacks ---------------------------------------------------------------

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
        headers = Headers(self._raw)
        self.keep_alive = parser.should_keep_alive()
        if self._method == "HEAD" or status in (204, 304):
            framing = "none"
        elif "chunked" in (headers.get("transfer-encoding") or "").lower():
            framing = "chunked"
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
        self._parser = httptools.HttpResponseParser(self)

    async def wait_head(self) -> Response:
        while self.response is None:
            await self._wait()
        return self.response

    async def drain(self) -> None:
        while self._write_paused:
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
        if self.response is not None:
            self.response.fail(error)

    def _message_done(self) -> None:
        self._parser = None
        self._direct = -1
        if self.response is not None:
            self.response.finish()

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
        """Drop the connection at once: abort, not close, so that a request cut short (a body
        that failed its checks) reaches the upstream as a reset, never as a complete request
        followed by a clean end (SeaweedFS stores an empty object for the latter)."""
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()
