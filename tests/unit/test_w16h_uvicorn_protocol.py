"""The uvicorn engine's HTTP/1.1 connection (s3proxy.uvicorn_protocol.S3Protocol), wave 16 H.

Trailer fields: llhttp reports one through the same callback as a header, and uvicorn appended
it to the request's header list, which is the list the ASGI scope hands the application. When
the trailer arrived in the same read as the head (a small request sent in one write), the
application saw it as a header: an unsigned ``Content-Type`` or ``Cache-Control`` sent after the
body was stored with the object, an ``x-amz-`` one made the request 403. A trailer is never
merged into the header section (RFC 9110 §6.5.1), as on the Hypercorn engine, and its size
counts on its own (it counted with the head's).

HTTP/1.0 clients (uvicorn_protocol and uvicorn_cycle): their ``Expect: 100-continue`` is ignored
(RFC 9110 §10.1.1, no 1xx to them; uvicorn sent ``100 Continue``, which such a client takes for
the answer), and an answer of unknown length (a listing over 64 KiB) ends with the connection
instead of being chunked (RFC 9112 §6.1), as on Hypercorn."""

from __future__ import annotations

from typing import Any

import pytest

from s3proxy.http_errors import MAX_HEAD_BYTES
from tests.unit.test_uvicorn_engine import app_answering, feed

HEAD = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
TRAILERS = b"Content-Type: text/html\r\nCache-Control: evil\r\nx-amz-meta-late: 1\r\n"


def names(scope: dict[str, Any]) -> list[bytes]:
    return [name for name, _ in scope["headers"]]


def test_trailer_fields_in_the_heads_read_are_not_headers() -> None:
    calls: list[dict[str, Any]] = []
    transport, _ = feed([HEAD + b"5\r\nhello\r\n0\r\n" + TRAILERS + b"\r\n"], app_answering(calls))
    assert names(calls[0]) == [b"host", b"transfer-encoding"]
    reply = b"".join(transport.writes)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"hello")


def test_trailer_fields_in_a_later_read_are_not_headers_either() -> None:
    calls: list[dict[str, Any]] = []
    feed([HEAD, b"5\r\nhello\r\n0\r\n" + TRAILERS + b"\r\n"], app_answering(calls))
    assert names(calls[0]) == [b"host", b"transfer-encoding"]


def test_a_pipelined_request_after_trailers_keeps_its_own_headers() -> None:
    calls: list[dict[str, Any]] = []
    second = b"GET /b HTTP/1.1\r\nHost: h\r\nX-Second: 1\r\n\r\n"
    feed([HEAD + b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + second], app_answering(calls))
    assert [names(scope) for scope in calls] == [
        [b"host", b"transfer-encoding"],
        [b"host", b"x-second"],
    ]


@pytest.mark.parametrize(("trailer_bytes", "served"), [(6_000, True), (MAX_HEAD_BYTES + 1, False)])
def test_trailers_count_on_their_own_against_16_kib(trailer_bytes: int, served: bool) -> None:
    """As on Hypercorn (strict_head.MAX_TRAILER_BYTES): a 12 KB head and 6 KB of trailers were
    one 18 KB section here, 431 on uvicorn and 200 on Hypercorn."""
    head = HEAD.replace(b"\r\n\r\n", b"\r\nX-Filler: " + b"a" * 12_000 + b"\r\n\r\n")
    trailer = b"X-T: " + b"t" * trailer_bytes + b"\r\n"
    transport, _ = feed([head + b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n"])
    reply = b"".join(transport.writes)
    if served:
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply[:200]
    else:
        assert b"<Code>RequestHeaderSectionTooLarge</Code>" in reply


@pytest.mark.parametrize(("version", "continued"), [(b"1.0", False), (b"1.1", True)])
def test_no_100_continue_to_an_http_10_client(version: bytes, continued: bool) -> None:
    head = (
        b"PUT /b/k HTTP/" + version + b"\r\nHost: h\r\nExpect: 100-continue\r\n"
        b"Content-Length: 5\r\n\r\n"
    )
    transport, calls = feed([head, b"hello"])
    reply = b"".join(transport.writes)
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n") == continued, reply[:100]
    assert b"HTTP/1.1 200 OK\r\n" in reply and reply.endswith(b"hello") and len(calls) == 1


async def streaming_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An answer of unknown length, in parts (as a listing over 64 KiB is sent)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"<a>", "more_body": True})
    await send({"type": "http.response.body", "body": b"<b/>", "more_body": True})
    await send({"type": "http.response.body", "body": b"</a>"})


@pytest.mark.parametrize(
    ("version", "head_end", "body"),
    [
        (b"1.0", b"connection: close\r\n\r\n", b"<a><b/></a>"),  # ends with the connection
        (
            b"1.1",
            b"transfer-encoding: chunked\r\n\r\n",
            b"3\r\n<a>\r\n4\r\n<b/>\r\n4\r\n</a>\r\n0\r\n\r\n",
        ),
    ],
)
def test_an_answer_of_unknown_length_is_never_chunked_to_http_10(
    version: bytes, head_end: bytes, body: bytes
) -> None:
    """RFC 9112 §6.1: no Transfer-Encoding in a response to an HTTP/1.0 request (its client
    reads the chunk lines as body bytes); uvicorn chunked it, Hypercorn did not."""
    transport, _ = feed([b"GET /b HTTP/" + version + b"\r\nHost: h\r\n\r\n"], app=streaming_app)
    reply = b"".join(transport.writes)
    head, _, sent = reply.partition(b"\r\n\r\n")
    assert (head + b"\r\n\r\n").endswith(head_end), reply
    assert sent == body
    assert transport.closed == (version == b"1.0")
