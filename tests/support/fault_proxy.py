"""A fault-injecting TCP proxy between the gateway and a real upstream (wave 13 G).

:mod:`tests.support.relay` answers one request per connection and closes it, which hides
everything about connection reuse. This proxy keeps the gateway's connections as they are:
each accepted connection gets its own connection to the upstream, requests and answers flow
through byte for byte (keep-alive included), and only the exchange a :class:`Fault` matches is
broken, at the byte it names: the answer cut after ``after`` bytes by a reset or a clean close,
or stalled there (the socket stays open, nothing more comes); the request body reset after
``after`` bytes; the request carried out upstream and its whole answer replaced by a reset;
or a raw answer of the test's own instead of the upstream's. Every connection is recorded
(:class:`Link`): the requests it carried and whether the gateway closed it, so a test can tell
a broken connection never carried another request.

It runs its own asyncio loop on a thread, listens on 127.0.0.1 only, and parses only what it
must to find where a request and its answer end (Content-Length, chunked, none).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

T = TypeVar("T")

_RESET = struct.pack("ii", 1, 0)
STALL_LIMIT = 60.0
"""Seconds a stalled exchange waits for the gateway to give up before the proxy does."""


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


@dataclass
class Fault:
    """What to break in the first exchange ``match`` accepts (then the fault is spent).

    ``where``: ``"answer"`` (the upstream's answer, after ``after`` of its bytes, head
    included), ``"request"`` (the request body, after ``after`` of its bytes), ``"done"``
    (the request goes upstream whole and is carried out; its answer is replaced by ``how``),
    or ``"raw"`` (``raw`` is sent instead, the upstream never sees the request).
    ``how``: ``"reset"``, ``"close"`` (a clean FIN) or ``"stall"``."""

    match: Callable[[Request], bool]
    where: str = "answer"
    after: int = 0
    how: str = "reset"
    raw: bytes = b""
    keep_open: bool = False
    """``raw`` only: keep the connection for the next request (the answer is framed)."""
    hits: list[Request] = field(default_factory=list)
    gateway_gave_up = False
    """A stall ended because the gateway closed the connection."""


@dataclass
class Link:
    """One connection the gateway opened through the proxy."""

    requests: list[Request] = field(default_factory=list)
    faulted: bool = False
    closed_by_gateway: bool = False
    ended: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """Listens on :attr:`endpoint` and forwards to ``upstream``; :meth:`add` arms a fault
    (from the test's thread: the proxy's loop runs on its own)."""

    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self.faults: list[Fault] = []
        self.links: list[Link] = []
        self._loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[object]] = set()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(10)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def links_of(self, fault: Fault) -> list[Link]:
        return [link for link in self.links if link.faulted and fault.hits[0] in link.requests]

    def close(self) -> None:
        """End every link's task before the loop stops, so none is destroyed while pending."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._end(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    # -- the loop's side ---------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    async def _end(self) -> None:
        """Take no more connections, then cancel every link's task and wait for each to end."""
        self._server.close()
        while tasks := [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _take(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.match(request):
                self.faults.remove(fault)
                fault.hits.append(request)
                return fault
        return None

    def _keep(self, task: asyncio.Task[T]) -> asyncio.Task[T]:
        """Hold ``task`` until it ends: the loop keeps only weak references, and a task
        collected while pending is "destroyed but pending" (and its coroutine then ignores
        GeneratorExit)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._keep(task)
        link = Link()
        self.links.append(link)
        up_reader, up_writer = await asyncio.open_connection(*self._upstream, limit=1 << 20)
        try:
            while await self._exchange(link, reader, writer, up_reader, up_writer):
                pass
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            _abort(up_writer, reset=False)
            if link.faulted:
                _abort(writer, reset=False)
            else:
                writer.close()
            link.ended.set()

    async def _exchange(
        self,
        link: Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """One request and its answer; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            link.closed_by_gateway = True
            return False
        request = _request(head)
        link.requests.append(request)
        fault = self._take(request)
        length = int(request.headers.get("content-length", "0"))
        if fault is not None:
            link.faulted = True
        if fault is not None and fault.where == "raw":
            await reader.readexactly(length)
            writer.write(fault.raw)
            await writer.drain()
            if fault.keep_open:
                link.faulted = False
                return True
            writer.transport.close()
            return False
        up_writer.write(head)
        body_limit = fault.after if fault is not None and fault.where == "request" else -1
        answer = self._keep(
            asyncio.ensure_future(self._answer(request, fault, reader, writer, up_reader))
        )
        try:
            sent = 0
            while sent < length:
                chunk = await reader.read(min(length - sent, 1 << 16))
                if not chunk:
                    raise ConnectionError("gateway closed mid-body")
                if 0 <= body_limit < sent + len(chunk):
                    up_writer.write(chunk[: body_limit - sent])
                    await up_writer.drain()
                    _abort(writer, reset=True)
                    _abort(up_writer, reset=True)
                    return False
                up_writer.write(chunk)
                await up_writer.drain()
                sent += len(chunk)
            return await answer
        finally:
            if not answer.done():
                answer.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await answer

    async def _answer(
        self,
        request: Request,
        fault: Fault | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
    ) -> bool:
        """Forward the answer (1xx heads skipped through); False when the link must end."""
        while True:
            head = await up_reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status >= 200:
                break
            writer.write(head)
        headers = _headers(head)
        if fault is not None and fault.where == "done":
            await _read_body(request.method, status, headers, up_reader, None)
            await _break(fault, reader, writer)
            return False
        budget = fault.after if fault is not None and fault.where == "answer" else -1
        out = _Cutter(writer, budget)
        if out.send(head):
            await _break(fault, reader, writer)
            return False
        framed = await _read_body(request.method, status, headers, up_reader, out)
        if out.cut:
            await _break(fault, reader, writer)
            return False
        await writer.drain()
        return framed and "close" not in headers.get("connection", "").lower()


class _Cutter:
    """Writes to the gateway until ``budget`` bytes went (-1: no limit), then stops."""

    def __init__(self, writer: asyncio.StreamWriter, budget: int) -> None:
        self._writer = writer
        self._left = budget
        self.cut = False

    def send(self, data: bytes) -> bool:
        if self.cut:
            return True
        if 0 <= self._left < len(data):
            self._writer.write(data[: self._left])
            self._left = 0
            self.cut = True
            return True
        if self._left >= 0:
            self._left -= len(data)
        self._writer.write(data)
        return False


async def _read_body(
    method: str,
    status: int,
    headers: dict[str, str],
    reader: asyncio.StreamReader,
    out: _Cutter | None,
) -> bool:
    """Read (and pass to ``out``) an answer's body; whether it was framed (else read to EOF)."""

    def send(data: bytes) -> bool:
        return out is not None and out.send(data)

    if method == "HEAD" or status in (204, 304):
        return True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line = await reader.readuntil(b"\r\n")
            if send(line):
                return False
            size = int(line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if send(data):
                return False
            if size == 0:
                return True
    if "content-length" in headers:
        left = int(headers["content-length"])
        while left:
            data = await reader.read(min(left, 1 << 16))
            if not data:
                raise ConnectionError("upstream closed mid-body")
            left -= len(data)
            if send(data):
                return False
        return True
    while data := await reader.read(1 << 16):
        if send(data):
            return False
    return False


async def _break(
    fault: Fault | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Break the answer as ``fault`` says; a stall lasts until the gateway closes (or
    :data:`STALL_LIMIT`)."""
    assert fault is not None
    with contextlib.suppress(OSError):
        await writer.drain()
    if fault.how == "stall":
        with contextlib.suppress(asyncio.TimeoutError):
            with contextlib.suppress(OSError):  # a reset is giving up too
                await asyncio.wait_for(reader.read(), STALL_LIMIT)
            fault.gateway_gave_up = True
        return
    _abort(writer, reset=fault.how == "reset")


def _abort(writer: asyncio.StreamWriter, reset: bool) -> None:
    transport = writer.transport
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)
    }


def _request(head: bytes) -> Request:
    method, target = head.decode("latin-1").split(" ", 2)[:2]
    return Request(method, target, _headers(head))


@contextlib.contextmanager
def fault_proxy_to(endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(endpoint)
    try:
        yield proxy
    finally:
        proxy.close()
