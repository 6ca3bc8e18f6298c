"""The native upstream client (s3proxy.backends.upstream_pool / upstream_http) against a real
asyncio server on 127.0.0.1 that scripts raw HTTP/1.1 answers and records what it received."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from s3proxy.backends.upstream_http import UpstreamClosed
from s3proxy.backends.upstream_pool import BodyFailed, Pool
from s3proxy.backends.upstream_response import HIGH_WATER, Headers, Response

Script = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""Serves one connection: (its number from 1, reader, writer)."""


class Server:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(self.connections, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(script: Script, **pool: float) -> AsyncIterator[tuple[Server, Pool]]:
    server = Server(script)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    settings = {"limit": 8, "connect_timeout": 5.0, "read_timeout": 5.0} | pool
    client = Pool(
        limit=int(settings["limit"]),
        connect_timeout=settings["connect_timeout"],
        read_timeout=settings["read_timeout"],
        tls=None,
    )
    try:
        yield server, client
    finally:
        await client.close()
        listener.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request: its head, and its body when it has a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length) if length else b""


def answer(body: bytes = b"", *extra: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keep_answering(*answers: bytes) -> Script:
    async def script(_: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for raw in answers:
            await read_request(reader)
            writer.write(raw)
            await writer.drain()
        await reader.read()

    return script


def per_connection(*answers: bytes) -> Script:
    """Connection n answers ``answers[n - 1]`` to each of its requests."""

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answers[n - 1])
            await writer.drain()

    return script


async def get(pool: Pool, port: int, method: str = "GET", path: str = "/b/k") -> Response:
    return await pool.request(method, "127.0.0.1", port, path, {"host": f"127.0.0.1:{port}"})


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


# -- keep-alive ------------------------------------------------------------------------------


def test_connection_is_reused_for_requests_in_turn() -> None:
    async def go() -> None:
        async with serving(keep_answering(answer(b"one"), answer(b"two"))) as (server, pool):
            for expected in (b"one", b"two"):
                response = await get(pool, server.port)
                assert await response.read() == expected
                response.release()
            assert server.connections == 1

    run(go())


def test_connection_close_answer_is_not_pooled() -> None:
    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"x", "Connection: close"))
        await writer.drain()
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            for _ in range(2):
                response = await get(pool, server.port)
                assert await response.read() == b"x"
                response.release()
            assert server.connections == 2

    run(go())


def test_connection_closed_by_the_server_while_idle_is_not_used() -> None:
    closed = asyncio.Event

    async def go() -> None:
        gone = closed()

        async def script(
            n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await read_request(reader)
            writer.write(answer(b"%d" % n))
            await writer.drain()
            if n == 1:
                writer.close()
                await writer.wait_closed()
                gone.set()
            else:
                await reader.read()

        async with serving(script) as (server, pool):
            first = await get(pool, server.port)
            assert await first.read() == b"1"
            first.release()
            await gone.wait()
            for _ in range(1000):  # until the client's loop has seen the FIN
                if first._conn.closed:
                    break
                await asyncio.sleep(0.001)
            assert first._conn.closed
            second = await get(pool, server.port)
            assert await second.read() == b"2"
            second.release()
            assert server.connections == 2

    run(go())


def closes_on_second_request(n: int) -> Script:
    """Connection 1 answers one request, then takes the next and closes without a byte."""

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"%d" % n))
        await writer.drain()
        if n == 1:
            await reader.readuntil(b"\r\n\r\n")
            return
        await reader.read()

    return script


def test_reused_connection_that_fails_before_any_answer_is_retried_once_for_bytes() -> None:
    async def go() -> None:
        async with serving(closes_on_second_request(1)) as (server, pool):
            first = await get(pool, server.port)
            assert await first.read() == b"1"
            first.release()
            second = await pool.request(
                "PUT", "127.0.0.1", server.port, "/b/k", {"host": "h"}, b"data"
            )
            assert second.status == 200
            assert await second.read() == b"2"
            second.release()
            assert server.connections == 2

    run(go())


def test_a_streamed_body_is_never_sent_twice() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    async def go() -> None:
        async with serving(closes_on_second_request(1)) as (server, pool):
            first = await get(pool, server.port)
            await first.read()
            first.release()
            headers = {"host": "h", "content-length": "4"}
            with pytest.raises(ConnectionError):
                await pool.request("PUT", "127.0.0.1", server.port, "/b/k", headers, body())
            assert server.connections == 1

    run(go())


# -- response framing ------------------------------------------------------------------------


def test_chunked_body_and_repeated_headers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Meta-A: 1\r\n"
        b"x-amz-meta-a: 2\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def go() -> None:
        async with serving(keep_answering(raw, answer(b"next"))) as (server, pool):
            response = await get(pool, server.port)
            assert response.headers.get("X-AMZ-META-A") == "1"
            assert list(response.headers.items())[1:] == [
                ("X-Amz-Meta-A", "1"),
                ("x-amz-meta-a", "2"),
            ]
            assert await response.read() == b"abcde"
            assert response.at_eof()
            response.release()
            again = await get(pool, server.port)
            assert await again.read() == b"next"
            again.release()
            assert server.connections == 1

    run(go())


