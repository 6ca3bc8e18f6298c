"""Every timestamp a client reads is in S3's form, on every lane (wave 11, M).

S3 writes each time in an XML answer as ``2026-12-04T21:41:45.000Z`` (UTC, whole seconds: the
fraction is always ``000``) and each HTTP date as the IMF-fixdate (``Fri, 04 Dec 2026 21:41:45
GMT``), the same second for one object. SeaweedFS writes its
listing times without milliseconds (``2026-12-04T21:41:45Z``), and they reached clients as it
wrote them: an upstream's quirk, and a tool comparing listings from two lanes as text saw two
times for one object. Each document the proxy writes is read here raw, not through botocore
(which reads either form). Ceph RGW lists milliseconds (``…:45.584Z``) where its HEAD says
``…:45``, so ``aws s3 sync --exact-timestamps`` downloaded every file again on every run there
(wave 14 H: a listing's time is now HEAD's second on every lane).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z")
HTTP_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d:\d\d GMT"
)


def call(
    proxy: Proxy,
    method: str,
    key: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    bucket: str = BUCKET,
) -> RawResponse:
    url = object_url(proxy.endpoint, bucket, key, query)
    if not bucket:
        url = proxy.endpoint + "/" + (f"?{query}" if query else "")
    response = signed(method, url, *proxy.keys("alice"), headers, body)
    assert response.status in (200, 204, 304), (method, key, query, response.status, response.body)
    return response


def times(response: RawResponse, *names: str) -> list[str]:
    """The text of every element called one of ``names``, anywhere in the document."""
    root = ET.fromstring(response.body)
    return [
        element.text or "" for element in root.iter() if element.tag.rpartition("}")[2] in names
    ]


def test_every_timestamp_is_in_s3s_form(proxy: Proxy) -> None:
    """ListObjects V1/V2, ListObjectVersions, ListBuckets, CopyObject, UploadPartCopy,
    ListParts and ListMultipartUploads write ``…:SS.000Z``; HEAD, GET and a 304 carry an
    IMF-fixdate Last-Modified, the second the listings name."""
    prefix = f"w11m-{os.urandom(4).hex()}/"
    listed = quote(prefix, safe="")
    source, copy, upload_key = prefix + "a", prefix + "b", prefix + "up"
    seen: dict[str, list[str]] = {}
    call(proxy, "PUT", source, body=b"x" * 10)
    copied = call(proxy, "PUT", copy, headers={"x-amz-copy-source": f"/{BUCKET}/{source}"})
    seen["CopyObject"] = times(copied, "LastModified")
    created = call(proxy, "POST", upload_key, "uploads")
    upload = ET.fromstring(created.body).findtext("{*}UploadId") or ""
    try:
        part_copy = call(
            proxy,
            "PUT",
            upload_key,
            f"partNumber=1&uploadId={upload}",
            headers={"x-amz-copy-source": f"/{BUCKET}/{source}"},
        )
        seen["UploadPartCopy"] = times(part_copy, "LastModified")
        parts = call(proxy, "GET", upload_key, f"uploadId={upload}")
        seen["ListParts"] = times(parts, "LastModified")
        uploads = call(proxy, "GET", None, f"uploads&prefix={listed}")
        seen["ListMultipartUploads"] = times(uploads, "Initiated")
        for name, query in (
            ("ListObjects", f"prefix={listed}"),
            ("ListObjectsV2", f"list-type=2&prefix={listed}"),
            ("ListObjectVersions", f"versions&prefix={listed}"),
        ):
            seen[name] = times(call(proxy, "GET", None, query), "LastModified")
        seen["ListBuckets"] = times(call(proxy, "GET", bucket=""), "CreationDate")
        head = call(proxy, "HEAD", source)
        modified = head.header("Last-Modified") or ""
        dates = {
            "HEAD": modified,
            "GET": call(proxy, "GET", source).header("Last-Modified") or "",
            "304": call(proxy, "GET", source, headers={"If-Modified-Since": modified}).header(
                "Last-Modified"
            )
            or "",
        }
    finally:
        call(proxy, "DELETE", upload_key, f"uploadId={upload}")
        for key in (source, copy):
            call(proxy, "DELETE", key)
    assert all(seen.values()), seen  # each answer had its timestamps
    odd = {name: found for name, found in seen.items() if not all(map(ISO.fullmatch, found))}
    assert odd == {}, odd
    assert {name: date for name, date in dates.items() if not HTTP_DATE.fullmatch(date)} == {}
    listed_second = datetime.strptime(seen["ListObjectsV2"][0], "%Y-%m-%dT%H:%M:%S.000Z")
    assert listed_second.replace(tzinfo=UTC) == parsedate_to_datetime(modified)
