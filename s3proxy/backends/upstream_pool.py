"""The native upstream client's connection pool and request writer (the connection and
response are :mod:`s3proxy.backends.upstream_http`).

One :class:`Pool` per tenant (as the aiohttp sessions were, :mod:`s3proxy.backends.s3_transport`):
at most ``limit`` connections in use, idle ones kept for :data:`IDLE_LIMIT` seconds and reused
newest first. Nothing is added to the caller's headers but what HTTP/1.1 framing needs and
aiohttp added too: ``Content-Length`` for a bytes body (``0`` for a bodiless PUT/POST/DELETE)
and ``Transfer-Encoding: chunked`` for a stream without a length; no User-Agent, Accept,
Accept-Encoding or Content-Type, no cookies, no redirects.

A pooled connection the upstream closed while idle is skipped; if the first write or read on a
reused connection fails before a response byte arrives, the request is sent again once on a new
connection, but only when its body is bytes or none (a stream cannot be replayed) and its method
idempotent (as aiohttp, RFC 9112 9.3.1: a POST such as CreateMultipartUpload may have been
carried out by an upstream that then died). A conditional write (``If-Match`` or
``If-None-Match`` on a PUT or DELETE, ``x-amz-copy-source-if-*`` on a copy) is not idempotent
either: carried out by the first attempt, it fails its own condition on the second, and the
client got 412 for a write that succeeded, with nothing to tell it a second attempt was made.
It fails as a POST does (503), and the client's own retry meets the condition as it would on
S3.

An answer that arrives before a streamed body was sent in full ends the upload (the connection
is not pooled); it is the request's answer only when it is not a success: an upstream cannot
have stored a body it did not receive, so a 2xx then is a broken upstream, not a stored object.

A bytes body is checked the same way: an answer that arrives while part of it is still in the
transport's buffer (the upstream stopped reading) is never pooled, and is a failure when it is
a success.

A request waiting for a connection of a full pool waits at most ``connect_timeout`` seconds (as
aiohttp's ``ClientTimeout.connect`` counts the wait for a pooled connection), then gets 503
SlowDown before anything was sent upstream: an unbounded queue would let a tenant's stalled
requests pile up its later ones without end. Closing the pool (shutdown: a reload keeps the
upstreams) fails its waiters at once with 503 ServiceUnavailable. A waiter that gives up
(timeout, client gone) leaves the queue, so a freed connection always goes to a live waiter.

The pools of one upstream share a :class:`~s3proxy.backends.upstream_budget.ConnectionBudget`
(``max_connections_total`` per process, all tenants together), asked only for a new connection.

New connections get TCP keepalive and, on Linux, ``TCP_USER_TIMEOUT`` of ``read_timeout``
(:func:`_tune_socket`): an upstream that vanished without a reset (host down, a firewall
dropping packets) ends idle pooled connections and unacknowledged sends in the kernel, not only
through the read timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator

from s3proxy.backends.upstream_budget import ConnectionBudget, hand_over, wait_in_line
from s3proxy.backends.upstream_http import Connection, UpstreamClosed
from s3proxy.backends.upstream_response import Response
from s3proxy.errors import S3Error, S3ErrorCode

IDLE_LIMIT = 30.0
"""Seconds an unused connection stays open for reuse."""
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""aiohttp's IDEMPOTENT_METHODS: the requests sent again after a stale connection."""
_CONDITIONS = (
    "if-match",
    "if-none-match",
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
)
"""The headers that make a write conditional (:func:`conditional_write`)."""
_ONE_WRITE = 256 * 1024
"""A bytes body up to this size is joined to the head for one transport write."""
KEEPALIVE_IDLE = 15
"""Seconds a connection is idle before keepalive probes (half of :data:`IDLE_LIMIT`, so a
pooled connection is probed before it is reused); then every :data:`KEEPALIVE_INTERVAL`
seconds, :data:`KEEPALIVE_PROBES` times."""
KEEPALIVE_INTERVAL = 5
KEEPALIVE_PROBES = 3
POOL_CLOSED = "The gateway is closing its storage connections (shutting down); retry."


def conditional_write(method: str, headers: dict[str, str]) -> bool:
    """A write whose outcome depends on the object's state, which its own first attempt may
    have changed (the caller's header names are lower case); neither client sends one again
    (the aiohttp client: :mod:`s3proxy.backends.aiohttp_client`). A copy's
    ``x-amz-copy-source-if-*`` counts: sent again, it is checked on a source that may have
    changed since the first attempt copied it (overwritten meanwhile, or, copied onto itself,
    given a new Last-Modified by that attempt), and the client got 412 for a copy made."""
    if method in _BODILESS:
        return False
    return any(name in headers for name in _CONDITIONS)


class BodyFailed(ConnectionError):
    """The request body's own iterator raised; that exception is the cause. The upstream got
    a request cut short, so it stores nothing."""