def test_body_to_eof_without_length() -> None:
    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil")
        await writer.drain()
        writer.write(b" the end")

    async def go() -> None:
        async with serving(script) as (server, pool):
            response = await get(pool, server.port)
            assert await response.read() == b"until the end"
            response.release()
            again = await get(pool, server.port)
            again.close()
            assert server.connections == 2

    run(go())


def test_head_and_204_have_no_body_and_keep_the_connection() -> None:
    answers = (answer(b"", "Content-Length: 1000"), answer(status="204 No Content"))
    answers = (
        b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: "e"\r\n\r\n',
        b"HTTP/1.1 204 No Content\r\n\r\n",
        answer(b"after"),
    )

    async def go() -> None:
        async with serving(keep_answering(*answers)) as (server, pool):
            head = await get(pool, server.port, "HEAD")
            assert head.headers["content-length"] == "1000"
            assert head.headers["etag"] == '"e"'
            assert head.at_eof()
            head.release()
            deleted = await get(pool, server.port, "DELETE")
            assert deleted.status == 204
            deleted.release()
            after = await get(pool, server.port)
            assert await after.read() == b"after"
            after.release()
            assert server.connections == 1

    run(go())


def test_partly_read_body_closes_the_connection_on_release() -> None:
    big = b"z" * (4 * HIGH_WATER)

    async def go() -> None:
        async with serving(per_connection(answer(big), answer(b"fresh"))) as (server, pool):
            response = await get(pool, server.port)
            assert await response.content.readexactly(10) == b"z" * 10
            response.release()
            fresh = await get(pool, server.port)
            assert await fresh.read() == b"fresh"
            fresh.release()
            assert server.connections == 2

    run(go())


def test_short_body_fails_the_reader() -> None:
    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    async def go() -> None:
        async with serving(script) as (server, pool):
            response = await get(pool, server.port)
            with pytest.raises(UpstreamClosed):
                await response.read()
            response.close()

    run(go())


