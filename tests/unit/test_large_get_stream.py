"""The large-GET byte path from an S3 upstream: bodies relayed read by read, never re-joined,
byte-identical, and a short upstream body still fails the response (BENCHMARKS.md "Large
objects")."""

from __future__ import annotations

import asyncio
import hashlib
import os
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader

from s3proxy.backends.s3_object_reads import _stream
from s3proxy.model import ReadConditions
from tests.unit.test_s3_multipart import upstream

BODY = os.urandom(3 * 1024 * 1024 + 12_345)


class _Protocol:
    """What aiohttp's StreamReader calls on its connection for back-pressure."""

    def __init__(self) -> None:
        self.paused = 0

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


async def _collect(chunks: list[bytes], length: int) -> list[bytes]:
    protocol = _Protocol()
    reader = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    response: Any = SimpleNamespace(content=reader)
    return [chunk async for chunk in _stream(response, length)]


def test_buffered_reads_are_relayed_as_they_arrived_not_copied_into_one() -> None:
    reads = [os.urandom(256_000), os.urandom(256_000), os.urandom(100_000)]
    relayed = asyncio.run(_collect(reads, sum(map(len, reads))))
    assert len(relayed) == len(reads)
    assert all(out is read for out, read in zip(relayed, reads, strict=True))


def test_a_body_shorter_than_its_content_length_fails_the_response() -> None:
    with pytest.raises(ConnectionError):
        asyncio.run(_collect([b"x" * 1000], 2000))


def test_large_get_through_the_upstream_client_is_byte_identical() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        modified = "Sun, 29 Nov 2026 00:00:00 GMT"  # S3 sends an ETag and a date with every GET
        headers = {"Content-Length": str(len(BODY)), "ETag": '"e"', "Last-Modified": modified}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for start in range(0, len(BODY), 700_000):  # writes that do not match any read size
            await response.write(BODY[start : start + 700_000])
        await response.write_eof()
        return response

    async def go() -> bytes:
        async with upstream(handler) as backend:
            output = await backend.get_object("ub", "k", None, ReadConditions())
            try:
                assert output.content_length == len(BODY)
                return b"".join([chunk async for chunk in output.body])
            finally:
                await output.aclose()

    received = asyncio.run(go())
    assert hashlib.sha256(received).digest() == hashlib.sha256(BODY).digest()
