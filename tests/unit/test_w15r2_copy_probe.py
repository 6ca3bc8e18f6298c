"""Wave 15 R2: the part-copy probe (s3_copy_learning) needs a scratch place of the caller's
tenant on the upstream; without one nothing is probed and the copy passes through the proxy
(its part then gets the MD5 of its bytes, as S3 gives), and never is a byte copied into the
client's own part."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from aiohttp import web

from s3proxy.backends.s3_copy_learning import _COPIES_OWN_ETAG, SCRATCH
from s3proxy.layout import UpstreamRoot
from s3proxy.model import UploadPartCopyInput
from tests.unit.test_s3_multipart import MODIFIED, upstream


@pytest.mark.parametrize("home", [None, UpstreamRoot("another-upstream", "home", "t/")])
def test_no_home_on_the_upstream_no_probe(home: UpstreamRoot | None) -> None:
    source = b"0123456789"
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Server": "nginx", "x-amz-request-id": "r1"}
        stored = {"ETag": f'"{hashlib.md5(source).hexdigest()}"', "Last-Modified": MODIFIED}
        seen.append(f"{request.method} {request.path} {request.query.get('partNumber', '')}")
        if request.method == "HEAD":
            size = {"Content-Length": str(len(source))}
            return web.Response(headers={**headers, **stored, **size})
        if request.method == "GET":
            first, last = map(int, request.headers["Range"][6:].split("-"))
            headers["Content-Range"] = f"bytes {first}-{last}/{len(source)}"
            body = source[first : last + 1]
            return web.Response(status=206, body=body, headers={**headers, **stored})
        assert "x-amz-copy-source" not in request.headers  # no copy, the client's or a probe's
        data = await request.read()
        return web.Response(headers={**headers, "ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    async def go() -> str:
        _COPIES_OWN_ETAG.clear()
        SCRATCH.set(home)
        try:
            async with upstream(handler) as backend:
                request = UploadPartCopyInput("ub", "src", "ub", "dst", "2~id", 3, (2, 5))
                return (await backend.upload_part_copy(request)).etag
        finally:
            assert "scripted" not in _COPIES_OWN_ETAG  # nothing learnt: asked again next time
            _COPIES_OWN_ETAG.clear()

    assert asyncio.run(go()) == f'"{hashlib.md5(source[2:6]).hexdigest()}"'
    assert seen == ["HEAD /ub/src ", "GET /ub/src ", "PUT /ub/dst 3"]


def test_concurrent_first_part_copies_send_one_probe() -> None:
    """Four UploadPartCopies at once on an upstream whose copies are not known yet (aws-cli
    sends ten): one probe (one scratch upload) teaches all of them, then each copies
    server-side. Before, each sent a probe of its own (a GET, an upload, a copy, an abort)."""
    source = b"0123456789"
    etag = f'"{hashlib.md5(source).hexdigest()}"'
    scratches: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Server": "nginx", "x-amz-request-id": "r1"}
        if request.method == "HEAD":
            size = {"Content-Length": str(len(source)), "Last-Modified": MODIFIED}
            return web.Response(headers={**headers, "ETag": etag, **size})
        if request.method == "GET":  # the probe's first byte
            headers.update({"Content-Range": f"bytes 0-0/{len(source)}", "ETag": etag})
            return web.Response(status=206, body=source[:1], headers=headers)
        if request.method == "POST":
            scratches.append(request.path)
            await asyncio.sleep(0.05)  # the other copies arrive while this probe is in flight
            body = (
                "<InitiateMultipartUploadResult><Bucket>home</Bucket><Key>k</Key>"
                "<UploadId>scratch</UploadId></InitiateMultipartUploadResult>"
            )
            return web.Response(body=body, headers=headers)
        if request.method == "DELETE":
            return web.Response(status=204, headers=headers)
        copied = source[:1] if "scratch" in request.query.get("uploadId", "") else source
        body = (
            f'<CopyPartResult><ETag>"{hashlib.md5(copied).hexdigest()}"</ETag>'
            f"<LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyPartResult>"
        )
        return web.Response(body=body, headers=headers)

    async def go() -> None:
        _COPIES_OWN_ETAG.clear()
        SCRATCH.set(UpstreamRoot("scripted", "home", "t/"))
        try:
            async with upstream(handler) as backend:

                async def one(part: int) -> str:
                    request = UploadPartCopyInput("ub", "src", "ub", "dst", "2~id", part, None)
                    return (await backend.upload_part_copy(request)).etag

                assert set(await asyncio.gather(*map(one, range(1, 5)))) == {etag}
        finally:
            _COPIES_OWN_ETAG.clear()

    asyncio.run(go())
    assert scratches == ["/home/t/.copy-probe"]
