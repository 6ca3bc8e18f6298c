"""The shape of an upstream response, and the native client's response
(:mod:`s3proxy.backends.upstream_http` is its connection).

:class:`UpstreamResponse` is what the S3 backend reads, from either client (aiohttp's
ClientResponse satisfies it as well as :class:`Response`). :class:`Response` buffers at most
about :data:`HIGH_WATER` bytes of body (its connection's ``read_ahead``, less past the loop's
bound on body buffers): past that its connection stops reading the socket.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from s3proxy.backends.upstream_http import Connection

HIGH_WATER = 1024 * 1024
"""Body bytes buffered for the consumer before the socket stops being read."""


class UpstreamBody(Protocol):
    """The body reader the S3 backend uses: aiohttp's StreamReader and :class:`Response`."""

    async def read(self, n: int = -1) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]: ...
    def iter_any(self) -> AsyncIterator[bytes]: ...
    def at_eof(self) -> bool: ...


class UpstreamResponse(Protocol):
    """An upstream response as the S3 backend reads it, from either client (aiohttp's
    ClientResponse or :class:`Response`)."""

    status: int
    method: str

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> UpstreamBody: ...
    async def read(self) -> bytes: ...
    def release(self) -> object: ...
    def close(self) -> None: ...


class Headers(Mapping[str, str]):
    """Response headers: lookups ignore case and give a repeated header's first value;
    ``items()`` gives every header as received, repeats included (as aiohttp's multidict)."""

    __slots__ = ("_first", "_raw")

    def __init__(self, raw: list[tuple[str, str]]) -> None:
        self._raw = raw
        first: dict[str, str] = {}
        for name, value in raw:
            first.setdefault(name.lower(), value)
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._first.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def items(self) -> _Items:  # type: ignore[override]
        return _Items(self._raw)


class _Items(list[tuple[str, str]]):
    """``Headers.items()``: the received (name, value) pairs."""


class Response:
    """An upstream response: status, headers, and its body reader (``content`` is itself, as
    the reader aiohttp calls ``content``). ``release()`` puts the connection back in the pool
    only when the whole response was received and the upstream keeps the connection open;
    ``close()`` closes it. Either ends the response's hold on its pool slot; so does the
    arrival of the response's last byte (:meth:`finish`), after which both do nothing."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_done",
        "_error",
        "expected",
        "framing",
        "headers",
        "method",
        "on_end",
        "received",
        "status",
    )

    def __init__(
        self, conn: Connection, status: int, method: str, headers: Headers, framing: str
    ) -> None:
        self._conn = conn
        self.status = status
        self.method = method
        self.headers = headers
        self.framing = framing
        self.expected = -1
        self.received = 0
        self._chunks: deque[bytes | memoryview] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self.on_end: Callable[[Connection, bool], None] | None = None

    @property
    def content(self) -> Response:
        return self

    # -- fed by the connection ---------------------------------------------------------------

    def feed(self, data: bytes | memoryview) -> None:
        self.received += len(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > self._conn.read_ahead:
            self._conn.pause_reading()
        self._conn._wake()

    def finish(self) -> None:
        """The whole response is here: the connection is free for the next request at once
        (as aiohttp frees it at the body's end), whether or not the body was consumed."""
        self._done = True
        conn = self._conn
        conn._wake()
        conn.resume_reading()
        if self.on_end is not None:
            self._end(conn.reusable())

    def fail(self, error: BaseException) -> None:
        if not self._done:
            self._error = error

    # -- the reader --------------------------------------------------------------------------

    def at_eof(self) -> bool:
        return self._done and not self._chunks

    async def _next(self) -> bytes | memoryview:
        """The next received chunk, as received (a memoryview of a read buffer inside a large
        body: :mod:`s3proxy.backends.upstream_http`); b"" at the end of the body."""
        while not self._chunks:
            if self._done:
                return b""
            if self._error is not None:
                raise self._error
            await self._conn._wait()
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < self._conn.read_ahead >> 2 and not self._done:
            self._conn.resume_reading()
        return chunk

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the body); the rest when ``n < 0``."""
        parts: list[bytes | memoryview] = []
        size = 0
        while n < 0 or size < n:
            chunk = await self._next()
            if not chunk:
                break
            if 0 <= n < size + len(chunk):
                keep = n - size
                self._chunks.appendleft(chunk[keep:])
                self._buffered += len(chunk) - keep
                chunk = chunk[:keep]
            parts.append(chunk)
            size += len(chunk)
        if len(parts) == 1 and isinstance(parts[0], bytes):
            return parts[0]
        return b"".join(parts)

    async def readexactly(self, n: int) -> bytes:
        data = await self.read(n)
        if len(data) < n:
            raise asyncio.IncompleteReadError(data, n)
        return data

    async def iter_any(self) -> AsyncIterator[bytes]:
        while chunk := await self._next():
            yield chunk if isinstance(chunk, bytes) else chunk.tobytes()

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """The body as received, without a copy: a chunk of a large body is a memoryview of
        the connection's read buffer. It is what the S3 backend streams to the client (GET)
        or into another upload (a copy through the proxy), and every consumer on those paths
        treats a chunk as a bytes-like object — ``len``, slices, hashing, ``b"".join``,
        ``bytes + chunk``, a transport's ``write`` — so it is typed as aiohttp's bytes.
        Whoever keeps a chunk keeps its 1 MiB buffer from reuse; none is kept past its write."""
        while chunk := await self._next():
            yield cast(bytes, chunk), False

    # -- the end -----------------------------------------------------------------------------

    def attach(self, on_end: Callable[[Connection, bool], None]) -> None:
        """Called by the pool with what gives the connection back; at once if already done."""
        self.on_end = on_end
        if self._done:
            self._end(self._conn.reusable())

    def release(self) -> None:
        if self.on_end is None:  # already given back (or never the pool's)
            return
        if self._done and self._conn.reusable():
            self._end(True)
        else:
            self._conn.close()
            self._end(False)

    def close(self) -> None:
        if self.on_end is None:
            return
        self._conn.close()
        self._end(False)

    def _end(self, reuse: bool) -> None:
        on_end = self.on_end
        if on_end is not None:
            self.on_end = None
            on_end(self._conn, reuse)
