"""Wave 16 D: the part-copy probe's scratch upload (``home.prefix + ".copy-probe"``) does not
outlive it. Its abort was sent once, so an abort the upstream failed left an empty upload under
the tenant's home for good; it is now sent again while it fails, and the next probe (of any
process) aborts what earlier probes left there, once they are older than a probe in flight."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from aiohttp import web

from s3proxy.backends.s3_copy_learning import _COPIES_OWN_ETAG, LEFTOVER_AGE, SCRATCH
from s3proxy.layout import UpstreamRoot
from s3proxy.model import UploadPartCopyInput
from tests.unit.test_s3_multipart import MODIFIED, upstream

SOURCE = b"0123456789"
ETAG = f'"{hashlib.md5(SOURCE).hexdigest()}"'
PROBE_PATH = "/home/t/.copy-probe"


def _handler(
    aborts: list[str], abort_status: Callable[[int], int], listed: list[tuple[str, str]]
) -> Callable[[web.Request], object]:
    """An upstream behind a proxy that names no known server: the probe runs. ``listed``:
    the uploads (id, Initiated) its ListMultipartUploads shows at the probe's key."""

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Server": "nginx", "x-amz-request-id": "r1"}
        if request.method == "HEAD":
            size = {"Content-Length": str(len(SOURCE)), "Last-Modified": MODIFIED}
            return web.Response(headers={**headers, "ETag": ETAG, **size})
        if request.method == "GET" and "uploads" in request.query:
            entries = "".join(
                f"<Upload><Key>t/.copy-probe</Key><UploadId>{upload}</UploadId>"
                f"<Initiated>{initiated}</Initiated></Upload>"
                for upload, initiated in listed
            )
            body = (
                "<ListMultipartUploadsResult><Bucket>home</Bucket><IsTruncated>false"
                f"</IsTruncated>{entries}</ListMultipartUploadsResult>"
            )
            return web.Response(body=body, headers=headers)
        if request.method == "GET":  # the probe's first byte
            headers.update({"Content-Range": f"bytes 0-0/{len(SOURCE)}", "ETag": ETAG})
            return web.Response(status=206, body=SOURCE[:1], headers=headers)
        if request.method == "POST":
            body = (
                "<InitiateMultipartUploadResult><Bucket>home</Bucket><Key>t/.copy-probe</Key>"
                "<UploadId>scratch</UploadId></InitiateMultipartUploadResult>"
            )
            return web.Response(body=body, headers=headers)
        if request.method == "DELETE":
            assert request.path == PROBE_PATH
            aborts.append(request.query["uploadId"])
            status = abort_status(len(aborts))
            if status == 204:
                return web.Response(status=204, headers=headers)
            error = "<Error><Code>InternalError</Code><Message>x</Message></Error>"
            return web.Response(status=status, body=error, headers=headers)
        copied = SOURCE[:1] if "scratch" in request.query.get("uploadId", "") else SOURCE
        body = (
            f'<CopyPartResult><ETag>"{hashlib.md5(copied).hexdigest()}"</ETag>'
            f"<LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyPartResult>"
        )
        return web.Response(body=body, headers=headers)

    return handler


def _copy(handler: Callable[[web.Request], object]) -> str:
    async def go() -> str:
        _COPIES_OWN_ETAG.clear()
        SCRATCH.set(UpstreamRoot("scripted", "home", "t/"))
        try:
            async with upstream(handler) as backend:  # type: ignore[arg-type]
                request = UploadPartCopyInput("ub", "src", "ub", "dst", "2~id", 1, None)
                return (await backend.upload_part_copy(request)).etag
        finally:
            _COPIES_OWN_ETAG.clear()

    return asyncio.run(go())


def test_a_failed_scratch_abort_is_sent_again() -> None:
    aborts: list[str] = []
    handler = _handler(aborts, lambda sent: 500 if sent < 3 else 204, [])
    assert _copy(handler) == ETAG
    assert aborts == ["scratch", "scratch", "scratch"]  # one on the parent, the upload left


def test_the_next_probe_aborts_what_earlier_ones_left() -> None:
    """An upload at the probe's key older than LEFTOVER_AGE is a leftover; a younger one may be
    another replica's probe in flight and is left alone."""
    aborts: list[str] = []
    young = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - LEFTOVER_AGE / 2))
    listed = [("old", "2026-01-01T00:00:00.000Z"), ("young", young)]
    assert _copy(_handler(aborts, lambda sent: 204, listed)) == ETAG
    assert aborts == ["old", "scratch"]
