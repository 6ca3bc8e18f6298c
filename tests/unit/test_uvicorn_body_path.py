"""The uvicorn engine's request-body path (``S3Protocol.body_received``): reads inside a
Content-Length body reach the application as the same bytes objects, without the parser; the
read that ends the body ends the request, and what follows it is parsed as the next one."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.unit.test_uvicorn_engine import RecordingTransport, connect, settle


def recording_app(received: list[list[bytes]], *, read_body: bool = True) -> Any:
    """Answers each request with the count of body bytes it read (keeping each message's
    body object as received)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        parts: list[bytes] = []
        received.append(parts)
        more = read_body
        while more:
            message = await receive()
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = str(sum(map(len, parts))).encode()
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": body})

    return app


def run(pieces: list[bytes], app: Any) -> RecordingTransport:
    async def go() -> RecordingTransport:
        protocol, transport = connect(app)
        for piece in pieces:
            protocol.data_received(piece)
            await settle()
        return transport

    return asyncio.run(go())


def put_head(length: int) -> bytes:
    return b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % length


GET = b"GET /b/k HTTP/1.1\r\nHost: h\r\n\r\n"


def test_reads_inside_the_body_reach_the_app_uncopied_and_a_pipelined_request_follows() -> None:
    first, middle, last = b"a" * 1000, b"b" * 300_000, b"c" * 5
    body = first + middle + last
    received: list[list[bytes]] = []
    transport = run([put_head(len(body)) + first, middle, last + GET], recording_app(received))
    assert [b"".join(parts) for parts in received] == [body, b""]
    assert any(part is middle for part in received[0])  # handed on as it came
    reply = b"".join(transport.writes)
    assert reply.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert b"\r\n\r\n" + str(len(body)).encode() + b"HTTP/1.1 200 OK\r\n" in reply
    assert reply.endswith(b"\r\n\r\n0")


def test_a_read_ending_exactly_at_the_body_end_then_the_next_request() -> None:
    body = b"x" * 200_000
    received: list[list[bytes]] = []
    transport = run([put_head(len(body)) + body[:10], body[10:], GET, GET], recording_app(received))
    assert [b"".join(parts) for parts in received] == [body, b"", b""]
    assert b"".join(transport.writes).count(b"HTTP/1.1 200 OK\r\n") == 3
    assert not transport.closed


def test_a_body_answered_before_it_was_read_is_skipped_to_the_next_request() -> None:
    """The application answers without reading: the rest of the body is still counted (and
    dropped), and the request after it is served."""
    body = b"y" * 100_000
    received: list[list[bytes]] = []
    transport = run(
        [put_head(len(body)) + body[:1000], body[1000:50_000], body[50_000:] + GET],
        recording_app(received, read_body=False),
    )
    assert len(received) == 2
    assert b"".join(transport.writes).count(b"HTTP/1.1 200 OK\r\n") == 2


def test_a_chunked_body_stays_with_the_parser() -> None:
    head = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    received: list[list[bytes]] = []
    transport = run(
        [head + b"5\r\nhel", b"lo\r\n3\r\nabc\r\n", b"0\r\n\r\n" + GET], recording_app(received)
    )
    assert [b"".join(parts) for parts in received] == [b"helloabc", b""]
    assert b"".join(transport.writes).count(b"HTTP/1.1 200 OK\r\n") == 2
