"""A self-copy carrying ``x-amz-copy-source-if-unmodified-since`` is bound to its HEAD's ETag
too (wave 18, R3F of R3's review of 8e831ff). 8e831ff stopped binding such a copy (a bound
If-Match that holds overrides If-Unmodified-Since on S3), which reopened 9ffd383's race for it:
the object overwritten between the gateway's HEAD and its copy got the old object's
Content-Type and metadata on its new bytes, answered 200. The condition is now decided in the
gateway on what the HEAD read, and the copy bound as before."""

from __future__ import annotations

import asyncio

from aiohttp import web

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CopyObjectInput, ObjectAttributes, ReadConditions
from tests.unit.test_s3_multipart import upstream

OLD, NEW = '"0123456789abcdef0123456789abcdef"', '"fedcba9876543210fedcba9876543210"'
AWS = {"Server": "AmazonS3", "x-amz-request-id": "ABCDEF0123456789"}
MODIFIED = "Sun, 29 Nov 2026 00:00:00 GMT"
FUTURE = "Sun, 01 Nov 2099 00:00:00 GMT"  # holds for both versions
PAST = "Sun, 01 Nov 2026 00:00:00 GMT"  # fails: modified after it


def _request(unmodified_since: str) -> CopyObjectInput:
    return CopyObjectInput(
        source_bucket="ub",
        source_key="p/k",
        bucket="ub",
        key="p/k",
        replace_metadata=False,
        attributes=ObjectAttributes({}, {}),
        source_conditions=ReadConditions(if_unmodified_since=unmodified_since),
    )


def _head(etag: str, content_type: str) -> web.Response:
    return web.Response(
        headers={
            **AWS,
            "ETag": etag,
            "Content-Type": content_type,
            "Last-Modified": MODIFIED,
            "Content-Length": "3",
        }
    )


def test_an_overwrite_after_the_head_never_gets_the_old_metadata() -> None:
    state = {"etag": OLD, "type": "text/plain"}
    stored: list[tuple[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            answer = _head(state["etag"], state["type"])
            state.update(etag=NEW, type="image/png")  # another client overwrites it now
            return answer
        if_match = request.headers.get("x-amz-copy-source-if-match")
        if if_match is not None and if_match.strip('"') != state["etag"].strip('"'):
            body = b"<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>"
            return web.Response(status=412, body=body, headers=AWS)
        stored.append((state["etag"], request.headers.get("Content-Type", "")))
        body = (
            f"<CopyObjectResult><ETag>{state['etag']}</ETag>"
            "<LastModified>2026-11-29T00:00:00.000Z</LastModified></CopyObjectResult>"
        ).encode()
        return web.Response(body=body, headers=AWS)

    async def go() -> None:
        async with upstream(handler) as backend:
            await backend.copy_object(_request(FUTURE))

    asyncio.run(go())
    assert stored == [(NEW, "image/png")]  # read again and copied with its own metadata


def test_a_failing_if_unmodified_since_is_refused_before_any_copy() -> None:
    copies: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return _head(OLD, "text/plain")
        copies.append(request.method)
        return web.Response(status=500, headers=AWS)

    async def go() -> S3Error:
        async with upstream(handler) as backend:
            try:
                await backend.copy_object(_request(PAST))
            except S3Error as error:
                return error
        raise AssertionError("copied")

    error = asyncio.run(go())
    assert error.code is S3ErrorCode.PreconditionFailed
    assert error.fields["Condition"] == "x-amz-copy-source-If-Unmodified-Since"
    assert copies == []
