"""A connection whose request head has been arriving for longer than the grace
(s3proxy.connection_owners.GRACE) gives way to a new connection at the bound, as an idle one
does (wave 16 T). It counted as busy, and both engines close it only at the keep-alive timeout
(75 s), so a client trickling request heads (slowloris: a header line every few seconds, no
credentials) held every connection up to the bound, and behind a load balancer every tenant's
new connection was refused 503. A stalled head is never a request half-processed: only a
connection with no request dispatched to the app is taken. The clock is driven
(``time.monotonic``, which the event loop reads), as in test_w16r4_grace.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import h11
import pytest

from s3proxy.connection_owners import BUSY, GRACE, HypercornConnection
from s3proxy.connections import ConnectionCounts
from s3proxy.hypercorn_closing import IdleTimer, note_head_start
from tests.unit.test_uvicorn_engine import connect, settle


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


def test_uvicorn_a_stalled_head_gives_way_after_the_grace(clock: Clock) -> None:
    calls: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> None:
        counts = ConnectionCounts(total=1, per_client=1)
        protocol, transport = connect(app, counts)
        clock.now += 30  # idle a while, then a head begins and stalls
        protocol.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        await settle()
        # Its head has just begun: never taken, however long the connection was idle before.
        second, refused = connect(app, counts)
        assert b"503 Service Unavailable" in b"".join(refused.writes), "taken mid-head at once"
        assert not transport.closed
        second.connection_lost(None)
        clock.now += GRACE + 0.1
        protocol.data_received(b"X-Slow: 1\r\n")  # a header line now and then: still a head
        await settle()
        third, admitted = connect(app, counts)
        assert admitted.writes == [], "a head stalled past the grace held the last connection"
        assert transport.closed and calls == []  # nothing was dispatched to the app
        third.connection_lost(None)
        protocol.connection_lost(None)

    asyncio.run(run())


def test_uvicorn_a_dispatched_request_is_never_taken(clock: Clock) -> None:
    finish = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await finish.wait()  # the request is in the handler
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> None:
        counts = ConnectionCounts(total=1, per_client=1)
        protocol, transport = connect(app, counts)
        # A request in the handler, and the next one's head pipelined behind it, stalled.
        protocol.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n")
        await settle()
        clock.now += 30
        assert counts.owners.idle_one(None) is None
        second, refused = connect(app, counts)
        assert b"503 Service Unavailable" in b"".join(refused.writes)
        assert not transport.closed
        second.connection_lost(None)
        finish.set()
        await settle()
        protocol.connection_lost(None)

    asyncio.run(run())


class _Server:
    """What HypercornConnection and note_head_start read of Hypercorn's TCPServer."""

    def __init__(self) -> None:
        self.config = type("Config", (), {"keep_alive_timeout": 5.0})()
        self.context = type("Context", (), {"terminated": asyncio.Event()})()
        self.idle_task = IdleTimer(self)
        self.h11 = h11.Connection(h11.SERVER)
        self.protocol = type("Wrapper", (), {"protocol": type("H11", (), {})()})()
        self.protocol.protocol.connection = self.h11

    def receive(self, data: bytes) -> None:
        note_head_start(self)  # as the patched read loop does before handing a read to h11
        self.h11.receive_data(data)
        while self.h11.next_event() not in (h11.NEED_DATA, h11.PAUSED):
            pass


def test_hypercorn_a_stalled_head_is_takeable_after_the_grace(clock: Clock) -> None:
    async def run() -> None:
        server = _Server()
        connection = HypercornConnection(server)
        await server.idle_task.restart(None)
        clock.now += 30
        server.receive(b"GET /a HTTP/1.1\r\nHost: h\r\n")  # h11 keeps it: no Request yet
        assert server.h11.their_state is h11.IDLE
        assert connection.idle_for() == pytest.approx(0.0)  # counted from the head's start
        clock.now += GRACE + 0.1
        server.receive(b"X-Slow: 1\r\n")
        assert connection.idle_for() == pytest.approx(GRACE + 0.1)
        server.receive(b"\r\n")  # the head is whole: a request for the app
        assert server.h11.their_state is not h11.IDLE
        assert connection.idle_for() == BUSY
        await server.idle_task.stop()

    asyncio.run(run())


def test_hypercorn_a_pipelined_head_counts_from_the_answers_end(clock: Clock) -> None:
    async def run() -> None:
        server = _Server()
        connection = HypercornConnection(server)
        await server.idle_task.restart(None)
        server.receive(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n")
        clock.now += 30  # request /a answered after 30 s, /b's head still half there
        server.h11.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
        server.h11.send(h11.EndOfMessage())
        server.h11.start_next_cycle()
        await server.idle_task.restart(None)  # Hypercorn restarts it at the answer's end
        assert connection.idle_for() == pytest.approx(0.0)
        clock.now += GRACE + 0.1
        assert connection.idle_for() == pytest.approx(GRACE + 0.1)
        await server.idle_task.stop()

    asyncio.run(run())
