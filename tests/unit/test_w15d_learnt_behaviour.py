"""Wave 15 D: whether an upstream answers an Abort of a gone upload 204, and whether its part
copies answer the MD5 of their bytes, are learnt from what it does, not from its ``Server``
header alone (which a proxy in front of it may rewrite).

A scripted upstream on loopback answers as SeaweedFS 4.48 does (204 to every Abort) or as S3
does (404 NoSuchUpload for an upload gone), under a ``Server`` of a proxy's own.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from aiohttp import web

from s3proxy.backends.s3_multipart import _COPIES_OWN_ETAG
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadPartCopyInput
from tests.unit.test_s3_multipart import MODIFIED, upstream

PARTS = (
    b"<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber>"
    b'<ETag>"e"</ETag><Size>1</Size></Part></ListPartsResult>'
)
GONE = b"<Error><Code>NoSuchUpload</Code></Error>"


def scripted(live: set[str], gone_abort_status: int, seen: list[str]) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        upload = request.query["uploadId"]
        seen.append(request.method)
        headers = {"Server": "nginx", "x-amz-request-id": "R1"}
        if request.method == "GET":
            if upload in live:
                return web.Response(body=PARTS, headers=headers)
            return web.Response(status=404, body=GONE, headers=headers)
        if upload in live:
            live.discard(upload)
            return web.Response(status=204, headers=headers)
        if gone_abort_status == 204:
            return web.Response(status=204, headers=headers)
        return web.Response(status=404, body=GONE, headers=headers)

    return handler  # type: ignore[return-value]


@pytest.mark.parametrize("gone_abort_status", [204, 404])
def test_an_abort_of_a_gone_upload_is_no_such_upload_whatever_the_server_header(
    gone_abort_status: int,
) -> None:
    """The first Abort (of a live upload, 204) learns the upstream's kind by sending itself once
    more; then an Abort of a completed upload is NoSuchUpload on both kinds. Before, a 204 under
    a ``Server`` other than SeaweedFS's taught "answers NoSuchUpload itself", and the Abort of a
    completed upload on SeaweedFS behind such a proxy was 204."""
    live = {"u1", "u2", "u3"}
    seen: list[str] = []

    async def go() -> None:
        async with upstream(scripted(live, gone_abort_status, seen)) as backend:
            where = (backend.name, backend._config.endpoint)
            ABORTS_GONE_UPLOADS.pop(where, None)
            try:
                await backend.abort_multipart_upload("ub", "p/k", "u1")
                assert ABORTS_GONE_UPLOADS[where] is (gone_abort_status == 204)
                live.discard("u2")  # completed meanwhile
                with pytest.raises(S3Error) as raised:
                    await backend.abort_multipart_upload("ub", "p/k", "u2")
                assert raised.value.code is S3ErrorCode.NoSuchUpload
                seen.clear()
                await backend.abort_multipart_upload("ub", "p/k", "u3")
            finally:
                ABORTS_GONE_UPLOADS.pop(where, None)

    asyncio.run(go())
    # Learnt: an upstream that reports gone uploads is no longer asked first.
    assert seen == (["GET", "DELETE"] if gone_abort_status == 204 else ["DELETE"])


def test_an_abort_whose_second_sending_fails_is_still_done() -> None:
    """The second sending only teaches: when it fails (here a 500 of something in front), the
    client's Abort is still its 204 and nothing is learnt (asked first again next time)."""
    calls: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request.method)
        if request.method == "GET":
            return web.Response(body=PARTS)
        if calls.count("DELETE") == 1:
            return web.Response(status=204)
        return web.Response(status=502, text="bad gateway")

    async def go() -> None:
        async with upstream(handler) as backend:
            where = (backend.name, backend._config.endpoint)
            ABORTS_GONE_UPLOADS.pop(where, None)
            try:
                await backend.abort_multipart_upload("ub", "p/k", "u1")
                assert where not in ABORTS_GONE_UPLOADS
            finally:
                ABORTS_GONE_UPLOADS.pop(where, None)

    asyncio.run(go())
    assert calls == ["GET", "DELETE", "DELETE"]


def test_a_part_copy_that_cannot_show_the_copies_etag_passes_through_unlearnt() -> None:
    """While an upstream's part-copy ETags are not known, a copy whose source has fewer than 2
    bytes (its first byte would be all of it) passes through the proxy and teaches nothing."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        copying = "x-amz-copy-source" in request.headers
        seen.append(f"{request.method}{' copy' if copying else ''}")
        stored = {"ETag": '"0cc175b9c0f1b6a831c399e269772661"', "Last-Modified": MODIFIED}
        headers = {"Server": "nginx", "x-amz-request-id": "r", **stored}
        if request.method == "HEAD":
            return web.Response(headers={**headers, "Content-Length": "1"})
        if request.method == "GET":
            return web.Response(body=b"a", headers=headers)
        data = await request.read()
        return web.Response(headers={**headers, "ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    async def go() -> str:
        _COPIES_OWN_ETAG.clear()
        async with upstream(handler) as backend:
            request = UploadPartCopyInput("ub", "src", "ub", "dst", "2~id", 1)
            try:
                return (await backend.upload_part_copy(request)).etag
            finally:
                assert "scripted" not in _COPIES_OWN_ETAG
                _COPIES_OWN_ETAG.clear()

    assert asyncio.run(go()) == '"0cc175b9c0f1b6a831c399e269772661"'
    assert seen == ["HEAD", "GET", "PUT"]
