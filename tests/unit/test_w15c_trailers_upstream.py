"""A client's trailer checksum reaches the upstream whatever the timing, for parts too (wave 15 C).

Under ``request_style: plain`` a client's trailer checksum of a body over 64 KiB goes upstream
as an aws-chunked trailer only to a server known to keep it, known by the ``Server`` of the
upstream's first answer (:mod:`s3proxy.backends.upstream_chunked`). A PUT sent before any
answer went plain, so the object kept no checksum, while the same PUT a moment later kept
it. Now such a PUT first asks (one HEAD of the bucket, once per upstream).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

from aiohttp import web

from s3proxy.model import ObjectAttributes, PutObjectInput, UploadPartInput
from tests.unit.test_s3_multipart import upstream

BODY = b"x" * 100_000
VALUE = "AAAAAA=="


async def _body() -> AsyncIterator[bytes]:
    yield BODY


def test_the_first_large_trailer_put_keeps_its_checksum() -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append((request.method, dict(request.headers), body))
        headers = {"Server": "SeaweedFS 4.48", "x-amz-request-id": "1"}
        return web.Response(headers={**headers, "ETag": '"e"'})

    async def go() -> None:
        async with upstream(handler) as backend:
            assert backend.server is None  # nothing heard from it yet
            put = PutObjectInput(
                bucket="ub",
                key="k",
                body=_body(),
                content_length=len(BODY),
                attributes=ObjectAttributes(),
                trailer_checksum=("x-amz-checksum-crc32", lambda: VALUE),
            )
            await backend.put_object(put)
            await backend.put_object(dataclasses.replace(put, body=_body()))

    asyncio.run(go())
    puts = [(headers, body) for method, headers, body in seen if method == "PUT"]
    assert [method for method, _, _ in seen] == ["HEAD", "PUT", "PUT"]
    for headers, body in puts:  # both alike: the first as the second
        assert headers.get("x-amz-trailer") == "x-amz-checksum-crc32"
        assert body.endswith(f"0\r\nx-amz-checksum-crc32:{VALUE}\r\n\r\n".encode())


def test_a_parts_trailer_checksum_goes_upstream_as_a_puts_does() -> None:
    """S3 refuses a part without its checksum in an upload created with a COMPOSITE one (and
    MinIO in any upload created with one): under ``request_style: plain`` a part's trailer
    checksum never reached the upstream. Now a small part carries it as a header, a large one
    as an aws-chunked trailer where the upstream takes one, as PutObject does."""
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, dict(request.headers), await request.read()))
        headers = {"Server": "SeaweedFS 4.48", "x-amz-request-id": "1", "ETag": '"e"'}
        return web.Response(headers=headers)

    async def part(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async def go() -> None:
        async with upstream(handler) as backend:
            for number, data in ((1, BODY), (2, b"small last part")):
                sent = UploadPartInput(
                    "ub", "k", "2~id", number, part(data), len(data),
                    trailer_checksum=("x-amz-checksum-crc32", lambda: VALUE),
                )  # fmt: skip
                await backend.upload_part(sent)

    asyncio.run(go())
    large, small = [(headers, body) for method, headers, body in seen if method == "PUT"]
    assert large[0].get("x-amz-trailer") == "x-amz-checksum-crc32"
    assert large[1].endswith(f"0\r\nx-amz-checksum-crc32:{VALUE}\r\n\r\n".encode())
    assert small[0].get("x-amz-checksum-crc32") == VALUE
    assert small[1] == b"small last part"
