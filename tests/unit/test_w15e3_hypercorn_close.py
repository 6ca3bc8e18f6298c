"""A request head cut by the server's own close is not a 400 (wave 15, E3): on the Hypercorn
engine, a connection holding half a request head when the server stopped (SIGTERM) or its
keep-alive timeout passed was closed, the end of input fed to h11, and h11's "incomplete
message" answered with a 400 InvalidRequest into the closed socket and logged with an access
line: a refusal no client ever received (the uvicorn engine logs nothing). A client that ends
its own input after half a head still reads its 400. Real Hypercorn on loopback."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from s3proxy import event_loop
from tests.unit.test_idle_timer import with_server

HALF_HEAD = b"GET /x HTTP/1.1\r\nHost: t\r\nX-Half: "


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "s3proxy.access"]


def test_a_half_head_at_shutdown_is_neither_answered_nor_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_HEAD)
        await writer.drain()
        await asyncio.sleep(0.1)  # the server has read it (no event to wait on: it is idle)
        return reader, writer

    async def main() -> bytes:
        (reader, writer), _ = await with_server(30, client)  # stops the server
        rest: bytes = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return rest

    with caplog.at_level(logging.INFO, logger="s3proxy.access"):
        assert event_loop.run(main(), "asyncio") == b""
    assert _access_lines(caplog) == []


def test_a_half_head_at_the_keep_alive_timeout_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_HEAD)
        rest = await asyncio.wait_for(reader.read(), 10)  # closed after 0.3 s
        writer.close()
        return rest

    with caplog.at_level(logging.INFO, logger="s3proxy.access"):
        result: Any = event_loop.run(with_server(0.3, client), "asyncio")
    assert result[0] == b""
    assert _access_lines(caplog) == []


def test_a_client_that_ends_its_input_mid_head_still_reads_its_400(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_HEAD)
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return rest

    with caplog.at_level(logging.INFO, logger="s3proxy.access"):
        result: Any = event_loop.run(with_server(30, client), "asyncio")
    assert result[0].startswith(b"HTTP/1.1 400")
    assert len(_access_lines(caplog)) == 1
