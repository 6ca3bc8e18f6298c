"""Request bodies read from ASGI ``receive`` as a verified async byte iterator.

The iterator keeps one chunk in hand: it yields a chunk only once the next has arrived, and
yields the last one only after the whole body has been counted and its declared hashes
verified. A backend that streams this iterator upstream with a fixed Content-Length therefore
never completes an object whose body turns out short or corrupt: the upstream sees a broken
request and keeps the previous object.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO

from s3proxy.auth.payload import PayloadVerifier
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request

Receive = Callable[[], Awaitable[dict[str, Any]]]

COALESCE_BYTES = 256 * 1024
"""Small ASGI reads are joined up to this size before being passed on (fewer upstream writes)."""


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


async def receive_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The raw request body as ASGI delivers it; a disconnect raises ClientDisconnected."""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if chunk:
            yield chunk


async def verified_stream(
    source: AsyncIterator[bytes], content_length: int, verifier: PayloadVerifier
) -> AsyncIterator[bytes]:
    """``source`` re-chunked to about COALESCE_BYTES, its last block held until verified."""
    received = 0
    held: bytes | None = None
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in source:
        received += len(chunk)
        if received > content_length:
            raise S3Error(S3ErrorCode.IncompleteBody)
        verifier.update(chunk)
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= COALESCE_BYTES:
            block = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            pending_size = 0
            if held is not None:
                yield held
            held = block
    if received != content_length:
        raise S3Error(S3ErrorCode.IncompleteBody)
    verifier.verify()
    if held is not None:
        yield held
    if pending:
        yield pending[0] if len(pending) == 1 else b"".join(pending)


def verified_body(
    receive: Receive, content_length: int, verifier: PayloadVerifier
) -> AsyncIterator[bytes]:
    return verified_stream(receive_chunks(receive), content_length, verifier)


async def read_small_body(receive: Receive, request: S3Request, limit: int) -> bytes:
    """A small XML request body (CreateBucket, DeleteObjects), whole, refused past ``limit``."""
    declared = request.header("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise S3Error(S3ErrorCode.MalformedXML, "Your request body is too large.")
    parts: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise S3Error(S3ErrorCode.MalformedXML, "Your request body is too large.")
        parts.append(chunk)
        more = bool(message.get("more_body", False))
    return b"".join(parts)


SPOOL_READ = 1024 * 1024


def _open_spool() -> BinaryIO:
    return tempfile.TemporaryFile(mode="w+b", prefix="s3proxy-spool-")


async def spooled_body(
    receive: Receive, verifier: PayloadVerifier, limit: int
) -> tuple[AsyncIterator[bytes], int]:
    """A body of unknown length (HTTP chunked, no Content-Length), spooled to a temporary file.

    Upstreams need a Content-Length (Ceph RGW refuses anything else), so the body is written to
    disk — never held in memory — verified whole, and only then streamed upstream from the
    file, which is deleted when the stream ends. File I/O runs in a worker thread.
    """
    spool = await asyncio.to_thread(_open_spool)
    try:
        size = 0
        async for chunk in receive_chunks(receive):
            size += len(chunk)
            if size > limit:
                raise S3Error(S3ErrorCode.EntityTooLarge)
            verifier.update(chunk)
            await asyncio.to_thread(spool.write, chunk)
        verifier.verify()
        await asyncio.to_thread(spool.seek, 0)
    except BaseException:
        spool.close()
        raise

    async def replay() -> AsyncIterator[bytes]:
        try:
            while block := await asyncio.to_thread(spool.read, SPOOL_READ):
                yield block
        finally:
            spool.close()

    return replay(), size
