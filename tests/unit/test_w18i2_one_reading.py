"""One answer on both engines for malformed framing (wave 18, I2): the uvicorn engine's
connection (s3proxy.uvicorn_protocol.S3Protocol over llhttp) and Hypercorn's h11 with
s3proxy.strict_head are given the same bytes and must answer them alike: status, S3 code and
message, or both serve the request.

Before: a zero-padded Content-Length over 20 characters was served on uvicorn and 400 on
Hypercorn; a zero-padded chunk size over 16 hex digits the other way round; Content-Length then
``Transfer-Encoding: identity`` was 400 on uvicorn and 501 on Hypercorn; a request start no method
begins with (``XYZ``) was refused at once on uvicorn and waited for on Hypercorn; ``FOO `` after
another request in the same read was 400 on uvicorn and 405 on Hypercorn."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

import h11
import httptools
import pytest

from s3proxy import strict_head
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import AMBIGUOUS_FRAMING, below_s3_error
from tests.unit.test_uvicorn_engine import feed
from tests.unit.test_w11d_strict_head import events, server
from tests.unit.test_w16h_one_reading import h11_reads, llhttp_reads

SERVED = (200, None, None)
Answer = tuple[int, str | None, str | None]


def uvicorn_answer(*pieces: bytes) -> Answer:
    """Status, code and message of the uvicorn engine's first error answer, or SERVED."""
    transport, _ = feed(list(pieces))
    reply = b"".join(transport.writes)
    for part in reply.split(b"HTTP/1.1 ")[1:]:
        head, _, body = part.partition(b"\r\n\r\n")
        if body.startswith(b"<?xml"):
            error = ET.fromstring(body)
            return int(head.split()[0]), error.findtext("Code"), error.findtext("Message")
    return SERVED


def hypercorn_answer(*pieces: bytes) -> Answer:
    """What Hypercorn answers for an h11 refusal (hypercorn_refusals.connection_error) or for
    a parsed head its guarded_create_stream refuses (framing, method), or SERVED once h11 has
    read every request whole."""
    connection = server()
    try:
        for piece in pieces:
            got = events(connection, piece)
            while True:  # every request's head is judged, pipelined ones too (review R4)
                refusal = _head_refusal(got)
                if refusal is not None:
                    return refusal
                if not (got and isinstance(got[-1], h11.EndOfMessage)):
                    break
                connection.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                connection.send(h11.EndOfMessage())
                connection.start_next_cycle()
                got = []
                while (event := connection.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
                    got.append(event)
    except h11.RemoteProtocolError as refused:
        hint = refused.error_status_hint
        error = getattr(hint, "error", None) or below_s3_error(hint)  # strict_head.Refusal
        return answer_of(error)
    return SERVED


def _head_refusal(got: list[object]) -> Answer | None:
    """guarded_create_stream's refusal of a parsed head among ``got`` (framing, method)."""
    for event in got:
        if not isinstance(event, h11.Request):
            continue
        names = {name for name, _ in event.headers}
        if {b"content-length", b"transfer-encoding"} <= names:
            return answer_of(S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING))
        if strict_head.unknown_method(event.method):
            return answer_of(S3Error(S3ErrorCode.MethodNotAllowed))
    return None


def answer_of(error: S3Error) -> Answer:
    return error.status, error.code.name, error.message


HEAD = b"PUT /b/k HTTP/1.1\r\nHost: h\r\n"
FRAMING = [
    b"Content-Length: 5",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: identity",
    b"Transfer-Encoding: gzip, chunked",
    b"transfer-encoding: Chunked",
]


@pytest.mark.parametrize(
    "fields",
    [list(pair) for pair in itertools.product(FRAMING, repeat=2) if pair != (FRAMING[0],) * 2]
    + [list(triple) for triple in itertools.permutations(FRAMING[:3])],
    ids=str,
)
def test_framing_headers_get_one_answer_on_both_engines(fields: list[bytes]) -> None:
    body = b"5\r\nhello\r\n0\r\n\r\n" if any(b"chunked" in f.lower() for f in fields) else b"hello"
    data = HEAD + b"".join(field + b"\r\n" for field in fields) + b"\r\n" + body
    assert hypercorn_answer(data) == uvicorn_answer(data)