class _Stale(Exception):
    """A reused connection failed before any response byte: safe to send again."""


def tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Pool:
    """One tenant's connections to one upstream endpoint (any host of it: virtual-hosted
    addressing connects to ``bucket.host``)."""

    def __init__(
        self,
        *,
        limit: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None,
        budget: ConnectionBudget | None = None,
    ) -> None:
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self.closed = False
        self._budget = budget
        if budget is not None:
            budget.add(self)

    async def request(
        self,
        method: str,
        host: str,
        port: int,
        target: str,
        headers: dict[str, str],
        body: AsyncIterator[bytes] | bytes | None = None,
    ) -> Response:
        """Send one request and return its response once the head arrived. The caller must
        ``release()`` or ``close()`` it. Connection failures raise ``ConnectionError`` (or
        ``OSError``), lack of progress ``TimeoutError``; a failing body iterator
        :class:`BodyFailed` from its exception."""
        head, length = _head(method, target, headers, body)
        await self._slot()
        try:
            conn = self._pooled(host, port)
            if conn is not None:
                retry = method in _IDEMPOTENT and not conditional_write(method, headers)
                try:
                    return self._hand_over(await _exchange(conn, method, head, length, body, retry))
                except _Stale:
                    conn.close()
            conn = await self._connect(host, port)
            return self._hand_over(await _exchange(conn, method, head, length, body, False))
        except BaseException:
            self._free_slot()
            raise

    def _hand_over(self, response: Response) -> Response:
        response.attach(self._returned)
        return response

    def _returned(self, conn: Connection, reuse: bool) -> None:
        self._free_slot()
        budget = self._budget
        if reuse and not self.closed and (budget is None or not budget.waiters):
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(conn.peer, []).append(conn)
            if self._sweeper is None:
                self._arm_sweeper(conn.idle_since + IDLE_LIMIT)
        else:
            conn.close()

    # -- connections -------------------------------------------------------------------------

    def _pooled(self, host: str, port: int) -> Connection | None:
        idle = self._idle.get((host, port))
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if not conn.closed and transport is not None and not transport.is_closing():
                return conn
        return None

    async def _connect(self, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls
        budget = self._budget
        if budget is None:
            on_gone = None
        else:
            await budget.acquire(self._connect_timeout)
            on_gone = budget.release
        made: list[Connection] = []

        def protocol() -> Connection:
            conn = Connection(loop, self._read_timeout)
            conn.on_gone = on_gone
            made.append(conn)
            return conn

        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    protocol,
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except BaseException:
            if made:
                made[0].close()  # uncounts it once, whether or not asyncio closed it already
            elif on_gone is not None:
                on_gone()
            raise
        conn.peer = (host, port)
        transport = conn.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            _tune_socket(sock, self._read_timeout)
        return conn

    def oldest_idle(self) -> list[Connection] | None:
        """The idle list whose first connection has waited longest (for
        :class:`ConnectionBudget`); connections the upstream closed are dropped on the way."""
        oldest: list[Connection] | None = None
        for idle in self._idle.values():
            while idle and idle[0].closed:  # closed by the upstream: already uncounted
                del idle[0]
            if idle and (oldest is None or idle[0].idle_since < oldest[0].idle_since):
                oldest = idle
        return oldest

    def _arm_sweeper(self, when: float) -> None:
        self._sweeper = asyncio.get_running_loop().call_at(when, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for :data:`IDLE_LIMIT`; one timer per pool, not per use."""
        self._sweeper = None
        now = asyncio.get_running_loop().time()
        oldest: float | None = None
        for idle in self._idle.values():
            kept = []
            for conn in idle:
                if now - conn.idle_since >= IDLE_LIMIT or conn.closed:
                    conn.close()
                else:
                    kept.append(conn)
                    oldest = conn.idle_since if oldest is None else min(oldest, conn.idle_since)
            idle[:] = kept
        if oldest is not None:
            self._arm_sweeper(oldest + IDLE_LIMIT)

    # -- the limit ---------------------------------------------------------------------------

    async def _slot(self) -> None:
        if self._in_use >= self._limit or self._waiters or self.closed:
            await self._wait_for_slot()
            return  # the slot was handed over by _free_slot: _in_use already counts it
        self._in_use += 1

    async def _wait_for_slot(self) -> None:
        """Queue for a slot for at most ``connect_timeout`` seconds (one timer handle, no
        task); 503 SlowDown after that, 503 ServiceUnavailable if the pool closes."""
        if self.closed:
            raise S3Error(S3ErrorCode.ServiceUnavailable, POOL_CLOSED)
        await wait_in_line(
            self._waiters, self._connect_timeout, self._free_slot, "upstream_connections"
        )

    def _free_slot(self) -> None:
        if not hand_over(self._waiters):  # handed over: _in_use unchanged
            self._in_use -= 1

    async def close(self) -> None:
        """Close the idle connections and fail every waiter at once (connections in use close
        when their responses end)."""
        self.closed = True
        if self._budget is not None:
            self._budget.discard(self)
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(S3Error(S3ErrorCode.ServiceUnavailable, POOL_CLOSED))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _head(
    method: str, target: str, headers: dict[str, str], body: AsyncIterator[bytes] | bytes | None
) -> tuple[bytes, int]:
    """The request head, and the body's length (-1: it goes out with chunked transfer
    encoding)."""
    length = 0
    host = headers.get("host")
    if host is None:
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
    else:  # Host first, as aiohttp (and every client) writes it
        lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if name != "host"]
    declared = headers.get("content-length", headers.get("Content-Length"))
    has_length = declared is not None
    if declared is not None and declared.isdigit():
        length = int(declared)
    if body is None:
        if method not in _BODILESS and not has_length:
            lines.append("Content-Length: 0")
    elif isinstance(body, bytes):
        if not has_length:
            lines.append(f"Content-Length: {len(body)}")
    elif not has_length:
        lines.append("Transfer-Encoding: chunked")
        length = -1
    text = "\r\n".join(lines)
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks:
        raise ValueError("newline or carriage return in an upstream request header")
    return (text + "\r\n\r\n").encode("utf-8"), length


async def _exchange(
    conn: Connection,
    method: str,
    head: bytes,
    length: int,
    body: AsyncIterator[bytes] | bytes | None,
    reused: bool,
) -> Response:
    """Write the request, wait for its head. ``reused``: a failure before any answer byte
    raises :class:`_Stale` (may be sent again)."""
    transport = conn.transport
    assert transport is not None
    conn.begin(method)
    whole = True
    try:
        if body is None:
            transport.write(head)
        elif isinstance(body, bytes):
            if len(body) <= _ONE_WRITE:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
            if transport.get_write_buffer_size():  # not all in the socket yet: watch for
                conn.watch_unsent()  # an answer that comes before it is
        else:
            reused = False  # a stream is never sent twice
            whole = await _stream(conn, transport, head, body, length)
        response = await conn.wait_head()
    except OSError as exc:  # ConnectionError, TimeoutError, TLS errors
        answer = conn.response
        if answer is not None and answer.status >= 300 and not isinstance(exc, BodyFailed):
            conn.keep_alive = False
            return answer  # answered early, then the upload broke off: the answer
        conn.close()
        if reused and not conn.got_bytes and not isinstance(exc, BodyFailed | TimeoutError):
            raise _Stale from exc
        raise
    except BaseException:
        conn.close()
        raise
    if conn.answered_early:  # a bytes body still partly unsent (never pooled then)
        whole = False
    if not whole and response.status < 300:  # (an early answer is never pooled: _stream)
        conn.close()
        raise UpstreamClosed("upstream answered success before the whole request body")
    return response


def _tune_socket(sock: socket.socket, read_timeout: float) -> None:
    """TCP keepalive everywhere, and the kernel's own bound on unacknowledged data on Linux
    (``TCP_USER_TIMEOUT``, which then also decides when failed keepalive probes end the
    connection): a peer gone silent is found without waiting for a request to time out."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", max(1, int(read_timeout * 1000))),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    for level, option, value in options:
        with contextlib.suppress(OSError):  # an option the platform refuses: keep the rest
            sock.setsockopt(level, option, value)


