"""Request bodies read from ASGI ``receive`` as a verified async byte iterator.

The iterator keeps one chunk in hand: it yields a chunk only once the next has arrived, and
yields the last one only after the whole body has been counted and its declared hashes
verified. A backend that streams this iterator upstream with a fixed Content-Length therefore
never completes an object whose body turns out short or corrupt: the upstream sees a broken
request and keeps the previous object.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO

from s3proxy.auth.payload import PayloadVerifier
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import Meter
from s3proxy.request import S3Request

Receive = Callable[[], Awaitable[dict[str, Any]]]

COALESCE_BYTES = 256 * 1024
"""Small ASGI reads are joined up to this size before being passed on (fewer upstream writes)."""
PASS_BYTES = 128 * 1024
"""A read at least this large, with nothing waiting to be joined, is passed on as it is: the
servers' reads are 250–256 KiB, and joining two of them costs a copy of every byte (issue 18)."""


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


class TimedReceive:
    """One request's ASGI ``receive``: counts body bytes and ends a body the client stalls.

    A body that delivers nothing for ``idle`` seconds while the proxy waits for it, or less than
    ``min_rate`` bytes a second over ``idle`` seconds of waiting (Apache's mod_reqtimeout
    defaults: 20 s, 500 B/s), makes the waiting ``receive`` raise 400 RequestTimeout, as S3
    does. The error unwinds whatever reads the body (the upstream request is aborted, so nothing
    is stored) and the request's slot is freed at once. Only time spent waiting on the client
    counts: while the proxy itself is busy upstream, the client cannot be late.

    Bodies being read are checked by one :class:`_Sweeper` per event loop, every ``idle / 4``
    seconds (at most 1 s): a timer per request cost 6 µs, a list entry costs 0.1 µs. A request
    that reads no body pays nothing; :meth:`finish` ends the watch when the request ends.
    """

    __slots__ = (
        "_expired",
        "_min_rate",
        "_receive",
        "_wait_from",
        "_waited",
        "_waiter",
        "_watched",
        "_window_bytes",
        "_window_waited",
        "bytes_in",
        "done",
        "idle",
        "meter",
    )

    def __init__(self, receive: Receive, idle: float, min_rate: float) -> None:
        self._receive = receive
        self.idle = idle
        self._min_rate = min_rate
        self.bytes_in = 0
        self.done = False
        """The body has ended (or the client disconnected): no deadline from then on."""
        self._watched: _Sweeper | None = None
        self._waiter: asyncio.Task[Any] | None = None
        self._wait_from = 0.0
        self._waited = 0.0
        self._window_bytes = 0
        self._window_waited = 0.0
        self._expired = False
        self.meter: Meter | None = None
        """The tenant's byte-rate bucket or this request's reservation on it (s3proxy.limits),
        charged as body bytes arrive."""

    async def __call__(self) -> dict[str, Any]:
        if self.done:
            return await self._receive()
        if self._expired:
            raise _request_timeout()
        sweeper = self._watched
        if sweeper is None:
            sweeper = self._watched = _sweeper()
            sweeper.watch(self)
        loop = sweeper.loop
        started = self._wait_from = loop.time()
        task = self._waiter = asyncio.current_task(loop)
        try:
            message = await self._receive()
        except BaseException as exc:
            self._waiter = None
            cancelled = isinstance(exc, asyncio.CancelledError) and task is not None
            if cancelled and self._expired and task.uncancel() == 0:  # our cancel alone
                raise _request_timeout() from None
            raise
        self._waiter = None
        self._waited += loop.time() - started
        size = len(message.get("body", b""))
        self.bytes_in += size
        if self.meter is not None and size:
            self.meter.charge(size)
        if not message.get("more_body", False):
            self.done = True
        return message

    def finish(self) -> None:
        """The request is over: stop watching its body, whether or not it was read whole."""
        self.done = True

    def check(self, now: float) -> bool:
        """Expire an idle or too slow body (True: stop watching it)."""
        if self.done:
            return True
        waiting = self._waiter is not None
        if waiting and now - self._wait_from >= self.idle:
            self._expire()
            return True
        waited = self._waited + (now - self._wait_from if waiting else 0.0)
        window = waited - self._window_waited
        if window >= self.idle:
            if self.bytes_in - self._window_bytes < self._min_rate * window:
                self._expire()
                return True
            self._window_bytes, self._window_waited = self.bytes_in, waited
        return False

    def _expire(self) -> None:
        self._expired = True
        if self._waiter is not None:
            self._waiter.cancel()


