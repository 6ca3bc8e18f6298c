"""A connection's grace (s3proxy.connection_owners.GRACE) runs from when its answer ended (wave
16 R4). It ran from app.py's note of the request, made before the answer was streamed, so a
connection whose long answer (a slow reader's download) had just ended could be taken at once,
when its client was about to send the next request on it (the integration proof:
tests/integration/test_w16r3_grace_after_answer.py, which needed 1.5 s of a real clock). Here
the clock is driven: ``time.monotonic``, which the event loop and the module read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import h11
import pytest

from s3proxy import connection_owners
from s3proxy.connection_owners import HypercornConnection
from s3proxy.connections import ConnectionCounts
from s3proxy.hypercorn_closing import IdleTimer
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


def test_uvicorn_a_long_answer_starts_its_grace_when_it_ends(clock: Clock) -> None:
    answered = asyncio.Event()
    finish = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        # app.py notes the request here, once the handler returned, before the body streams
        connection_owners.used_by(scope.get("client"), "alice")
        head = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await finish.wait()  # a long answer: the client reads slowly
        await send({"type": "http.response.body", "body": b"data"})
        answered.set()

    async def run() -> None:
        counts = ConnectionCounts(total=1, per_client=1)
        protocol, transport = connect(app, counts)
        protocol.data_received(b"GET /docs/big HTTP/1.1\r\nHost: h\r\n\r\n")
        await settle()
        clock.now += 30  # thirty seconds of answer
        assert counts.owners.idle_one(None) is None  # answering: never taken
        finish.set()
        await settle()
        assert answered.is_set() and b"".join(transport.writes).endswith(b"data")
        # The answer has just ended: a new connection at the bound does not take this one.
        second, refused = connect(app, counts)
        assert b"503 Service Unavailable" in b"".join(refused.writes), "taken right after"
        assert not transport.closed
        second.connection_lost(None)
        clock.now += connection_owners.GRACE + 0.1  # idle past the grace: it may give way
        third, admitted = connect(app, counts)
        assert admitted.writes == [] and transport.closed
        third.connection_lost(None)
        protocol.connection_lost(None)

    asyncio.run(run())


def test_hypercorn_idle_for_runs_from_the_idle_timers_restart(clock: Clock) -> None:
    """Hypercorn restarts its idle timer when an answer ends (h11's ``Updated(idle=True)``)."""

    class Config:
        keep_alive_timeout = 5.0

    class Server:
        config = Config()
        context = type("Context", (), {"terminated": asyncio.Event()})()

    async def run() -> None:
        server: Any = Server()
        server.idle_task = IdleTimer(server)
        server.protocol = None
        connection = HypercornConnection(server)
        assert connection.idle_for() == connection_owners.BUSY  # no timer: a request in progress
        await server.idle_task.restart(None)
        # h11 is not idle in this fake: still busy, whatever the timer says
        assert connection.idle_for() == connection_owners.BUSY
        h11_connection = _IdleH11()
        server.protocol = type("Wrapper", (), {"protocol": h11_connection})()
        clock.now += 0.25
        assert connection.idle_for() == pytest.approx(0.25)
        await server.idle_task.restart(None)  # the next answer ended
        assert connection.idle_for() == pytest.approx(0.0)
        await server.idle_task.stop()

    asyncio.run(run())


class _IdleH11:
    """What HypercornConnection reads of Hypercorn's h11 protocol: an idle h11 connection."""

    def __init__(self) -> None:
        self.connection = h11.Connection(h11.SERVER)