def test_content_length_then_identity_is_ambiguous_framing_on_both() -> None:
    data = HEAD + b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello"
    assert hypercorn_answer(data)[:2] == uvicorn_answer(data)[:2] == (400, "InvalidRequest")


@pytest.mark.parametrize("zeros", [0, 15, 19, 20, 21, 100, 5000])
def test_a_zero_padded_content_length_gets_one_answer_on_both_engines(zeros: int) -> None:
    data = HEAD + b"Content-Length: " + b"0" * zeros + b"5\r\n\r\nhello"
    expected = SERVED if zeros < 20 else (400, "InvalidRequest")
    assert hypercorn_answer(data)[:2] == uvicorn_answer(data)[:2] == expected[:2]


@pytest.mark.parametrize("zeros", [0, 1, 15, 16, 19, 20, 100])
def test_a_zero_padded_chunk_size_is_read_by_its_value_as_llhttp_reads_it(zeros: int) -> None:
    padded = b"0" * zeros
    body = padded + b"5\r\nhello\r\n" + padded + b"0\r\n\r\n"
    assert h11_reads(body) == llhttp_reads(body) == b"hello"


@pytest.mark.parametrize("size", [b"1" + b"0" * 16, b"000" + b"f" * 17])
def test_a_chunk_size_over_64_bits_after_its_zeros_is_refused_on_both(size: bytes) -> None:
    body = size + b"\r\nhello\r\n0\r\n\r\n"
    assert h11_reads(body) is llhttp_reads(body) is None


def llhttp_refuses_start(start: bytes) -> bool:
    """Whether llhttp refuses a request beginning with ``start`` before it has more."""

    class Callbacks:
        pass

    try:
        httptools.HttpRequestParser(Callbacks()).feed_data(start)
    except httptools.HttpParserError:
        return True
    return False


STARTS = [
    b"G", b"GE", b"GET", b"GET ", b"GETX", b"get", b"XYZ", b"}", b"\x00", b"FOO", b"FOO ",
    b"DE", b"DES", b"DESCRIBE ", b"PRI", b"PRI ", b"M-SEARCH ", b"M-", b"UNSUBSCRIBE ",
    b"UNSUBSCRIBEX", b"PUT-", b"-", b"PUTT ", b"QUERY ",
]  # fmt: skip


def test_a_request_start_is_refused_when_llhttp_refuses_it() -> None:
    """unreadable_start (Hypercorn, before a head is whole) refuses just what llhttp refuses
    at once, with the code the uvicorn engine answers (405 for an unknown token and a space)."""
    rng = random.Random(18)
    alphabet = b"GETPUSHACLDMQRK-}gx "
    starts = STARTS + [
        bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)
    ]
    for start in starts:
        start = start[: start.find(b" ") + 1] if b" " in start else start  # the method only
        early = strict_head.unreadable_start(start)
        assert (early is not None) == llhttp_refuses_start(start), start
        if early is not None:
            word, space, _ = start.partition(b" ")
            expected = 405 if space and strict_head.unknown_method(word) else 400
            assert early.status == expected, start


@pytest.mark.parametrize(
    ("stray", "status"),
    [(b"XYZ", 400), (b"}}", 400), (b"get", 400), (b"FOO ", 405), (b"\r\nFOO /x", 405)],
)
def test_stray_bytes_after_a_request_get_one_answer_on_both_engines(
    stray: bytes, status: int
) -> None:
    data = HEAD + b"Content-Length: 5\r\n\r\nhello" + stray
    assert hypercorn_answer(data) == uvicorn_answer(data)
    assert hypercorn_answer(data)[0] == status


def test_an_unknown_method_begun_in_one_read_and_ended_in_the_next_is_405_on_both() -> None:
    """uvicorn read the method only from a read's first bytes: ``DE`` then ``SCRIBE /x`` was
    400 there and 405 on Hypercorn."""
    pieces = (b"DE", b"SCRIBE /x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert hypercorn_answer(*pieces)[:2] == uvicorn_answer(*pieces)[:2] == (405, "MethodNotAllowed")


def test_a_pipelined_request_with_an_unknown_method_is_405_on_both() -> None:
    """The harness judges every pipelined request's head on the Hypercorn side, not only the
    first read's (review R4: a refused second request counted as served there)."""
    data = (
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        b"FOO /b/k HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    assert hypercorn_answer(data)[:2] == uvicorn_answer(data)[:2] == (405, "MethodNotAllowed")
