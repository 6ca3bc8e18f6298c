"""Wave 18 R1 (review of 9ffd383): a self-copy that changes only the storage class is now sent
with x-amz-copy-source-if-match = the HEAD's ETag. On AWS S3 (documented precedence, and the
gateway's own s3proxy.conditions.failed_source_condition) an If-Match that holds makes S3
ignore a failing x-amz-copy-source-if-unmodified-since: "If both ... if-match evaluates to true
and if-unmodified-since evaluates to false, Amazon S3 returns 200 OK and copies the data".
So the client's own condition, which S3 answers 412 to, is overridden by the gateway's
binding: 200 and the copy made."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime

from aiohttp import web

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CopyObjectInput, ObjectAttributes, ReadConditions
from tests.unit.test_s3_multipart import upstream

ETAG = '"0123456789abcdef0123456789abcdef"'
MODIFIED = "Sun, 29 Nov 2026 00:00:00 GMT"
PAST = "Sun, 01 Nov 2026 00:00:00 GMT"  # the object was modified after this: 412 alone
AWS = {"Server": "AmazonS3", "x-amz-request-id": "ABCDEF0123456789"}


def aws_copy_answer(request: web.Request) -> web.Response:
    """AWS's reading of a copy's source conditions (If-Match decides alone when sent)."""
    h = request.headers
    if_match = h.get("x-amz-copy-source-if-match")
    unmodified = h.get("x-amz-copy-source-if-unmodified-since")
    failed = False
    if if_match is not None:
        failed = if_match.strip('"') != ETAG.strip('"')
    elif unmodified is not None:
        failed = parsedate_to_datetime(MODIFIED) > parsedate_to_datetime(unmodified)
    if failed:
        body = b"<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>"
        return web.Response(status=412, body=body, headers=AWS)
    body = (
        f"<CopyObjectResult><ETag>{ETAG}</ETag>"
        "<LastModified>2026-11-29T00:00:00.000Z</LastModified></CopyObjectResult>"
    ).encode()
    return web.Response(body=body, headers=AWS)


def test_a_self_copy_keeps_the_clients_if_unmodified_since() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(
                headers={
                    **AWS,
                    "ETag": ETAG,
                    "Last-Modified": MODIFIED,
                    "Content-Length": "3",
                    "Content-Type": "text/plain",
                }
            )
        seen.append(
            {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-amz-copy")}
        )
        return aws_copy_answer(request)

    async def go() -> str:
        async with upstream(handler) as backend:
            request = CopyObjectInput(
                source_bucket="ub",
                source_key="p/k",
                bucket="ub",
                key="p/k",
                replace_metadata=False,
                attributes=ObjectAttributes({}, {}),
                source_conditions=ReadConditions(if_unmodified_since=PAST),
            )
            try:
                await backend.copy_object(request)
            except S3Error as error:
                return error.code.name
            return "copied"

    outcome = asyncio.run(go())
    print(seen)
    assert outcome == S3ErrorCode.PreconditionFailed.name, (outcome, seen)
