"""An upstream error answer whose body breaks off, or trickles, is an upstream that failed
(wave 11 E): 503 ServiceUnavailable, never the 500 InternalError of an exception nobody caught,
and never a client request held while 64 KiB arrive a byte at a time. Each upstream is a real
asyncio server scripted byte by byte. The native client (the default) reads an error body to
its end or 64 KiB; the aiohttp client's read gives what has arrived, so it never waits on a
trickle and takes the code it got."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest

from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
HEAD_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100000\r\n\r\n"
HEAD_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 100000\r\n\r\n"
START = b"<Error><Code>InternalError</Code><Message>"


async def _request(reader: Reader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))


def cut(head: bytes) -> Callable[[Reader, Writer], Awaitable[None]]:
    async def script(reader: Reader, writer: Writer) -> None:
        await _request(reader)
        writer.write(head + START)
        await writer.drain()
        writer.close()

    return script


def reset(head: bytes) -> Callable[[Reader, Writer], Awaitable[None]]:
    async def script(reader: Reader, writer: Writer) -> None:
        await _request(reader)
        writer.write(head + START)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return script


async def trickle(reader: Reader, writer: Writer) -> None:
    """A byte every 50 ms: progress for a per-read timer, for ever for the client."""
    await _request(reader)
    writer.write(HEAD_500 + START)
    try:
        for _ in range(100_000):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)
    except OSError:
        pass


SCRIPTS = {
    "500-cut": cut(HEAD_500),
    "500-reset": reset(HEAD_500),
    "404-cut": cut(HEAD_404),
    "500-trickled": trickle,
}


@pytest.mark.parametrize("method", ["PUT", "GET"])
@pytest.mark.parametrize("case", SCRIPTS)
def test_an_error_body_that_breaks_off_or_trickles_is_503(case: str, method: str) -> None:
    async def go() -> S3Error:
        listener = await asyncio.start_server(SCRIPTS[case], "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            read_timeout=0.5,
        )
        backend = S3Upstream("wire", config)
        try:
            body = b"x" if method == "PUT" else None
            with pytest.raises(S3Error) as raised:
                response = await backend._send(method, "ub", "k", {}, body=body)
                await backend._raise_for_status(response)
            return raised.value
        finally:
            await backend.close()
            listener.close()

    error = asyncio.run(asyncio.wait_for(go(), 10))
    assert (error.status, error.code) == (503, S3ErrorCode.ServiceUnavailable)
    assert "could not be reached" in error.message
