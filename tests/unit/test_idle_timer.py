"""Hypercorn's keep-alive timeout on a timer handle (hypercorn_patch.IdleTimer) keeps its
meaning: an idle connection is closed after ``keep_alive_timeout``, one with a request in
progress is not, and stopping the server closes idle connections at once. Run on a real
Hypercorn server on loopback, on both event loops."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from s3proxy import event_loop, hypercorn_patch

LOOPS = ["asyncio", *(["uvloop"] if event_loop.uvloop_available() else [])]
REQUEST = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(float(scope["query_string"] or b"0"))
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def with_server(keep_alive: float, client: Callable[[int], Awaitable[Any]]) -> Any:
    """Run ``client(port)`` against a patched Hypercorn serving :func:`app`, then stop it;
    returns (client's result, seconds the server took to stop)."""
    hypercorn_patch.install()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # Hypercorn closes it when it stops
    config.keep_alive_timeout = keep_alive
    config.graceful_timeout = 15  # what an idle connection the stop missed would hold it for
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        result = await client(port)
    finally:
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(server, 20)
    return result, time.monotonic() - started


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    writer.write(REQUEST.replace(b"/x", path.encode()))
    head = await reader.readuntil(b"\r\n\r\n")
    return head + await reader.readexactly(2)


async def read_until_closed(reader: asyncio.StreamReader, deadline: float) -> bytes:
    return await asyncio.wait_for(reader.read(), deadline)


@pytest.mark.parametrize("loop", LOOPS)
def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(loop: str) -> None:
    async def client(port: int) -> tuple[bytes, bytes, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await exchange(reader, writer, "/x")
        idle_from = time.monotonic()
        rest = await read_until_closed(reader, 10)  # EOF: the server closed it
        writer.close()
        return answer, rest, time.monotonic() - idle_from

    (answer, rest, idle), _ = event_loop.run(with_server(0.3, client), loop)  # type: ignore[arg-type]
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
    assert rest == b""
    assert 0.25 <= idle < 5


@pytest.mark.parametrize("loop", LOOPS)
def test_a_request_in_progress_outlives_the_keep_alive_timeout(loop: str) -> None:
    async def client(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = [await exchange(reader, writer, "/x")]
        # The answer takes three keep-alive timeouts: the timer must not run during it.
        answers.append(await exchange(reader, writer, "/slow?0.6"))
        answers.append(await exchange(reader, writer, "/x"))  # and it restarts after it
        writer.close()
        return answers

    answers, _ = event_loop.run(with_server(0.2, client), loop)  # type: ignore[arg-type]
    assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 3


@pytest.mark.parametrize("loop", LOOPS)
def test_stopping_the_server_closes_idle_connections_at_once(loop: str) -> None:
    async def client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await exchange(reader, writer, "/x")
        return reader, writer

    async def run() -> tuple[bytes, float]:
        (reader, writer), stopped_in = await with_server(60, client)
        rest = await read_until_closed(reader, 5)
        writer.close()
        return rest, stopped_in

    rest, stopped_in = event_loop.run(run(), loop)  # type: ignore[arg-type]
    assert rest == b""
    assert stopped_in < 5  # neither the 60 s keep-alive nor the 15 s graceful timeout
