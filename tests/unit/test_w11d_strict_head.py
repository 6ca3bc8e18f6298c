"""s3proxy.strict_head: h11 (the Hypercorn engine) reads request heads and chunk lines as llhttp
(the uvicorn engine) does, and drops what follows a request it must close after."""

from __future__ import annotations

import h11
import pytest

from s3proxy import strict_head

GOOD = b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-A: a\tb \xff\r\n\r\n"


def test_a_plain_head_passes() -> None:
    assert strict_head.head_problem(GOOD) is None


@pytest.mark.parametrize(
    ("head", "why"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n", "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: h\r\n\n", "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", "bare LF or CR"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tmore\r\n\r\n", "obs-fold"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n more\r\n\r\n", "obs-fold"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \x00\r\n\r\n", "control character"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \x1b\r\n\r\n", "control character"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \x7f\r\n\r\n", "control character"),
        (b"PUT / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", "Content-Length"),
        (b"PUT / HTTP/1.1\r\nContent-Length : 5\r\nContent-Length: 5\r\n\r\n", "Content-Length"),
        (b"PUT / HTTP/1.1\r\nContent-Length: 5,5\r\n\r\n", "Content-Length"),
    ],
)
def test_what_llhttp_refuses_is_a_problem(head: bytes, why: str) -> None:
    problem = strict_head.head_problem(head)
    assert problem is not None and why in problem


def server() -> h11.Connection:
    strict_head.install()
    return h11.Connection(h11.SERVER)


def events(connection: h11.Connection, data: bytes) -> list[object]:
    connection.receive_data(data)
    out: list[object] = []
    while (event := connection.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        out.append(event)
    return out


def test_h11_refuses_a_folded_head_as_the_clients_error() -> None:
    with pytest.raises(h11.RemoteProtocolError) as caught:
        events(
            server(), b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"
        )
    assert caught.value.error_status_hint == 400


def test_h11_reads_a_plain_chunked_body() -> None:
    got = events(
        server(),
        b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n0005\r\nworld\r\n0\r\n\r\n",
    )
    assert b"".join(bytes(e.data) for e in got if isinstance(e, h11.Data)) == b"helloworld"
    assert isinstance(got[-1], h11.EndOfMessage)


@pytest.mark.parametrize(
    "body",
    [
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\n\r\n",  # the bare LF after the first chunk's CRLF
        b"10000000000000005\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["bare-lf", "bare-lf-later", "over-64-bits"],
)
def test_h11_refuses_a_chunk_line_llhttp_refuses(body: bytes) -> None:
    head = b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    with pytest.raises(h11.RemoteProtocolError):
        events(server(), head + body)


def test_sixteen_hex_digits_are_a_chunk_size() -> None:
    head = b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    got = events(server(), head + b"0000000000000005\r\nhello\r\n0\r\n\r\n")
    assert isinstance(got[-1], h11.EndOfMessage)


def test_bytes_after_an_http_10_request_are_dropped() -> None:
    connection = server()
    got = events(connection, b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
    assert [type(e) for e in got] == [h11.Request, h11.EndOfMessage]
    assert connection.their_state is h11.MUST_CLOSE
    assert events(connection, b"more") == []


@pytest.mark.parametrize("value", [b"chunked\t", b"chunked \t", b"chunked\t "])
def test_a_tab_after_the_coding_is_not_implemented(value: bytes) -> None:
    head = b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + value + b"\r\n\r\n0\r\n\r\n"
    with pytest.raises(h11.RemoteProtocolError) as caught:
        events(server(), head)
    assert caught.value.error_status_hint == 501


def test_a_tab_before_the_coding_is_whitespace() -> None:
    head = b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n"
    assert isinstance(events(server(), head)[-1], h11.EndOfMessage)


def test_empty_lines_before_a_request_line_are_skipped() -> None:
    connection = server()
    got = events(connection, b"\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(got[0], h11.Request) and got[0].target == b"/a"


CHUNKED = b"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"


def test_a_trailer_section_is_read() -> None:
    got = events(server(), CHUNKED + b"X-T: 1\r\nX-U: 2\r\n\r\n")
    assert isinstance(got[-1], h11.EndOfMessage)
    assert list(got[-1].headers) == [(b"x-t", b"1"), (b"x-u", b"2")]


def test_a_trailer_section_over_16_kib_is_too_large() -> None:
    with pytest.raises(h11.RemoteProtocolError) as caught:
        events(server(), CHUNKED + b"X-T: " + b"a" * 17_000 + b"\r\n\r\n")
    assert caught.value.error_status_hint == 431


@pytest.mark.parametrize("trailer", [b"X-T: 1\nX-U: 2\r\n\r\n", b"X-T: 1\r\n 2\r\n\r\n"])
def test_a_trailer_line_llhttp_refuses_is_refused(trailer: bytes) -> None:
    with pytest.raises(h11.RemoteProtocolError):
        events(server(), CHUNKED + trailer)
