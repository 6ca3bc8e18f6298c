"""A Complete that the upstream carried out under an error status (wave 12, F).

Ceph RGW 16 writes the CompleteMultipartUploadResult's ``<Location>`` (endpoint, bucket and key,
unescaped) with a 1,024-byte buffer. Past 1,023 bytes it completes the upload, writes the URL on
into bytes of its memory, and its status line is garbage too: 500 on one cluster, 400 on another
(wave 11's ci2). The proxy passed a 400 on as InvalidRequest — an error a client does not retry,
for an object that was written — and asked a 500 again with a Complete that could only find the
upload gone. Such an answer is now read as a 2xx whose document cannot be read: the proxy asks
whether the upload is gone and the object is the one its parts make (upload_gone), and answers
S3's 200 with the object's ETag. An error status with an ``<Error>`` document is unchanged.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from s3proxy.backends.upload_gone import after_failed_complete
from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE
from s3proxy.completion import multipart_etag
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompleteMultipartOutput
from tests.unit.test_s3_multipart import MD5_A, complete_input, upstream

GARBLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult'
    b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://127.0.0.1:7480/ub/'
    + b"k"
    * 990
    + b"&#x00;\xba\x86if\n&#x7f;&#x00;</Location><Bucket>ub</Bucket><Key>p/k</Key><ETag></ETag>"
    b"</CompleteMultipartUploadResult>"
)
"""RGW 16's answer past the buffer (captured 2026-12-04, the key shortened)."""
ETAG = multipart_etag([f'"{MD5_A}"'])


def scripted(status: int, body: bytes, seen: list[str]) -> object:
    """An upstream that answers the Complete ``status`` with ``body``, has no upload any more
    (ListParts: NoSuchUpload) and the object its one part makes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.method)
        if request.method == "POST":
            return web.Response(status=status, body=body)
        if request.method == "GET":
            gone = b"<Error><Code>NoSuchUpload</Code></Error>"
            return web.Response(status=404, body=gone)
        modified = "Sun, 29 Nov 2026 00:00:00 GMT"
        stored = {"ETag": ETAG or "", "Last-Modified": modified, "Content-Length": "1"}
        return web.Response(headers=stored)

    return handler


def complete(status: int, body: bytes) -> tuple[CompleteMultipartOutput | str, list[str]]:
    """What the mapped layer answers for a Complete the upstream answers ``status``, ``body``:
    the output, or the error code's name; and the requests the upstream got."""
    seen: list[str] = []

    async def go() -> CompleteMultipartOutput | str:
        async with upstream(scripted(status, body, seen)) as backend:  # type: ignore[arg-type]
            request = complete_input(f'"{MD5_A}"')
            try:
                return await backend.complete_multipart_upload(request)
            except S3Error as error:
                try:
                    return await after_failed_complete(backend, request, error)
                except S3Error as final:
                    return final.code.name

    return asyncio.run(go()), seen


@pytest.mark.parametrize("status", [400, 403, 500, 503])
def test_a_result_document_under_an_error_status_is_the_completes_200(status: int) -> None:
    done, seen = complete(status, GARBLED)
    assert isinstance(done, CompleteMultipartOutput)
    assert done.etag == ETAG
    assert seen == ["POST", "GET", "HEAD"]  # the 500 is not sent again: the upload is done


def test_the_backend_reads_it_as_unreadable() -> None:
    async def go() -> S3Error:
        async with upstream(scripted(400, GARBLED, [])) as backend:  # type: ignore[arg-type]
            with pytest.raises(S3Error) as raised:
                await backend.complete_multipart_upload(complete_input(f'"{MD5_A}"'))
            return raised.value

    error = asyncio.run(go())
    assert (error.code, error.message) == (S3ErrorCode.InternalError, STORAGE_UNREADABLE)


def test_an_error_document_under_an_error_status_is_unchanged() -> None:
    entity = b"<Error><Code>EntityTooSmall</Code></Error>"
    assert complete(400, entity) == ("EntityTooSmall", ["POST"])
    # An <Error> that quotes a result document is still an error.
    quoted = b"<Error><Code>InvalidRequest</Code><Message><CompleteMultipartUploadResult"
    assert complete(400, quoted + b"</Message></Error>")[0] == "InvalidRequest"
