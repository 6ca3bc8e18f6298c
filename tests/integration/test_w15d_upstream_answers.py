"""Wave 15 D: answers that differed by upstream, found by one request list sent through the
gateway to every lane (local store, SeaweedFS 4.48, Ceph RGW 16). Each now matches the local
store's and Ceph RGW's, which keep what S3 keeps:

- an empty content header (``Content-Type: ``, ``Cache-Control: `` …) is kept empty; SeaweedFS
  dropped it, and answered ``text/plain; charset=utf-8`` (its guess) for an empty type;
- ``?partNumber=1`` of an empty object is its 200 with no byte; SeaweedFS answered 416
  InvalidPartNumber, so multipart downloads (part 1 first) failed on every empty object.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
EMPTY = {
    "Content-Type": "",
    "Cache-Control": "",
    "Content-Disposition": "",
    "Content-Encoding": "",
    "Content-Language": "",
    "Expires": "",
}


def _call(
    proxy: Proxy, method: str, key: str, query: str = "", body: bytes = b"", **headers: str
) -> RawResponse:
    url = object_url(proxy.endpoint, BUCKET, key, query)
    return signed(method, url, *proxy.keys("alice"), headers, body)


def _content(response: RawResponse) -> dict[str, str | None]:
    return {name: response.header(name) for name in EMPTY}


def test_empty_content_headers_are_kept_on_every_lane(proxy: Proxy) -> None:
    assert _call(proxy, "PUT", "w15d/empty", body=b"hello", **EMPTY).status == 200
    for method in ("HEAD", "GET"):
        response = _call(proxy, method, "w15d/empty")
        assert response.status == 200
        assert _content(response) == dict.fromkeys(EMPTY, "")
    copied = _call(
        proxy, "PUT", "w15d/empty-copy", **{"x-amz-copy-source": f"/{BUCKET}/w15d/empty"}
    )
    assert copied.status == 200
    assert _content(_call(proxy, "HEAD", "w15d/empty-copy")) == dict.fromkeys(EMPTY, "")


def test_an_empty_type_of_a_multipart_upload_is_kept(proxy: Proxy) -> None:
    created = _call(proxy, "POST", "w15d/empty-mp", "uploads", **{"Content-Type": ""})
    upload = re.search(rb"<UploadId>([^<]+)</UploadId>", created.body)
    assert upload is not None
    upload_id = upload.group(1).decode()
    part = _call(proxy, "PUT", "w15d/empty-mp", f"partNumber=1&uploadId={upload_id}", b"abc")
    xml = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{part.header('ETag')}</ETag></Part></CompleteMultipartUpload>"
    )
    done = _call(proxy, "POST", "w15d/empty-mp", f"uploadId={upload_id}", xml.encode())
    assert done.status == 200
    assert _call(proxy, "HEAD", "w15d/empty-mp").header("Content-Type") == ""


def test_part_one_of_an_empty_object_is_the_object(proxy: Proxy) -> None:
    assert _call(proxy, "PUT", "w15d/zero").status == 200
    for method in ("GET", "HEAD"):
        response = _call(proxy, method, "w15d/zero", "partNumber=1")
        assert (response.status, response.body) == (200, b"")
        assert response.header("Content-Length") == "0"
        assert response.header("Content-Range") is None
    past = _call(proxy, "GET", "w15d/zero", "partNumber=2")
    assert (past.status, past.error_code) == (416, "InvalidPartNumber")
