"""The native upstream client against upstreams that break HTTP/1.1 on purpose: cut bodies,
bytes nobody asked for, never-ending or malformed heads, early answers, cancelled requests, a
full pool and TLS names. Each server is a real asyncio server on 127.0.0.1 scripted byte by
byte (helpers from test_upstream_http). What must hold: a broken answer raises and is never
taken as complete, and a connection is pooled only when its response ended exactly where its
framing says."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator

import pytest

from s3proxy.backends.upstream_http import MAX_HEAD, Connection, UpstreamClosed
from s3proxy.backends.upstream_pool import Pool, tls_context
from tests.unit.test_upstream_http import Script, answer, get, read_request, run, serving

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


def then_fresh(first: bytes, *, close: bool = True) -> Script:
    """Connection 1 answers ``first`` (then closes when ``close``); any later connection
    answers ``fresh`` to each request."""

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        if n == 1:
            await read_request(reader)
            writer.write(first)
            await writer.drain()
            if not close:
                await reader.read()
            return
        while True:
            await read_request(reader)
            writer.write(answer(b"fresh"))
            await writer.drain()

    return script


def first_connection(first: Script) -> Script:
    """Connection 1 runs ``first``; any later connection answers ``fresh`` to each request."""
    fresh = then_fresh(b"")

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        await (first if n == 1 else fresh)(n, reader, writer)

    return script


async def fresh_on_a_new_connection(pool: Pool, port: int) -> None:
    response = await get(pool, port)
    assert await response.read() == b"fresh"
    response.release()


# -- a body cut short ------------------------------------------------------------------------

CUT_BODIES = {
    "content-length short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    "chunked without its last chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    ),
    "end inside a chunk-size line": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1"
    ),
    "end inside a chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc",
}


@pytest.mark.parametrize("raw", CUT_BODIES.values(), ids=CUT_BODIES.keys())
def test_body_cut_short_raises_and_the_connection_is_not_pooled(raw: bytes) -> None:
    async def go() -> None:
        async with serving(then_fresh(raw)) as (server, pool):
            response = await get(pool, server.port)
            with pytest.raises(UpstreamClosed):
                await response.read()
            assert not response.at_eof()
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_body_cut_after_its_head_in_a_later_read_raises() -> None:
    """The Content-Length body past the head bypasses the parser: a cut there raises too."""

    async def go() -> None:
        head_read = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await head_read.wait()
            writer.write(b"a" * 600)
            await writer.drain()

        async with serving(first_connection(script)) as (server, pool):
            response = await get(pool, server.port)
            head_read.set()
            with pytest.raises(UpstreamClosed):
                await response.read()
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_body_to_the_end_of_the_connection_cut_by_a_reset_raises() -> None:
    """Without Content-Length or chunked framing only a clean end (FIN) ends the body; a
    reset is a failure, not the end (it used to be taken as the whole body)."""

    async def go() -> None:
        head_read = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\n\r\npart of it")
            await writer.drain()
            await head_read.wait()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # linger 0: RST, not FIN

        async with serving(script) as (server, pool):
            response = await get(pool, server.port)
            head_read.set()
            with pytest.raises(ConnectionError):
                await response.read()
            assert not response.at_eof()
            response.release()

    run(go())


# -- bytes after the response ----------------------------------------------------------------


def test_second_response_in_the_same_read_drops_the_connection() -> None:
    twice = answer(b"x") + answer(b"smuggled")

    async def go() -> None:
        async with serving(then_fresh(twice, close=False)) as (server, pool):
            response = await get(pool, server.port)
            assert await response.read() == b"x"
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_part_of_a_second_head_in_the_same_read_drops_the_connection() -> None:
    """Even a head too short to parse: its rest would otherwise open the next answer."""
    raw = answer(b"x") + b"HTTP/1.1 200 OK\r\nContent-Len"

    async def go() -> None:
        async with serving(then_fresh(raw, close=False)) as (server, pool):
            response = await get(pool, server.port)
            assert await response.read() == b"x"
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_extra_bytes_after_a_content_length_body_in_a_later_read_drop_the_connection() -> None:
    async def go() -> None:
        head_read = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
            await head_read.wait()
            writer.write(b"cd" + answer(b"smuggled"))
            await reader.read()

        async with serving(first_connection(script)) as (server, pool):
            response = await get(pool, server.port)
            head_read.set()
            assert await response.read() == b"abcd"
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_response_nobody_asked_for_drops_the_idle_connection() -> None:
    async def go() -> None:
        idle = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(answer(b"x"))
            await idle.wait()
            writer.write(answer(b"smuggled"))
            await reader.read()

        async with serving(first_connection(script)) as (server, pool):
            response = await get(pool, server.port)
            assert await response.read() == b"x"
            response.release()
            idle.set()
            for _ in range(2000):  # until the client's loop has read the stray answer
                if response._conn.closed:
                    break
                await asyncio.sleep(0.001)
            assert response._conn.closed
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_body_bytes_after_an_answer_to_head_drop_the_connection() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

    async def go() -> None:
        async with serving(then_fresh(raw, close=False)) as (server, pool):
            response = await get(pool, server.port, "HEAD")
            assert (response.status, response.headers["content-length"]) == (200, "5")
            assert response.at_eof()
            assert await response.read() == b""
            response.release()
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


# -- responses not read to their end, requests cancelled ------------------------------------


def test_unread_body_released_is_not_pooled_and_frees_its_slot() -> None:
    big = answer(b"b" * (4 * 1024 * 1024))

    async def go() -> None:
        async with serving(then_fresh(big, close=False), limit=1) as (server, pool):
            response = await get(pool, server.port)
            response.release()
            await asyncio.wait_for(fresh_on_a_new_connection(pool, server.port), 5)
            assert server.connections == 2

    run(go())


def test_reader_cancelled_mid_body_then_closed_drops_the_connection() -> None:
    """A client disconnect cancels the task streaming the body; the backend's aclose then
    closes the response (s3._closer): the connection is dropped, its slot freed."""

    async def go() -> None:
        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
            await reader.read()

        async with serving(first_connection(script), limit=1) as (server, pool):
            response = await get(pool, server.port)
            reading = asyncio.ensure_future(response.read())
            while not response._conn._waiting:
                await asyncio.sleep(0.001)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
            if not response.at_eof():
                response.close()
            assert response._conn.transport is not None
            assert response._conn.transport.is_closing()
            await asyncio.wait_for(fresh_on_a_new_connection(pool, server.port), 5)
            assert server.connections == 2

    run(go())


def test_request_cancelled_before_its_answer_drops_the_connection() -> None:
    """The late answer to a cancelled request never reaches the next request."""

    async def go() -> None:
        asked, late = asyncio.Event(), asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            asked.set()
            await late.wait()
            writer.write(answer(b"late"))
            await reader.read()

        async with serving(first_connection(script), limit=1) as (server, pool):
            request = asyncio.ensure_future(get(pool, server.port))
            await asyncio.wait_for(asked.wait(), 5)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            late.set()
            await asyncio.wait_for(fresh_on_a_new_connection(pool, server.port), 5)
            assert server.connections == 2

    run(go())


def test_upload_cancelled_mid_body_reaches_the_upstream_as_a_reset() -> None:
    """A client gone mid-PUT cancels the upload: the upstream must see a reset, never a clean
    end it could take for a complete (shorter) body."""

    async def go() -> None:
        outcome: list[object] = []
        started = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(65536)
            started.set()
            try:
                while data := await reader.read(65536):
                    del data
                outcome.append("clean end")
            except ConnectionResetError as exc:
                outcome.append(exc)

        async with serving(script) as (server, pool):
            headers = {"host": "h", "content-length": str(1 << 30)}
            upload = asyncio.ensure_future(
                pool.request("PUT", "127.0.0.1", server.port, "/k", headers, endless_body())
            )
            await asyncio.wait_for(started.wait(), 5)
            upload.cancel()
            with pytest.raises(asyncio.CancelledError):
                await upload
            for _ in range(2000):
                if outcome:
                    break
                await asyncio.sleep(0.001)
            assert len(outcome) == 1 and isinstance(outcome[0], ConnectionResetError)
            assert pool._in_use == 0

    run(go())


def test_upload_to_a_stalled_upstream_times_out_with_a_reset() -> None:
    """An upstream that stops reading mid-PUT: after read_timeout the upload fails, and the
    upstream, reading again, finds a reset, not a clean end."""

    async def go() -> None:
        outcome: list[object] = []
        timed_out = asyncio.Event()

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await timed_out.wait()
            try:
                while data := await reader.read(65536):
                    del data
                outcome.append("clean end")
            except ConnectionResetError as exc:
                outcome.append(exc)

        async with serving(script, read_timeout=0.3) as (server, pool):
            headers = {"host": "h", "content-length": str(1 << 30)}
            with pytest.raises(TimeoutError):
                await pool.request("PUT", "127.0.0.1", server.port, "/k", headers, endless_body())
            timed_out.set()
            for _ in range(5000):
                if outcome:
                    break
                await asyncio.sleep(0.001)
            assert len(outcome) == 1 and isinstance(outcome[0], ConnectionResetError)

    run(go())


# -- heads that are not HTTP/1.1 we can trust ------------------------------------------------

BAD_HEADS = {
    "invalid status line": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "not HTTP/1.x": b"HTTP/2 200\r\n\r\n",
    "invalid content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc",
    "negative content-length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "two content-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    "content-length and transfer-encoding": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    ),
    "folded header": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "switching protocols": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nzz"
    ),
    "head too large": (
        b"HTTP/1.1 200 OK\r\n" + b"X-A: " + b"a" * (MAX_HEAD + 1) + b"\r\nContent-Length: 0\r\n\r\n"
    ),
    "endless interim answers": b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_HEAD // 25 + 1),
}


@pytest.mark.parametrize("raw", BAD_HEADS.values(), ids=BAD_HEADS.keys())
def test_bad_head_fails_the_request_and_drops_the_connection(raw: bytes) -> None:
    async def go() -> None:
        async with serving(then_fresh(raw, close=False), read_timeout=20) as (server, pool):
            with pytest.raises(UpstreamClosed):
                await get(pool, server.port)
            await fresh_on_a_new_connection(pool, server.port)
            assert server.connections == 2

    run(go())


def test_head_trickled_forever_times_out() -> None:
    """A slowloris upstream: a header byte now and then is no progress until the head is
    whole, so the request fails after read_timeout instead of waiting for ever."""

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            writer.write(b"z")
            await writer.drain()
            await asyncio.sleep(0.02)

    async def go() -> None:
        async with serving(script, read_timeout=0.3) as (server, pool):
            with pytest.raises(TimeoutError, match="no upstream progress"):
                async with asyncio.timeout(10):
                    await get(pool, server.port)

    run(go())


def test_transfer_encoding_not_ending_in_chunked_is_read_to_the_end_and_not_pooled() -> None:
    """RFC 9112 6.3: chunked only when it is the last coding; the body then runs to the end."""
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc"

    async def go() -> None:
        async with serving(then_fresh(raw)) as (server, pool):
            response = await get(pool, server.port)
            assert await response.read() == b"3\r\nabc"
            response.release()
            await fresh_on_a_new_connection(pool, server.port)

    run(go())


def test_interim_answers_before_the_final_one_are_skipped() -> None:
    async def go() -> None:
        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n")
            await writer.drain()
            writer.write(b"\r\n" + answer(b"final", 'ETag: "e"'))
            await read_request(reader)
            writer.write(answer(b"next"))
            await reader.read()

        async with serving(script) as (server, pool):
            response = await get(pool, server.port)
            assert (response.status, response.headers["etag"]) == (200, '"e"')
            assert await response.read() == b"final"
            response.release()
            again = await get(pool, server.port)
            assert await again.read() == b"next"
            assert server.connections == 1

    run(go())


def test_server_closing_right_after_accepting_is_a_connection_error() -> None:
    async def script(n: int, reader: Reader, writer: Writer) -> None:
        return

    async def go() -> None:
        async with serving(script) as (server, pool):
            with pytest.raises(ConnectionError):
                await get(pool, server.port)

    run(go())


# -- early answers to an upload --------------------------------------------------------------


def early_answer(status: str, body: bytes, when: asyncio.Event | None = None) -> Script:
    """Reads the head of a PUT, answers (once ``when`` is set), then never reads the body."""

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if when is not None:
            await when.wait()
        writer.write(answer(body, status=status))
        await writer.drain()
        await asyncio.Event().wait()

    return script


async def endless_body() -> AsyncIterator[bytes]:
    block = b"u" * 65536
    while True:
        yield block


def test_early_error_answer_to_an_upload_is_the_answer_at_once() -> None:
    """An upstream that refuses a PUT after its head and stops reading, answering once every
    buffer on the way is full: the refusal is the answer as soon as it arrives, not after
    read_timeout of a full socket buffer."""
    error = b"<Error><Code>AccessDenied</Code></Error>"

    async def go() -> None:
        full = asyncio.Event()
        script = early_answer("403 Forbidden", error, full)
        async with serving(script, read_timeout=60) as (server, pool):
            connections: list[Connection] = []
            connect = pool._connect

            async def capture(host: str, port: int) -> Connection:
                connections.append(await connect(host, port))
                return connections[-1]

            pool._connect = capture  # type: ignore[method-assign]
            headers = {"host": "h", "content-length": str(1 << 40)}
            sending = asyncio.ensure_future(
                pool.request("PUT", "127.0.0.1", server.port, "/k", headers, endless_body())
            )
            while not (connections and connections[0]._write_paused and connections[0]._waiting):
                await asyncio.sleep(0.005)  # until the upload waits on the full socket
            full.set()
            async with asyncio.timeout(10):
                response = await sending
                assert response.status == 403
                assert await response.read() == error
            response.release()
            assert response._conn.transport is not None
            assert response._conn.transport.is_closing()

    run(go())


@pytest.mark.parametrize("length", [None, 1 << 30])
def test_success_before_the_whole_upload_is_a_failure(length: int | None) -> None:
    """A 2xx to a body the upstream cannot have received whole is no stored object."""

    async def go() -> None:
        async with serving(early_answer("200 OK", b""), read_timeout=60) as (server, pool):
            headers = {"host": "h"} | ({} if length is None else {"content-length": str(length)})
            with pytest.raises(UpstreamClosed):
                async with asyncio.timeout(10):
                    await pool.request(
                        "PUT", "127.0.0.1", server.port, "/k", headers, endless_body()
                    )

    run(go())


def test_success_after_the_whole_upload_is_kept() -> None:
    """…but an answer that comes once every declared byte went out is the answer, though the
    body iterator has not yet said it is done."""

    async def go() -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"abcd"
            await asyncio.sleep(0.2)  # the answer arrives meanwhile

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(answer(b"", 'ETag: "e"'))
            await reader.read()

        async with serving(script) as (server, pool):
            headers = {"host": "h", "content-length": "4"}
            response = await pool.request("PUT", "127.0.0.1", server.port, "/k", headers, body())
            assert (response.status, response.headers["etag"]) == (200, '"e"')
            response.release()

    run(go())


def test_post_on_a_stale_connection_is_not_sent_twice() -> None:
    """As aiohttp: only idempotent methods are sent again after a reused connection failed
    (a POST such as CreateMultipartUpload may have been carried out)."""

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(answer(b"%d" % n))
        await writer.drain()
        if n == 1:
            await reader.readuntil(b"\r\n\r\n")  # takes the POST, then dies without a byte
            return
        await reader.read()

    async def go() -> None:
        async with serving(script) as (server, pool):
            first = await get(pool, server.port)
            assert await first.read() == b"1"
            first.release()
            with pytest.raises(ConnectionError):
                await pool.request(
                    "POST", "127.0.0.1", server.port, "/k?uploads", {"host": "h"}, b""
                )
            assert server.connections == 1

    run(go())


# -- the pool's limit ------------------------------------------------------------------------


def test_limit_holds_under_concurrency_and_every_waiter_is_served() -> None:
    async def go() -> None:
        open_now = 0
        most = 0

        async def script(n: int, reader: Reader, writer: Writer) -> None:
            nonlocal open_now, most
            open_now += 1
            most = max(most, open_now)
            try:
                while True:
                    _, _ = await read_request(reader)
                    await asyncio.sleep(0.005)  # hold the connection while others queue
                    writer.write(answer(b"%d" % n))
                    await writer.drain()
            finally:
                open_now -= 1

        async with serving(script, limit=3) as (server, pool):

            async def one() -> bytes:
                response = await get(pool, server.port)
                data = await response.read()
                response.release()
                return data

            results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(40))), 20)
            assert len(results) == 40 and all(results)
            assert most <= 3
            assert server.connections <= 3
            assert pool._in_use == 0

    run(go())


# -- TLS -------------------------------------------------------------------------------------


def test_tls_context_verifies_certificates_and_names_by_default() -> None:
    context = tls_context(True)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tls_checks_the_host_name_and_sends_it_as_sni(host: str) -> None:
    """A certificate from a trusted CA but for another name is refused; the name connected
    to goes out as SNI."""
    import trustme

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)
    names: list[str | None] = []

    def sni(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = sni
    client_tls = tls_context(True)
    ca.configure_trust(client_tls)

    async def serve(reader: Reader, writer: Writer) -> None:
        try:
            await read_request(reader)
            writer.write(answer(b"secret"))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        writer.close()

    async def go() -> None:
        listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
        port = listener.sockets[0].getsockname()[1]
        pool = Pool(limit=2, connect_timeout=5, read_timeout=5, tls=client_tls)
        try:
            if host == "localhost":
                response = await pool.request("GET", "localhost", port, "/k", {"host": "localhost"})
                assert await response.read() == b"secret"
                response.release()
                assert names == ["localhost"]
            else:
                with pytest.raises(ssl.SSLCertVerificationError):
                    await pool.request("GET", host, port, "/k", {"host": host})
        finally:
            await pool.close()
            listener.close()

    run(go())
