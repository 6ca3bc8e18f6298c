"""Slow and hostile connections (wave 12, H), the engines' own parts: the send timeout of a
client that stops reading (uvicorn_protocol.S3Protocol.pause_writing), the bound on a chunked
body's framing (uvicorn_protocol.MAX_CHUNK_FRAMING, strict_head.ChunkedReader) and the methods
refused at the HTTP layer (strict_head.unknown_method), which must be the ones llhttp refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import httptools
import pytest
from hypercorn.config import Config as HypercornConfig

from s3proxy import strict_head
from s3proxy.http_errors import MAX_HEAD_BYTES
from s3proxy.hypercorn_closing import _check_stalled
from s3proxy.uvicorn_protocol import MAX_CHUNK_FRAMING
from tests.unit.test_uvicorn_engine import RecordingTransport, app_answering, connect, settle
from tests.unit.test_w11d_strict_head import events, server

CANDIDATES = (
    b"GET PUT POST HEAD DELETE OPTIONS CONNECT TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE "
    b"LOCK UNLOCK SEARCH BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY "
    b"SUBSCRIBE UNSUBSCRIBE PURGE MKCALENDAR LINK UNLINK SOURCE QUERY DESCRIBE ANNOUNCE SETUP PLAY "
    b"PAUSE TEARDOWN GET_PARAMETER SET_PARAMETER REDIRECT RECORD FLUSH FOO BREW VERSION-CONTROL "
    b"LABEL UPDATE"
).split()


def llhttp_reads(method: bytes) -> bool:
    parser = httptools.HttpRequestParser(object())
    try:
        parser.feed_data(method + b" / HTTP/1.1\r\nHost: h\r\n\r\n")
    except httptools.HttpParserUpgrade:
        return True  # CONNECT: read, then handed over
    except httptools.HttpParserError:
        return False
    return True


def test_the_methods_refused_at_the_http_layer_are_those_llhttp_refuses() -> None:
    """Hypercorn refuses what llhttp refuses (405 on both engines), so the two agree on every
    method; a drift of llhttp's list fails here."""
    refused = {method for method in CANDIDATES if strict_head.unknown_method(method)}
    assert refused == {method for method in CANDIDATES if not llhttp_reads(method)}
    assert {b"FOO", b"BREW", b"DESCRIBE", b"GET_PARAMETER"} <= refused


def test_a_method_with_a_lower_case_letter_or_no_token_is_not_a_405() -> None:
    for bad_request in (b"put", b"Foo", b"PRI", b"GARBAGE\r\n\r\n", b"FO/O", b""):
        assert not strict_head.unknown_method(bad_request)


