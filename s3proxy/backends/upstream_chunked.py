"""Sending a body upstream as ``aws-chunked`` with a trailing checksum.

Used for upstreams configured with ``request_style: aws-chunked`` (AWS S3, MinIO, SeaweedFS
accept it; Ceph RGW 16 does not): it is the only way to hand the upstream a checksum whose
value is known only at the end of the body — a client's trailer checksum — so that the upstream
stores it and returns it on ``x-amz-checksum-mode: ENABLED`` reads. The trailer is written only
after the body iterator is exhausted, that is after every check on it has passed; if one fails,
the upstream sees a chunked stream without its last chunk and commits nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


async def encode_with_trailer(
    body: AsyncIterator[bytes], trailer: str, value: Callable[[], str]
) -> AsyncIterator[bytes]:
    """``hex-size CRLF data CRLF`` per block, then ``0 CRLF trailer:value CRLF CRLF``."""
    async for block in body:
        if block:
            yield b"%x\r\n" % len(block)
            yield block
            yield b"\r\n"
    yield f"0\r\n{trailer}:{value()}\r\n\r\n".encode("ascii")


def chunked_headers(
    content_encoding: str | None, decoded_length: int, trailer: str
) -> dict[str, str]:
    """The headers that announce an aws-chunked body (the object's own encoding kept after)."""
    encoding = "aws-chunked" if not content_encoding else f"aws-chunked,{content_encoding}"
    return {
        "content-encoding": encoding,
        "x-amz-decoded-content-length": str(decoded_length),
        "x-amz-trailer": trailer,
    }
