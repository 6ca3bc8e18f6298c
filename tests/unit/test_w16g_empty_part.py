"""Wave 16 G: part 1's 416 of an empty object is handled inside the S3 backend's HEAD and GET
only when ``part_number`` is 1 (:mod:`s3proxy.backends.empty_part`); it was a wrapper around
every read. Pins what the wrapper did, against a scripted upstream that answers ``?partNumber``
as SeaweedFS 4.48 does (416 InvalidPartNumber for part 1 of an empty object), and which reads
are asked again (only that 416 to part 1).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from s3proxy.errors import S3Error
from s3proxy.model import GetObjectOutput, ReadConditions
from tests.unit.test_s3_multipart import MODIFIED, upstream

OBJECTS = {
    "zero": (b"", '"d41d8cd98f00b204e9800998ecf8427e"'),
    "zero-mp": (b"", '"d41d8cd98f00b204e9800998ecf8427e-1"'),
    "full": (b"abc", '"900150983cd24fb0d6963f7d28e17f72"'),  # answered 416 here too
}
INVALID_PART = b"<Error><Code>InvalidPartNumber</Code><Message>m</Message></Error>"


def scripted(seen: list[str]) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.query_string}")
        body, etag = OBJECTS[request.path.rsplit("/", 1)[1]]
        headers = {"x-amz-request-id": "R1", "Server": "SeaweedFS", "Last-Modified": MODIFIED}
        if "partNumber" in request.query:
            return web.Response(status=416, body=INVALID_PART, headers=headers)
        headers["ETag"] = etag
        if request.method == "HEAD":  # aiohttp sends no length of its own to a HEAD
            headers["Content-Length"] = str(len(body))
            return web.Response(headers=headers)
        return web.Response(body=body, headers=headers)

    return handler  # type: ignore[return-value]


def read(method: str, key: str, part: int | None) -> tuple[int | str, list[str]]:
    """(the answer's size or the error's status and code, the requests the upstream saw). A
    HEAD's 416 has no body to name its code: the gateway's own (InvalidRange)."""
    seen: list[str] = []

    async def go() -> int | str:
        async with upstream(scripted(seen)) as backend:  # type: ignore[arg-type]
            conditions = ReadConditions()
            try:
                if method == "HEAD":
                    return (await backend.head_object("ub", key, conditions, False, part)).size
                got: GetObjectOutput = await backend.get_object(
                    "ub", key, None, conditions, part_number=part
                )
                body = b"".join([chunk async for chunk in got.body])
                await got.aclose()
                return len(body)
            except S3Error as error:
                return f"{error.status} {error.code.name}"

    return asyncio.run(go()), seen


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_part_one_of_an_empty_plain_object_is_the_object(method: str) -> None:
    assert read(method, "zero", 1) == (0, [f"{method} partNumber=1", f"{method} "])


REFUSED = {"GET": "416 InvalidPartNumber", "HEAD": "416 InvalidRange"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("key", ["zero-mp", "full"])
def test_part_one_of_anything_else_keeps_the_416(method: str, key: str) -> None:
    assert read(method, key, 1) == (REFUSED[method], [f"{method} partNumber=1", f"{method} "])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_other_parts_and_plain_reads_are_asked_once(method: str) -> None:
    assert read(method, "zero", 2) == (REFUSED[method], [f"{method} partNumber=2"])
    assert read(method, "zero", None) == (0, [f"{method} "])