class _Sweeper:
    """Checks the bodies being read on one event loop, on a timer that runs only while any are.

    Watching is a list append; finished bodies are dropped at the next tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.bodies: list[TimedReceive] = []
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, body: TimedReceive) -> None:
        self.bodies.append(body)
        if self._timer is None:
            self._timer = self.loop.call_later(min(1.0, body.idle / 4), self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        self.bodies = [body for body in self.bodies if not body.check(now)]
        if self.bodies:
            interval = min(1.0, min(body.idle for body in self.bodies) / 4)
            self._timer = self.loop.call_later(interval, self._tick)
        else:
            self._timer = None


_current: _Sweeper | None = None


def _sweeper() -> _Sweeper:
    global _current
    loop = asyncio.get_running_loop()
    if _current is None or _current.loop is not loop:
        _current = _Sweeper(loop)
    return _current


def _request_timeout() -> S3Error:
    return S3Error(S3ErrorCode.RequestTimeout)


async def receive_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The raw request body as ASGI delivers it; a disconnect raises ClientDisconnected."""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if chunk:
            yield chunk


async def verified_stream(
    source: AsyncIterator[bytes], content_length: int, verifier: PayloadVerifier
) -> AsyncIterator[bytes]:
    """``source`` with small reads joined to about COALESCE_BYTES (large ones passed on as they
    came), its last block held until verified."""
    received = 0
    held: bytes | None = None
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in source:
        received += len(chunk)
        if received > content_length:
            raise S3Error(S3ErrorCode.IncompleteBody)
        verifier.update(chunk)
        if not pending and len(chunk) >= PASS_BYTES:
            if held is not None:
                yield held
            held = chunk
            continue
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= COALESCE_BYTES:
            block = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            pending_size = 0
            if held is not None:
                yield held
            held = block
    if received != content_length:
        raise S3Error(S3ErrorCode.IncompleteBody)
    verifier.verify()
    if held is not None:
        yield held
    if pending:
        yield pending[0] if len(pending) == 1 else b"".join(pending)


def verified_body(
    receive: Receive, content_length: int, verifier: PayloadVerifier
) -> AsyncIterator[bytes]:
    return verified_stream(receive_chunks(receive), content_length, verifier)


HELD_BODY_BYTES = 1024 * 1024
"""An XML body declared larger than this (DeleteObjects takes up to 6 MiB, Complete 4 MiB) is
read and parsed while its request holds one of the tenant's expensive-operation slots
(s3proxy.expensive), so a tenant holds at most ``max_concurrent_expensive`` such bodies per
worker; every smaller one fits the ~1.5 MiB a request may buffer (README "Fair sharing")."""


def held_body(request: S3Request, limit: int) -> bool:
    """Whether ``request``'s small body is large enough to be read under an expensive slot,
    decided from its head: a Content-Length over :data:`HELD_BODY_BYTES`, or a chunked body
    without one (its size is unknown until read). No Content-Length and no Transfer-Encoding
    is no body (RFC 9112 6.3); the server ends a body at its Content-Length, so a body declared
    small is small. One declared over ``limit`` is not held: :func:`read_small_body` refuses
    it unread, and no wait for a slot may turn that 400 into a 503."""
    declared = request.header("content-length")
    if declared is None:
        return request.header("transfer-encoding") is not None
    length = decimal(declared)
    return length is None or HELD_BODY_BYTES < length <= limit


async def read_small_body(receive: Receive, request: S3Request, limit: int) -> bytes:
    """A small XML request body (CreateBucket, DeleteObjects), whole, refused past ``limit``.

    Written into one growing buffer whose bytes are handed over without a copy
    (``BytesIO.getvalue`` of a buffer nobody else sees): joining a list of reads held the body
    twice at the join, 12 MiB for a 6 MiB DeleteObjects."""
    declared = request.header("content-length")
    if declared is not None and (decimal(declared) or 0) > limit:
        raise S3Error(S3ErrorCode.MalformedXML, "Your request body is too large.")
    buffer = io.BytesIO()
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise S3Error(S3ErrorCode.MalformedXML, "Your request body is too large.")
        buffer.write(chunk)
        more = bool(message.get("more_body", False))
    return buffer.getvalue()


SPOOL_READ = 1024 * 1024


def _open_spool() -> BinaryIO:
    return tempfile.TemporaryFile(mode="w+b", prefix="s3proxy-spool-")


async def spooled_body(
    receive: Receive, verifier: PayloadVerifier, limit: int
) -> tuple[AsyncIterator[bytes], int]:
    """A body of unknown length (HTTP chunked, no Content-Length), spooled to a temporary file.

    Upstreams need a Content-Length (Ceph RGW refuses anything else), so the body is written to
    disk — never held in memory — verified whole, and only then streamed upstream from the
    file, which is deleted when the stream ends. File I/O runs in a worker thread.
    """
    spool = await asyncio.to_thread(_open_spool)
    try:
        size = 0
        async for chunk in receive_chunks(receive):
            size += len(chunk)
            if size > limit:
                raise S3Error(S3ErrorCode.EntityTooLarge)
            verifier.update(chunk)
            await asyncio.to_thread(spool.write, chunk)
        verifier.verify()
        await asyncio.to_thread(spool.seek, 0)
    except BaseException:
        spool.close()
        raise

    async def replay() -> AsyncIterator[bytes]:
        try:
            while block := await asyncio.to_thread(spool.read, SPOOL_READ):
                yield block
        finally:
            spool.close()

    return replay(), size
