"""Wave 15 R: the one-byte probe of an upstream's part-copy ETags (s3_copy_learning) is never
sent for a part copy that is refused whatever it shows.

The probe copies the source's first byte into the very part the client names, counting on the
copy that follows to replace it. A copy refused anyway (a range past the source's end, a part
over 5 GiB: S3 leaves the part as it was) left the client's part holding that byte.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from s3proxy.backends.s3_copy_learning import _COPIES_OWN_ETAG, _copies_own_etag
from s3proxy.model import UploadPartCopyInput
from tests.unit.test_s3_multipart import MODIFIED, upstream

GIB = 1024**3


@pytest.mark.parametrize(
    ("size", "source_range"),
    [(100, (200, 299)), (100, (50, 100)), (6 * GIB, None), (6 * GIB, (0, 5 * GIB))],
)
def test_a_copy_refused_anyway_is_not_probed_into_the_client_s_part(
    size: int, source_range: tuple[int, int] | None
) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.method)
        headers = {
            "Server": "nginx", "x-amz-request-id": "r", "ETag": '"e"', "Last-Modified": MODIFIED,
        }  # fmt: skip
        return web.Response(headers={**headers, "Content-Length": str(size)})

    async def go() -> bool:
        _COPIES_OWN_ETAG.clear()
        async with upstream(handler) as backend:
            request = UploadPartCopyInput(
                "ub", "src", "ub", "dst", "2~id", 1, source_range=source_range
            )
            try:
                return await _copies_own_etag(backend, request)  # type: ignore[arg-type]
            finally:
                assert "scripted" not in _COPIES_OWN_ETAG
                _COPIES_OWN_ETAG.clear()

    assert asyncio.run(go()) is False  # through the proxy, which refuses it before any write
    assert seen == ["HEAD"]
