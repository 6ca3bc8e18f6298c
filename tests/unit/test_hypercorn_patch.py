"""What the Hypercorn adjustments put on the wire, driven through the patched send path."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import h11
import pytest
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.protocol.events import Body, EndBody, Response
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream

from s3proxy import hypercorn_closing, hypercorn_patch
from s3proxy.hypercorn_patch import add_informational_reasons


class _Connection:
    """The two attributes of an H11Protocol that the send path uses."""

    def __init__(self) -> None:
        self.connection = h11.Connection(h11.SERVER)
        self.connection.receive_data(b"GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n")
        assert isinstance(self.connection.next_event(), h11.Request)
        self.writes: list[bytes] = []

    async def send(self, event: Any) -> None:
        assert isinstance(event, RawData)
        self.writes.append(event.data)


def _send(protocol: _Connection, *events: Any) -> None:
    add_informational_reasons()

    async def run() -> None:
        for event in events:
            await H11Protocol._send_h11_event(protocol, event)  # type: ignore[arg-type]

    asyncio.run(run())


def test_a_small_response_leaves_in_one_write_head_first() -> None:
    protocol = _Connection()
    head = h11.Response(status_code=200, headers=[(b"content-length", b"4")])
    _send(protocol, head, h11.Data(data=b"body"), h11.EndOfMessage())
    first = protocol.writes[0]
    assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"\r\n\r\nbody")
    assert b"".join(protocol.writes[1:]) == b""  # nothing else but empty framing


def test_a_response_without_body_is_written_at_its_end() -> None:
    protocol = _Connection()
    _send(protocol, h11.Response(status_code=204, headers=[]), h11.EndOfMessage())
    assert len(protocol.writes) == 1 and protocol.writes[0].startswith(b"HTTP/1.1 204 ")


def test_informational_responses_carry_their_reason() -> None:
    protocol = _Connection()
    _send(protocol, h11.InformationalResponse(status_code=100, headers=[]))
    assert protocol.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_every_status_line_carries_its_reason() -> None:
    for status, line in [(200, b"HTTP/1.1 200 OK\r\n"), (404, b"HTTP/1.1 404 Not Found\r\n")]:
        protocol = _Connection()
        _send(protocol, h11.Response(status_code=status, headers=[]), h11.EndOfMessage())
        assert protocol.writes[0].startswith(line)


def test_the_reason_keeps_every_header_as_sent() -> None:
    protocol = _Connection()
    headers = [(b"ETag", b'"abc"'), (b"x-amz-meta-Mixed", b"V a l"), (b"content-length", b"2")]
    _send(protocol, h11.Response(status_code=206, headers=headers), h11.Data(data=b"ok"))
    head = protocol.writes[0]
    assert head.startswith(b"HTTP/1.1 206 Partial Content\r\n")
    # names lower-case (as since the first reason patch), values untouched, in the given order
    assert b'etag: "abc"\r\nx-amz-meta-mixed: V a l\r\ncontent-length: 2\r\n' in head


def test_a_status_http_does_not_name_still_has_three_words() -> None:
    protocol = _Connection()
    _send(protocol, h11.Response(status_code=599, headers=[]), h11.EndOfMessage())
    assert protocol.writes[0].startswith(b"HTTP/1.1 599 Unknown\r\n")


class _Refusing(_Connection):
    """An H11Protocol stand-in for the error paths: records what it sends, and whether a stream
    was created or the connection closed."""

    def __init__(self, head: bytes) -> None:
        self.connection = h11.Connection(h11.SERVER)
        self.connection.receive_data(head)
        event = self.connection.next_event()
        assert isinstance(event, h11.Request)
        self.request = event
        self.writes = []
        self.closed = False
        self.config = Config()  # h11_max_incomplete_size: 16 KiB

    async def send(self, event: Any) -> None:
        if isinstance(event, Closed):
            self.closed = True
        else:
            await super().send(event)


def _error_document(data: bytes) -> tuple[bytes, ET.Element]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], ET.fromstring(body)


@pytest.mark.parametrize(
    ("status", "line", "code"),
    [
        (400, b"HTTP/1.1 400 Bad Request", "InvalidRequest"),
        (431, b"HTTP/1.1 400 Bad Request", "RequestHeaderSectionTooLarge"),
        (501, b"HTTP/1.1 501 Not Implemented", "NotImplemented"),
    ],
)
def test_errors_below_the_s3_layer_are_s3_documents(status: int, line: bytes, code: str) -> None:
    hypercorn_patch.install()
    protocol = _Refusing(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")

    asyncio.run(H11Protocol._send_error_response(protocol, status))  # type: ignore[arg-type]
    status_line, document = _error_document(b"".join(protocol.writes))
    assert status_line == line
    assert document.findtext("Code") == code
    assert document.findtext("RequestId")


def test_content_length_with_transfer_encoding_never_reaches_the_application() -> None:
    """strict_head's reader refuses such a head before h11 parses it (test_w18i2_one_reading);
    this guard stays behind it, for a head parsed without that reader."""
    hypercorn_patch.install()
    protocol = _Refusing(b"PUT /b/k HTTP/1.1\r\nHost: x\r\n\r\n")
    framing = [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
    request = h11.Request(method="PUT", target="/b/k", headers=[("Host", "x"), *framing])
    asyncio.run(H11Protocol._create_stream(protocol, request))  # type: ignore[arg-type]
    status_line, document = _error_document(b"".join(protocol.writes))
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert document.findtext("Code") == "InvalidRequest"
    assert protocol.closed
    assert not hasattr(protocol, "stream")  # no stream: the application never ran


class _Stream:
    """An HTTPStream stand-in: the events its error path sends."""

    stream_id = 1
    state = None

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def send(self, event: Any) -> None:
        self.events.append(event)


def test_an_application_that_never_answered_gets_an_s3_internal_error() -> None:
    hypercorn_patch.install()
    stream = _Stream()
    asyncio.run(HTTPStream._send_error_response(stream, 500))  # type: ignore[arg-type]
    response, body, end = stream.events
    assert isinstance(response, Response) and response.status_code == 500
    assert (b"content-type", b"application/xml") in response.headers
    assert isinstance(body, Body) and ET.fromstring(body.data).findtext("Code") == "InternalError"
    assert isinstance(end, EndBody)
    assert stream.state is ASGIHTTPState.CLOSED


def test_a_header_section_over_the_limit_is_refused_even_when_it_came_in_one_read() -> None:
    hypercorn_patch.install()
    filler = b"a" * (16 * 1024)
    protocol = _Refusing(b"GET /b HTTP/1.1\r\nHost: x\r\nX-Filler: " + filler + b"\r\n\r\n")
    asyncio.run(H11Protocol._create_stream(protocol, protocol.request))  # type: ignore[arg-type]
    status_line, document = _error_document(b"".join(protocol.writes))
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert document.findtext("Code") == "RequestHeaderSectionTooLarge"
    assert protocol.closed and not hasattr(protocol, "stream")


def test_disconnect_never_waits_behind_unread_body_messages() -> None:
    """An application that answered without reading its body (the upstream died mid-PUT) has a
    full receive queue; the disconnect that ends its request must not wait for room in it
    (that wait was the application's own last send: the request hung), and Hypercorn's reader,
    waiting to add one more body message, must get room too."""
    from hypercorn.asyncio.task_group import TaskGroup

    hypercorn_patch.disconnect_without_waiting()
    config = Config()
    config.max_app_queue_size = 4
    received: list[dict[str, Any]] = []

    async def run() -> None:
        answered = asyncio.Event()
        finish = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any, *_: Any) -> None:
            answered.set()  # answers without reading the body
            await finish.wait()
            while not received or received[-1]["type"] != "http.disconnect":
                received.append(await receive())

        async def send(message: Any) -> None:
            return None

        async with TaskGroup(asyncio.get_running_loop()) as group:
            put: Any = await group.spawn_app(app, config, {"type": "http"}, send)  # type: ignore[arg-type]
            await answered.wait()
            body = {"type": "http.request", "body": b"x", "more_body": True}
            for _ in range(4):
                await put(body)
            reader: asyncio.Task[None] = asyncio.create_task(put(body))  # Hypercorn's reader
            await asyncio.sleep(0)
            assert not reader.done()
            await put({"type": "http.disconnect"})  # returns: it never waits
            await reader
            finish.set()

    asyncio.run(asyncio.wait_for(run(), 10))
    assert received[0] == {"type": "http.disconnect"}


class _Refuser:
    """An ASGI application that answers every request 404 at once, without reading its body
    (an upload refused early), and records when its request task has returned."""

    def __init__(self, *, reads: bool = False) -> None:
        self.reads = reads  # reads its body instead, to its end or the disconnect
        self.returned = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        try:
            if self.reads:
                while (await receive())["type"] != "http.disconnect":
                    pass
                return
            headers = [(b"content-length", b"7")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": b"refused"})
        finally:
            self.returned.set()


REFUSED_PUT = b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"


async def _lingering_exchange(
    grace: float, request: bytes = REFUSED_PUT, app: _Refuser | None = None
) -> tuple[_Refuser, asyncio.Task[None], asyncio.Event, asyncio.StreamWriter, bytes]:
    """A Hypercorn server (every patch installed, ``graceful_timeout`` ``grace``) and one
    connection whose ``request`` was answered before its body ended (by default a PUT of 1 MiB
    answered before any body byte was sent); the answer as the client read it up to the
    server's FIN."""
    import socket

    from hypercorn.asyncio import serve

    hypercorn_patch.install()
    listener = socket.create_server(("127.0.0.1", 0))
    config = Config()
    address = listener.getsockname()
    config.bind = [f"fd://{listener.detach()}"]  # Hypercorn's own socket, closed by Hypercorn
    config.graceful_timeout = grace
    config.accesslog = config.errorlog = None
    app, stop = app or _Refuser(), asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    reader, writer = await asyncio.open_connection(sock=socket.create_connection(address))
    writer.write(request)
    answer = await reader.read()  # to the server's FIN: it has answered and half-closed
    return app, server, stop, writer, answer


def test_a_connection_answered_before_its_body_reads_the_rest_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lingering (s3proxy.connection_writer.LINGER_SECONDS, made long here): the request's task
    has returned (no slot held), the client's remaining body is read and dropped (h11, whose
    request is over, never sees it) and the connection ends when the client closes."""

    async def run() -> None:
        app, server, stop, writer, answer = await _lingering_exchange(grace=30)
        assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert answer.endswith(b"refused")
        await asyncio.wait_for(app.returned.wait(), 10)  # while the connection lingers
        for _ in range(16):  # the whole body: a closed socket would reset this
            writer.write(b"x" * 65536)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        stop.set()
        await server

    monkeypatch.setattr(hypercorn_closing, "LINGER_SECONDS", 600)
    asyncio.run(asyncio.wait_for(run(), 20))


def test_a_lingering_connection_never_delays_shutdown_past_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client that neither sends its body nor closes: the server stops within its
    ``graceful_timeout`` (server.shutdown_timeout), not after the linger."""

    async def run() -> None:
        _, server, stop, writer, answer = await _lingering_exchange(grace=0.1)
        assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
        stop.set()
        await asyncio.wait_for(server, 10)  # the linger alone would last 600 s
        writer.close()

    monkeypatch.setattr(hypercorn_closing, "LINGER_SECONDS", 600)
    asyncio.run(asyncio.wait_for(run(), 20))


def test_a_request_cut_while_reading_its_body_ends_before_the_linger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """h11 refuses a bad chunk while the application reads the body: the error goes out, the
    connection lingers, and the application gets its ``http.disconnect`` at once (its request
    slot is not held for the linger)."""
    request = (
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
    )

    async def run() -> None:
        app, server, stop, writer, answer = await _lingering_exchange(
            grace=30, request=request, app=_Refuser(reads=True)
        )
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        await asyncio.wait_for(app.returned.wait(), 10)  # while the connection lingers
        writer.write(b"x" * 65536)  # still read away
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        stop.set()
        await server

    monkeypatch.setattr(hypercorn_closing, "LINGER_SECONDS", 600)
    asyncio.run(asyncio.wait_for(run(), 20))
