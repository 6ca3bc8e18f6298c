"""Chunk lines and trailer sections read one way on both engines (s3proxy.strict_head's
ChunkedReader against llhttp, the uvicorn engine's parser, run here through httptools).

h11 took any bytes after a ``;`` and white space before the CRLF: ``5 ``, ``5;``, ``5;a b``, a
control character or an unclosed quote in an extension was a chunk on Hypercorn and a 400 on
uvicorn; a trailer carrying Content-Length or Transfer-Encoding was ignored on Hypercorn and
refused on uvicorn. Each line is sent through both parsers: they must agree, chunk for chunk."""

from __future__ import annotations

import random

import h11
import httptools
import pytest

from s3proxy import strict_head
from tests.unit.test_w11d_strict_head import events, server

HEAD = b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


def llhttp_reads(body: bytes) -> bytes | None:
    """The body llhttp reads from ``body`` (chunked), or None where it refuses it."""
    read: list[bytes] = []
    done: list[bool] = []

    class Callbacks:
        def on_body(self, data: bytes) -> None:
            read.append(data)

        def on_message_complete(self) -> None:
            done.append(True)

    try:
        httptools.HttpRequestParser(Callbacks()).feed_data(HEAD + body)
    except httptools.HttpParserError:
        return None
    return b"".join(read) if done else b"<unfinished>"


def h11_reads(body: bytes) -> bytes | None:
    """The body Hypercorn's h11 (with strict_head installed) reads, or None where it refuses."""
    try:
        got = events(server(), HEAD + body)
    except h11.RemoteProtocolError:
        return None
    data = b"".join(bytes(event.data) for event in got if isinstance(event, h11.Data))
    return data if any(isinstance(e, h11.EndOfMessage) for e in got) else b"<unfinished>"


def with_line(line: bytes) -> bytes:
    return line + b"\r\nhello\r\n0\r\n\r\n"


LINES = [
    b"5", b"05", b"5;a", b"5;a=b", b'5;a="b c"', b"5;a=", b"5;=a", b"5;;a", b'5;a="\\""',
    b'5;a=b"c"', b"5;a=b;c=d", b'5;a="\x80"',  # llhttp takes these
    b"5 ", b"5\t", b"5;", b"5;a;", b"5 ;a", b"5;a b", b"5;a=b ", b"5;a=\x01", b"5;a=\x80",
    b'5;a="b', b'5;a="b"c', b"5;a==b", b"5;a=b=c", b"5;a@", b"5;a=b,c", b"5;\x7f",
]  # fmt: skip


@pytest.mark.parametrize("line", LINES)
def test_a_chunk_line_is_read_as_llhttp_reads_it(line: bytes) -> None:
    assert h11_reads(with_line(line)) == llhttp_reads(with_line(line))


def test_random_chunk_lines_are_read_as_llhttp_reads_them() -> None:
    pieces = [b"5", b"a", b";", b"=", b'"', b"\\", b" ", b"\t", b"\x01", b"\x7f", b"\x80", b"@"]
    rng = random.Random(16)
    for _ in range(3000):
        line = b"5" + b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert h11_reads(with_line(line)) == llhttp_reads(with_line(line)), line


@pytest.mark.parametrize(
    ("trailer", "status"),
    [
        (b"Content-Length: 40", 400),
        (b"content-length:5", 400),
        (b"Transfer-Encoding: chunked", 501),
    ],
)
def test_a_framing_field_in_the_trailers_is_refused(trailer: bytes, status: int) -> None:
    body = b"5\r\nhello\r\n0\r\nX-A: 1\r\n" + trailer + b"\r\n\r\n"
    assert llhttp_reads(body) is None
    with pytest.raises(h11.RemoteProtocolError) as caught:
        events(server(), HEAD + body)
    assert caught.value.error_status_hint == status


def test_other_trailer_fields_are_read_and_dropped() -> None:
    body = b"5\r\nhello\r\n0\r\nX-Content-Length: 1\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n"
    assert h11_reads(body) == llhttp_reads(body) == b"hello"


def llhttp_takes_head(head: bytes) -> bool:
    class Callbacks:
        pass

    try:
        httptools.HttpRequestParser(Callbacks()).feed_data(head)
    except httptools.HttpParserError:
        return False
    return True


@pytest.mark.parametrize(
    "length",
    [
        b"18446744073709551615",
        b"18446744073709551616",
        b"99999999999999999999999",
        b"000000000000000000000018446744073709551615",
        b"9" * 5000,  # int() of it would raise (Python's 4,300-digit limit)
    ],
)
def test_a_content_length_over_64_bits_is_refused_as_llhttp_refuses_it(length: bytes) -> None:
    """h11 read any number: 2**64 was 400 InvalidRequest on uvicorn, EntityTooLarge here."""
    head = b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nContent-Length: " + length + b"\r\n\r\n"
    assert (strict_head.head_problem(head) is None) == llhttp_takes_head(head)


@pytest.mark.parametrize("before", [b"\r\n", b"\n", b"\r", b"\n\r\n", b"\r\r\n\n"])
def test_line_ends_before_a_request_line_are_skipped_as_llhttp_skips_them(before: bytes) -> None:
    """A bare LF before a request was 400 on Hypercorn and served on uvicorn."""
    head = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    assert llhttp_takes_head(before + head)
    got = events(server(), before + head)
    assert isinstance(got[0], h11.Request) and got[0].target == b"/a"


def llhttp_target(head: bytes) -> bytes | None:
    """The target llhttp reads in ``head``, or None where it refuses the head."""
    url: list[bytes] = []

    class Callbacks:
        def on_url(self, data: bytes) -> None:
            url.append(data)

    try:
        httptools.HttpRequestParser(Callbacks()).feed_data(head)
    except httptools.HttpParserError:
        return None
    return b"".join(url)


def h11_target(head: bytes) -> bytes | None:
    try:
        got = events(server(), head)
    except h11.RemoteProtocolError:
        return None
    assert isinstance(got[0], h11.Request)
    return bytes(got[0].target)


@pytest.mark.parametrize(
    "line",
    [
        b"GET /a HTTP/1.1",
        b"GET  /a HTTP/1.1",  # was 400 on Hypercorn, served on uvicorn
        b"GET /a   HTTP/1.1",
        b"GET    /a    HTTP/1.1",
        b" GET /a HTTP/1.1",
        b"GET /a HTTP/1.1 ",
        b"GET\t/a HTTP/1.1",
        b"GET /a\tHTTP/1.1",
        b"GET  /a b HTTP/1.1",
        b"GET  /a  HTTP/1.1  ",
    ],
)
def test_a_request_line_is_read_as_llhttp_reads_it(line: bytes) -> None:
    head = line + b"\r\nHost: h\r\nX-A: a  b\r\n\r\n"
    assert h11_target(head) == llhttp_target(head)
