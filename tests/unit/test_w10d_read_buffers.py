"""The native upstream client's reads of a large body (s3proxy.backends.upstream_http
BodyReads / ReadBuffers): inside a large Content-Length body a read takes up to 1 MiB and is
handed on without a copy, no byte handed on is overwritten while a chunk still refers to it,
and heads and small bodies keep plain reads. The connection is driven as the event loop drives
whichever protocol the transport has (``data_received``, or ``get_buffer`` /
``buffer_updated``), so each read's size and buffer are the test's, not the kernel's."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from s3proxy.backends.upstream_body_reads import LARGE_BODY, LARGE_READ, BodyReads
from s3proxy.backends.upstream_http import Connection
from s3proxy.backends.upstream_response import Response

MiB = 1024 * 1024


class Transport:
    """What the connection calls on its transport while it reads."""

    def __init__(self) -> None:
        self.paused = False
        self.protocol: asyncio.BaseProtocol | None = None

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def abort(self) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()  # a loop of its own: its own read buffers
    yield loop
    loop.close()


def connected(loop: asyncio.AbstractEventLoop) -> Connection:
    conn = Connection(loop, read_timeout=5.0)
    transport = Transport()
    transport.protocol = conn
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.begin("GET")
    return conn


def protocol(conn: Connection) -> asyncio.BaseProtocol:
    """The protocol the connection's transport reads for."""
    found = conn.transport.protocol  # type: ignore[union-attr]
    assert found is not None
    return found  # type: ignore[no-any-return]


def buffered(conn: Connection) -> BodyReads:
    reads = protocol(conn)
    assert isinstance(reads, BodyReads)
    return reads


def read(conn: Connection, data: bytes) -> int:
    """One socket read of as much of ``data`` as the transport's protocol takes (all of it for
    plain reads, up to the offered buffer's size for buffered ones); how much that was."""
    reads = protocol(conn)
    if not isinstance(reads, asyncio.BufferedProtocol):
        conn.data_received(data)
        return len(data)
    buffer = memoryview(reads.get_buffer(-1))
    n = min(len(buffer), len(data))
    buffer[:n] = data[:n]
    reads.buffer_updated(n)
    return n


def head(length: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length


def taken(response: Response) -> list[bytes | memoryview]:
    chunks = list(response._chunks)
    response._chunks.clear()
    response._buffered = 0
    return chunks


def test_a_read_inside_a_large_body_takes_a_mebibyte_and_is_handed_on_uncopied(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn = connected(loop)
    assert read(conn, head(8 * MiB)) == len(head(8 * MiB))
    response = conn.response
    assert response is not None
    offered = buffered(conn).get_buffer(-1)
    assert len(offered) >= LARGE_READ > 256_000  # uvloop's plain reads stop at 256,000 bytes
    offered[:LARGE_READ] = b"a" * LARGE_READ
    buffered(conn).buffer_updated(LARGE_READ)
    (chunk,) = response._chunks
    assert isinstance(chunk, memoryview)
    assert chunk.obj is offered.obj  # the bytes read, not a copy of them
    assert chunk == b"a" * LARGE_READ


def test_bytes_handed_on_are_never_overwritten_and_a_buffer_is_reused_once_free(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn = connected(loop)
    body = bytes(range(256)) * (16 * MiB // 256)
    read(conn, head(len(body)))
    response = conn.response
    assert response is not None
    at = 0
    held: list[bytes | memoryview] = []
    buffers: list[int] = []
    reads = buffered(conn)
    while at < 4 * MiB:  # 4 MiB in reads of 300,000 bytes, every chunk held
        buffer = reads.get_buffer(-1)
        buffers.append(id(buffer.obj))
        n = min(300_000, len(buffer))
        buffer[:n] = body[at : at + n]
        del buffer
        reads.buffer_updated(n)
        at += n
        held += taken(response)
    assert len(set(buffers)) >= 4  # a full buffer was left to its chunks, not reused
    del held  # the consumer is done with them
    gc.collect()
    reused = set()
    while at < 12 * MiB:  # each chunk dropped once checked: buffers come back
        buffer = reads.get_buffer(-1)
        reused.add(id(buffer.obj))
        n = min(300_000, len(buffer))
        buffer[:n] = body[at : at + n]
        del buffer
        reads.buffer_updated(n)
        assert b"".join(taken(response)) == body[at : at + n]
        at += n
    assert reused <= set(buffers)  # the first round's buffers, free again: none new


def test_heads_and_small_bodies_keep_plain_reads(loop: asyncio.AbstractEventLoop) -> None:
    conn = connected(loop)
    small = LARGE_BODY - 1
    read(conn, head(small) + b"s" * 100)
    assert protocol(conn) is conn
    response = conn.response
    assert response is not None
    read(conn, b"s" * (small - 100))
    assert protocol(conn) is conn
    body = loop.run_until_complete(response.read())
    assert body == b"s" * small and type(body) is bytes
    assert conn._body_buffer is None


def test_an_ended_body_leaves_no_buffer_with_the_idle_connection(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn = connected(loop)
    read(conn, head(2 * MiB))
    response = conn.response
    assert response is not None
    left = 2 * MiB
    assert isinstance(protocol(conn), BodyReads)
    while left:
        left -= read(conn, b"z" * left)
    assert response._done
    assert protocol(conn) is conn  # the next response's head is read plainly
    assert conn._body_buffer is None and conn._view is None
    chunks = taken(response)
    assert b"".join(chunks) == b"z" * 2 * MiB


def test_bytes_after_the_body_in_a_body_buffer_read_keep_the_connection_out_of_the_pool(
    loop: asyncio.AbstractEventLoop,
) -> None:
    conn = connected(loop)
    read(conn, head(MiB + 10))
    response = conn.response
    assert response is not None
    while not response._done:
        read(conn, b"y" * (MiB + 10 - response.received) + b"HTTP/1.1 200 OK\r\n")
    assert response.received == MiB + 10
    assert not conn.keep_alive


def test_iter_any_gives_bytes_and_iter_chunks_the_chunks_as_read(
    loop: asyncio.AbstractEventLoop,
) -> None:
    for method in ("iter_any", "iter_chunks"):
        conn = connected(loop)
        read(conn, head(2 * MiB))
        response = conn.response
        assert response is not None
        while not response._done:
            read(conn, b"q" * (2 * MiB - response.received))

        async def drain(response: Response = response, method: str = method) -> list[Any]:
            if method == "iter_any":
                return [chunk async for chunk in response.iter_any()]
            return [chunk async for chunk, _ in response.iter_chunks()]

        chunks = loop.run_until_complete(drain())
        assert b"".join(chunks) == b"q" * 2 * MiB
        kinds = {type(chunk) for chunk in chunks}
        assert kinds == ({bytes} if method == "iter_any" else {memoryview})
