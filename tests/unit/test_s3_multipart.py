"""S3Upstream's multipart calls against a scripted HTTP upstream on loopback: the answers real
servers give that are hard to provoke (keep-alive whitespace, an <Error> inside a 200, Ceph's
empty ETag, NoSuchKey for an unknown upload)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from s3proxy.backends.s3 import S3Upstream
from s3proxy.backends.s3_copy_learning import SCRATCH
from s3proxy.backends.s3_multipart import _COPIES_OWN_ETAG
from s3proxy.completion import multipart_etag
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CompleteMultipartOutput,
    UploadPartCopyInput,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MD5_A, MD5_B = hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()
MODIFIED = "Sun, 29 Nov 2026 00:00:00 GMT"
"""The Last-Modified of every object answer (S3 sends one on each)."""


@asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[S3Upstream]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    config = UpstreamConfig(
        endpoint=f"http://127.0.0.1:{port}", access_key="ak", secret_key="sk", read_timeout=5
    )
    backend = S3Upstream("scripted", config)
    try:
        yield backend
    finally:
        await backend.close()
        await runner.cleanup()


def complete_input(*etags: str) -> CompleteMultipartInput:
    parts = [CompletedPart(n, etag) for n, etag in enumerate(etags, start=1)]
    return CompleteMultipartInput(bucket="ub", key="p/k", upload_id="2~id", parts=parts)


def run_complete(handler: Handler, *etags: str) -> CompleteMultipartOutput:
    async def go() -> CompleteMultipartOutput:
        async with upstream(handler) as backend:
            return await backend.complete_multipart_upload(complete_input(*etags))

    return asyncio.run(go())


def slow_200(body: bytes) -> Handler:
    """200 at once, whitespace while "working", then ``body`` — as S3 does on a long Complete."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.query["uploadId"] == "2~id"
        assert b"<PartNumber>1</PartNumber>" in await request.read()
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/xml"})
        await response.prepare(request)
        for _ in range(5):
            await response.write(b" \n")
            await asyncio.sleep(0.02)
        await response.write(body)
        await response.write_eof()
        return response

    return handler


def test_complete_after_keepalive_whitespace() -> None:
    body = (
        b"<CompleteMultipartUploadResult><ETag>&quot;abc-1&quot;</ETag>"
        b"</CompleteMultipartUploadResult>"
    )
    assert run_complete(slow_200(body), f'"{MD5_A}"').etag == '"abc-1"'


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InvalidPart", S3ErrorCode.InvalidPart),
        ("EntityTooSmall", S3ErrorCode.EntityTooSmall),
        ("NoSuchUpload", S3ErrorCode.NoSuchUpload),
        ("SlowDown", S3ErrorCode.SlowDown),  # an InternalError is asked again (test_w11e_*)
        ("SomethingUpstreamOnly", S3ErrorCode.InternalError),
    ],
)
def test_error_inside_a_200_is_an_error(code: str, expected: S3ErrorCode) -> None:
    body = f"<Error><Code>{code}</Code><Message>upstream text</Message></Error>".encode()
    with pytest.raises(S3Error) as caught:
        run_complete(slow_200(body), f'"{MD5_A}"')
    assert caught.value.code is expected
    assert "upstream text" not in caught.value.message


def test_empty_etag_is_computed_from_the_parts() -> None:
    """Ceph RGW 16: ``<ETag></ETag>``. S3's rule: MD5 of the part MD5s, then -N."""
    body = b"<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>"
    result = run_complete(slow_200(body), f'"{MD5_A}"', MD5_B.upper())
    expected = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert result.etag == f'"{expected}-2"'


def test_empty_etag_with_opaque_part_etags_asks_head() -> None:
    heads: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            heads.append(request.path)
            headers = {"ETag": '"from-head-2"', "Last-Modified": MODIFIED, "Content-Length": "0"}
            return web.Response(headers=headers)
        return web.Response(
            body=b"<CompleteMultipartUploadResult><ETag/></CompleteMultipartUploadResult>"
        )

    assert run_complete(handler, '"kms-etag-1"', '"kms-etag-2"').etag == '"from-head-2"'
    assert heads == ["/ub/p/k"]