class AbortingTransport(RecordingTransport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.closed = True


def test_a_write_stalled_for_the_send_timeout_aborts_the_connection() -> None:
    async def run() -> None:
        protocol, _ = connect(app_answering([]))
        transport = AbortingTransport()
        protocol.connection_made(transport)
        protocol.send_timeout = 5.0
        loop = asyncio.get_running_loop()
        protocol.pause_writing()  # the client stopped reading
        timer = protocol.stalled
        assert timer is not None and protocol.paused_at is not None
        assert protocol.paused_at + 5.0 <= timer.when() <= loop.time() + 5.0  # no clock margin
        protocol.resume_writing()  # it read enough
        protocol.send_stalled()  # the timer fires with writing going on: nothing to do
        assert protocol.stalled is None and not transport.aborted
        protocol.pause_writing()
        protocol.send_stalled()  # fires early for this pause (armed by an older one): waits on
        assert protocol.stalled is not None and not transport.aborted
        protocol.stalled.cancel()
        assert protocol.paused_at is not None
        protocol.paused_at -= 5.0  # the pause has lasted the whole timeout
        protocol.send_stalled()
        assert transport.aborted
        protocol.connection_lost(None)
        assert protocol.flow.write_paused is False  # the writer waiting in drain() goes on

    asyncio.run(run())


def test_without_a_send_timeout_nothing_is_armed() -> None:
    async def run() -> None:
        protocol, _ = connect(app_answering([]))
        protocol.send_timeout = None
        protocol.pause_writing()
        assert protocol.stalled is None

    asyncio.run(run())


CHUNKED_HEAD = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


def feed(pieces: list[bytes]) -> RecordingTransport:
    async def run() -> RecordingTransport:
        protocol, transport = connect(app_answering([]))
        for piece in pieces:
            protocol.data_received(piece)
            await settle()
        return transport

    return asyncio.run(run())


def status_of(transport: RecordingTransport) -> bytes:
    return b"".join(transport.writes).split(b"\r\n", 1)[0]


def test_both_engines_allow_the_same_head() -> None:
    """uvicorn counts against http_errors.MAX_HEAD_BYTES, h11 against Hypercorn's buffer."""
    assert HypercornConfig.h11_max_incomplete_size == MAX_HEAD_BYTES == MAX_CHUNK_FRAMING


def test_uvicorn_stops_reading_a_chunk_line_after_16_kib_over_reads() -> None:
    piece = b"e" * 4096
    pieces = [CHUNKED_HEAD, b"5;"] + [piece] * (MAX_CHUNK_FRAMING // len(piece) + 1)
    transport = feed(pieces)
    assert status_of(transport) == b"HTTP/1.1 400 Bad Request"
    assert transport.eof  # the answer, then a lingering close


def test_uvicorn_counts_only_framing_with_no_data_between() -> None:
    """Reads that each bring chunk data start the count again: 40 KiB of extensions in all,
    16 KiB at no point, and the body is answered."""
    extension = b";" + b"e" * 2000
    pieces = [CHUNKED_HEAD] + [b"1" + extension + b"\r\nx\r\n"] * 20 + [b"0\r\n\r\n"]
    transport = feed(pieces)
    assert status_of(transport) == b"HTTP/1.1 200 OK"
    assert b"".join(transport.writes).endswith(b"x" * 20)


def test_h11_refuses_a_chunk_line_still_unfinished_after_16_kib() -> None:
    connection = server()
    events(connection, CHUNKED_HEAD)
    with pytest.raises(h11.RemoteProtocolError) as caught:
        events(connection, b"5;" + b"e" * strict_head.MAX_CHUNK_LINE_BYTES)
    assert caught.value.error_status_hint == 400  # h11 alone answered 431, as for a head


def test_h11_still_reads_a_long_chunk_line_that_ends() -> None:
    connection = server()
    events(connection, CHUNKED_HEAD)
    out: list[Any] = events(connection, b"5;" + b"e" * 8000 + b"\r\nhello\r\n0\r\n\r\n")
    assert b"".join(e.data for e in out if isinstance(e, h11.Data)) == b"hello"


class FakeServer:
    """What hypercorn_closing._check_stalled reads of Hypercorn's TCPServer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.config = type("Config", (), {"s3proxy_send_timeout": 5.0})()
        self.writer = type("Writer", (), {"transport": AbortingTransport()})()
        self._s3proxy_stalled: asyncio.TimerHandle | None = None
        self._s3proxy_send_from: float | None = None


def test_hypercorn_aborts_a_write_that_waited_for_the_whole_timeout() -> None:
    async def run() -> None:
        server = FakeServer(asyncio.get_running_loop())
        transport = server.writer.transport
        _check_stalled(server)  # no write waiting: nothing to do
        assert server._s3proxy_stalled is None and not transport.aborted
        server._s3proxy_send_from = server.loop.time() - 1.0
        _check_stalled(server)  # waiting for 1 s of 5: looks again in 4
        assert server._s3proxy_stalled is not None and not transport.aborted
        server._s3proxy_stalled.cancel()
        server._s3proxy_send_from = server.loop.time() - 5.0
        _check_stalled(server)
        assert transport.aborted

    asyncio.run(run())