async def _stream(
    conn: Connection,
    transport: asyncio.Transport,
    head: bytes,
    body: AsyncIterator[bytes],
    length: int,
) -> bool:
    """Write a streamed body of ``length`` bytes (-1: chunked), waiting whenever the socket's
    buffer is full; stop early when the upstream already answered. Whether the whole body (and
    its chunked end) went out.

    The head goes out with the first body block, as aiohttp sends it: a body that fails its
    checks before its first block is released leaves the upstream without even the head
    (SeaweedFS 4.48 stores an empty object for a head followed by a cut connection)."""
    iterator = aiter(body)
    pending: bytes | None = head
    chunked = length < 0
    sent = 0
    while True:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            break
        except Exception as exc:
            conn.close()
            raise BodyFailed("request body failed") from exc
        if conn.response is not None:  # answered before the body's end
            conn.keep_alive = False
            return not chunked and sent == length
        if conn.closed:
            raise UpstreamClosed("upstream closed the connection during the request body")
        if not chunk:
            continue
        if chunked:
            frame = (b"%x\r\n" % len(chunk), chunk, b"\r\n")
            transport.writelines(frame if pending is None else (pending, *frame))
        elif pending is not None:
            transport.writelines((pending, chunk))
        else:
            transport.write(chunk)
        pending = None
        sent += len(chunk)
        await conn.drain()
        if conn.response is not None:  # answered while the socket's buffer was full
            conn.keep_alive = False
            return not chunked and sent == length
    end = b"0\r\n\r\n" if chunked else b""
    if pending is not None or end:
        transport.write((pending or b"") + end)
    return True