def test_no_such_key_for_an_upload_is_no_such_upload() -> None:
    """Ceph answers 404 NoSuchKey for an unknown upload id."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")

    async def go() -> None:
        async with upstream(handler) as backend:
            for call in (
                backend.list_parts("ub", "p/k", "2~id", 0, 1000),
                backend.abort_multipart_upload("ub", "p/k", "2~id"),
                backend.complete_multipart_upload(complete_input(f'"{MD5_A}"')),
            ):
                with pytest.raises(S3Error) as caught:
                    await call
                assert caught.value.code is S3ErrorCode.NoSuchUpload

    asyncio.run(go())


def test_list_uploads_asks_without_delimiter_or_encoding() -> None:
    """An upstream known to keep S3's markers (here AWS S3, by its Server header) is asked
    with them; upload_markers pages any other itself (next test)."""
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.update(request.query)
        return web.Response(
            body=b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
            b"<Upload><Key>a+b</Key><UploadId>u</UploadId><Initiated>t</Initiated></Upload>"
            b"</ListMultipartUploadsResult>",
            headers={"Server": "AmazonS3"},
        )

    async def go() -> None:
        async with upstream(handler) as backend:
            page = await backend.list_multipart_uploads("ub", "p/", None, "p/a", "u0", 7)
            assert [(u.key, u.upload_id) for u in page.uploads] == [("a+b", "u")]
            assert page.next_marker is None

    asyncio.run(go())
    assert seen == {
        "uploads": "",
        "prefix": "p/",
        "max-uploads": "7",
        "key-marker": "p/a",
        "upload-id-marker": "u0",
    }


def test_list_uploads_of_an_upstream_without_a_known_server_are_paged_by_the_proxy() -> None:
    """Ceph RGW sends no Server header and misreads key-marker: no markers are sent, one whole
    page is asked for, and the page after the client's markers is cut from it."""
    queries: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        queries.append(dict(request.query))
        uploads = b"".join(
            b"<Upload><Key>%s</Key><UploadId>u</UploadId><Initiated>t</Initiated></Upload>" % key
            for key in (b"p/a-2f", b"p/a", b"p/b")  # RGW's "key." order, not S3's
        )
        return web.Response(
            body=b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
            + uploads
            + b"</ListMultipartUploadsResult>"
        )

    async def go() -> None:
        async with upstream(handler) as backend:
            page = await backend.list_multipart_uploads("ub", "p/", None, "p/a", "u", 1)
            assert [u.key for u in page.uploads] == ["p/a-2f"]
            assert page.next_marker == ("p/a-2f", "u")

    asyncio.run(go())
    assert queries[-1] == {"uploads": "", "prefix": "p/", "max-uploads": "1000"}


@pytest.mark.parametrize(
    ("etags", "expected"),
    [
        ([f'"{MD5_A}"'], f'"{hashlib.md5(hashlib.md5(b"a").digest()).hexdigest()}-1"'),
        ([MD5_A, "not-an-md5"], None),
        ([f'"{MD5_A}-2"'], None),
    ],
)
def test_multipart_etag(etags: list[str], expected: str | None) -> None:
    assert multipart_etag(etags) == expected


@pytest.mark.parametrize("server", ["SeaweedFS 8000GB 4.48", "nginx", "AmazonS3"])
def test_upload_part_copy_answers_the_parts_md5(server: str) -> None:
    """SeaweedFS's server-side copies keep a chunk ETag of its own: there the bytes pass
    through the proxy and UploadPart gives the part its MD5; so they do behind a ``Server`` that
    names no known server, once a copy of the source's first byte showed such an ETag (wave 15
    D); on S3 itself the copy stays upstream."""
    source = b"0123456789"
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Server": server, "x-amz-request-id": "r1"}
        stored = {"ETag": f'"{hashlib.md5(source).hexdigest()}"', "Last-Modified": MODIFIED}
        copying = "x-amz-copy-source" in request.headers
        seen.append(
            f"{request.method} {'copy' if copying else request.query.get('partNumber', '')}"
        )
        if request.method == "HEAD":
            size = {"Content-Length": str(len(source))}
            return web.Response(headers={**headers, **stored, **size})
        if request.method == "GET" and "uploads" in request.query:  # leftovers (wave 16 D)
            seen[-1] = f"GET {request.path} uploads"
            body = b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
            return web.Response(body=body + b"</ListMultipartUploadsResult>", headers=headers)
        if request.method == "GET":
            first, last = map(int, request.headers["Range"][6:].split("-"))
            headers["Content-Range"] = f"bytes {first}-{last}/{len(source)}"
            body = source[first : last + 1]
            return web.Response(status=206, body=body, headers={**headers, **stored})
        if request.method == "POST":  # the probe's scratch upload (wave 15 R2)
            seen[-1] = f"POST {request.path}"
            body = b"<InitiateMultipartUploadResult><UploadId>scratch</UploadId>"
            return web.Response(body=body + b"</InitiateMultipartUploadResult>", headers=headers)
        if request.method == "DELETE":
            seen[-1] = f"DELETE {request.path} {request.query['uploadId']}"
            return web.Response(status=204, headers=headers)
        if copying:
            seen[-1] += f" {request.path} {request.query['uploadId']}"
            body = b"<CopyPartResult><ETag>chunky-2</ETag><LastModified>t</LastModified>"
            body += b"</CopyPartResult>"
            return web.Response(body=body, headers=headers)
        data = await request.read()
        return web.Response(headers={**headers, "ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    async def go() -> str:
        _COPIES_OWN_ETAG.clear()
        SCRATCH.set(UpstreamRoot("scripted", "home", "t/"))
        async with upstream(handler) as backend:
            request = UploadPartCopyInput("ub", "src", "ub", "dst", "2~id", 3, (2, 5))
            return (await backend.upload_part_copy(request)).etag

    etag = asyncio.run(go())
    if server.startswith("SeaweedFS"):
        assert etag == f'"{hashlib.md5(source[2:6]).hexdigest()}"'
        assert seen == ["HEAD ", "GET ", "PUT 3"]
    elif server == "nginx":
        assert etag == f'"{hashlib.md5(source[2:6]).hexdigest()}"'
        probe = "/home/t/.copy-probe"  # never the client's part (``/ub/dst``)
        scratch = [f"POST {probe}", f"PUT copy {probe} scratch", f"DELETE {probe} scratch"]
        assert seen == ["HEAD ", "GET ", "GET /home uploads", *scratch, "GET ", "PUT 3"]
    else:
        assert etag == '"chunky-2"'
        assert seen == ["HEAD ", "PUT copy /ub/dst 2~id"]