def test_large_body_is_byte_identical_and_reads_are_bounded_by_backpressure() -> None:
    blob = hashlib.sha256(b"seed").digest() * (32 * 1024 * 8)  # 8 MiB
    sent = asyncio.Event

    async def go() -> None:
        done = sent()

        async def script(
            n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await read_request(reader)
            writer.write(answer(blob))
            await writer.drain()
            done.set()
            await reader.read()

        async with serving(script) as (server, pool):
            response = await get(pool, server.port)
            first = await response.content.read(1)
            for _ in range(200):  # the client pauses once ~HIGH_WATER bytes wait
                if response._conn._read_paused:
                    break
                await asyncio.sleep(0.01)
            assert response._conn._read_paused
            assert not done.is_set()
            assert response._buffered < HIGH_WATER + 1024 * 1024
            rest = [chunk async for chunk, _ in response.content.iter_chunks()]
            assert hashlib.sha256(first + b"".join(rest)).digest() == hashlib.sha256(blob).digest()
            response.release()

    run(go())


# -- request bodies --------------------------------------------------------------------------


def test_small_put_goes_out_in_one_write_with_exact_bytes() -> None:
    received: list[bytes] = []

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        writer.write(answer(b"", 'ETag: "x"'))
        await writer.drain()
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            headers = {"host": "up:9000", "x-amz-meta-a": "b", "content-length": "5"}
            response = await pool.request(
                "PUT", "127.0.0.1", server.port, "/b/k?x=1", headers, b"hello"
            )
            response.release()

    run(go())
    assert received == [
        b"PUT /b/k?x=1 HTTP/1.1\r\nhost: up:9000\r\nx-amz-meta-a: b\r\ncontent-length: 5\r\n"
        b"\r\nhello"
    ]


def test_bodiless_put_says_content_length_zero_and_get_says_nothing() -> None:
    heads: list[bytes] = []

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            heads.append((await read_request(reader))[0])
            writer.write(answer())
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            (await get(pool, server.port, "PUT")).release()
            (await get(pool, server.port, "GET")).release()

    run(go())
    assert heads[0].startswith(b"PUT /b/k HTTP/1.1\r\nhost: 127.0.0.1:")
    assert heads[0].endswith(b"\r\nContent-Length: 0\r\n\r\n")
    assert b"Content-Length" not in heads[1]


def test_stream_without_length_is_sent_chunked() -> None:
    raw: list[bytes] = []

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            data += await reader.read(65536)
        raw.append(data)
        writer.write(answer())
        await reader.read()

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b""
        yield b"defgh"

    async def go() -> None:
        async with serving(script) as (server, pool):
            response = await pool.request(
                "PUT", "127.0.0.1", server.port, "/k", {"host": "h"}, body()
            )
            response.release()

    run(go())
    assert raw == [
        b"PUT /k HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"
    ]


def test_upload_to_a_slow_server_is_not_buffered_whole() -> None:
    block = b"u" * 65536
    total = 1024  # 64 MiB

    async def go() -> None:
        release = asyncio.Event()
        produced = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal produced
            for _ in range(total):
                produced += len(block)
                yield block

        async def script(
            n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"content-length: %d" % (total * len(block)) in head
            await release.wait()
            await reader.readexactly(total * len(block))
            writer.write(answer(b"", 'ETag: "up"'))
            await reader.read()

        async with serving(script) as (server, pool):
            headers = {"host": "h", "content-length": str(total * len(block))}
            sending = asyncio.ensure_future(
                pool.request("PUT", "127.0.0.1", server.port, "/k", headers, body())
            )
            for _ in range(100):  # until the producer is held back by the socket
                before = produced
                await asyncio.sleep(0.02)
                if produced == before and produced:
                    break
            assert produced < total * len(block) // 2
            release.set()
            response = await sending
            assert response.headers["ETag"] == '"up"'
            response.release()
            assert produced == total * len(block)

    run(go())


def test_failing_body_iterator_surfaces_as_its_own_error() -> None:
    class Refused(Exception):
        pass

    async def body() -> AsyncIterator[bytes]:
        yield b"part"
        raise Refused

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            headers = {"host": "h", "content-length": "100"}
            with pytest.raises(BodyFailed) as info:
                await pool.request("PUT", "127.0.0.1", server.port, "/k", headers, body())
            assert isinstance(info.value.__cause__, Refused)

    run(go())


def test_header_with_a_newline_is_refused() -> None:
    async def go() -> None:
        async with serving(keep_answering()) as (server, pool):
            with pytest.raises(ValueError):
                await pool.request(
                    "GET",
                    "127.0.0.1",
                    server.port,
                    "/k",
                    {"host": "h", "x-amz-meta-a": "1\r\nX: y"},
                )

    run(go())


# -- timeouts and limits ---------------------------------------------------------------------


def test_no_answer_times_out() -> None:
    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def go() -> None:
        async with serving(script, read_timeout=0.2) as (server, pool):
            with pytest.raises(TimeoutError):
                await get(pool, server.port)

    run(go())


def test_stalled_body_times_out_between_reads() -> None:
    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await reader.read()

    async def go() -> None:
        async with serving(script, read_timeout=0.2) as (server, pool):
            response = await get(pool, server.port)
            with pytest.raises(TimeoutError):
                await response.read()
            response.close()

    run(go())


def test_limit_makes_a_request_wait_for_a_connection() -> None:
    async def go() -> None:
        finish = asyncio.Event()

        async def script(
            n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")
            await finish.wait()
            writer.write(b"a")
            await read_request(reader)
            writer.write(answer(b"b"))
            await reader.read()

        async with serving(script, limit=1) as (server, pool):
            first = await get(pool, server.port)
            waiting = asyncio.ensure_future(get(pool, server.port))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            finish.set()
            assert await first.read() == b"a"
            second = await waiting
            assert await second.read() == b"b"
            second.release()
            assert server.connections == 1

    run(go())


def test_a_body_read_to_its_end_frees_the_connection_without_release() -> None:
    """As aiohttp does at the body's end: a caller that reads all and never releases (S3
    backend's has_uploads) must not hold its pool slot."""

    async def go() -> None:
        async with serving(keep_answering(answer(b"a"), answer(b"b")), limit=1) as (server, pool):
            assert await (await get(pool, server.port)).read() == b"a"
            second = await asyncio.wait_for(get(pool, server.port), 5)
            assert await second.read() == b"b"
            assert server.connections == 1

    run(go())


def test_next_request_on_a_connection_is_woken_though_the_last_reader_resumes_after_it() -> None:
    """The last body bytes wake the reader and free the connection in one step; a request
    already due to run takes the connection before that reader resumes. Its wake-up must
    still reach it (the hang seen on Ceph: 4 GETs of 2,000 never answered)."""

    async def script(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na")
        await read_request(reader)
        writer.write(answer(b"second"))
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            first = await get(pool, server.port)
            reading = asyncio.ensure_future(first.read())
            while not first._conn._waiting:
                await asyncio.sleep(0.001)
            second = asyncio.ensure_future(get(pool, server.port))  # due before the reader
            first._conn.data_received(b"b")  # the body's last byte, as from the socket
            assert await reading == b"ab"
            response = await asyncio.wait_for(second, 5)
            assert await asyncio.wait_for(response.read(), 5) == b"second"
            assert server.connections == 1

    run(go())


def test_malformed_answer_fails_the_request_and_drops_the_connection() -> None:
    async def go() -> None:
        replies = per_connection(b"NOT HTTP AT ALL\r\n\r\n", answer(b"good"))
        async with serving(replies) as (server, pool):
            with pytest.raises(UpstreamClosed):
                await get(pool, server.port)
            response = await get(pool, server.port)
            assert await response.read() == b"good"
            assert server.connections == 2

    run(go())


def test_headers_mapping() -> None:
    headers = Headers([("ETag", '"a"'), ("etag", '"b"'), ("Content-Length", "3")])
    assert headers["etag"] == '"a"'
    assert "ETAG" in headers
    assert headers.get("missing") is None
    assert len(headers) == 2
    assert list(headers.items()) == [("ETag", '"a"'), ("etag", '"b"'), ("Content-Length", "3")]
