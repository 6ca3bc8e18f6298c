"""Conditional requests, dates and tag order as S3 answers them, on every lane (wave 16 D).

Before: an If-Modified-Since later than now was 304 (GET/HEAD) or 412 (CopyObject,
UploadPartCopy) on every lane, where S3 ignores such a date; a date the gateway reads (RFC
850's layout with a four-digit year) was 400 on SeaweedFS and Ceph RGW, 200 on the local
store; a GET whose If-Unmodified-Since and If-Modified-Since both failed was 304 on Ceph RGW
(412 elsewhere, as S3 orders them); a CopyObject whose ``x-amz-copy-source-if-match`` listed
the source's ETag among others was 412 on SeaweedFS; a 412 the gateway decided itself (an ETag
list, which no store is asked) carried the object's ETag and Last-Modified on every lane,
where a 412 a store decides carries neither; the local store answered
GetObjectTagging in the order the tags were set (SeaweedFS and Ceph RGW by key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"


def _status(call: Callable[[], Any]) -> tuple[int, str | None]:
    try:
        response = call()
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"].get(
            "Condition"
        )
    return response["ResponseMetadata"]["HTTPStatusCode"], None


def test_dates_and_precedence_as_s3_answers_them(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    access, secret = proxy.keys("alice")
    s3.put_object(Bucket=BUCKET, Key="w16d-dated", Body=b"hello")
    head = s3.head_object(Bucket=BUCKET, Key="w16d-dated")
    etag = head["ETag"]
    modified = head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    seconds = parsedate_to_datetime(modified).timestamp()
    ahead = formatdate(time.time() + 86400, usegmt=True)
    before = formatdate(seconds - 3600, usegmt=True)
    url = object_url(proxy.endpoint, BUCKET, "w16d-dated")
    for method in ("GET", "HEAD"):
        got = signed(method, url, access, secret, {"If-Modified-Since": ahead})
        assert got.status == 200, method
        spelled = time.strftime("%A, %d-%b-%Y %H:%M:%S GMT", time.gmtime(seconds - 3600))
        got = signed(method, url, access, secret, {"If-Modified-Since": spelled})
        assert got.status == 200, method
        both = {"If-Unmodified-Since": before, "If-Modified-Since": modified}
        got = signed(method, url, access, secret, both)
        assert got.status == 412, method
        got = signed(method, url, access, secret, {"If-Match": '"a", "b"'})  # decided here
        assert (got.status, got.header("ETag"), got.header("Last-Modified")) == (412, None, None)
    source = {"Bucket": BUCKET, "Key": "w16d-dated"}
    copied = s3.copy_object(
        Bucket=BUCKET, Key="w16d-copy", CopySource=source, CopySourceIfModifiedSince=ahead
    )
    assert copied["CopyObjectResult"]["ETag"] == etag
    listed = f'"00000000000000000000000000000000", {etag}'
    assert _status(
        lambda: s3.copy_object(
            Bucket=BUCKET, Key="w16d-copy", CopySource=source, CopySourceIfMatch=listed
        )
    ) == (200, None)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="w16d-part")["UploadId"]
    try:
        part = s3.upload_part_copy(
            Bucket=BUCKET,
            Key="w16d-part",
            UploadId=upload,
            PartNumber=1,
            CopySource=source,
            CopySourceIfModifiedSince=ahead,
        )
        assert part["CopyPartResult"]["ETag"] == etag
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key="w16d-part", UploadId=upload)


def test_object_tags_are_answered_in_key_order(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key="w16d-tagged", Body=b"x", Tagging="z=1&a=2&M=3&%C3%A9=4")
    keys = [tag["Key"] for tag in s3.get_object_tagging(Bucket=BUCKET, Key="w16d-tagged")["TagSet"]]
    assert keys == ["M", "a", "z", "é"]
