"""A copy whose source is missing names the source, as S3's error does (wave 11, G).

AWS answers CopyObject and UploadPartCopy from a missing source key with 404 NoSuchKey whose
``<Key>`` is the source key, and from a missing source bucket with 404 NoSuchBucket whose
``<BucketName>`` is the source bucket. The proxy named the request's own key and bucket, the
destination's ("the bucket docs does not exist" while writing into docs). A destination's own
NoSuchKey (If-Match on a missing destination) still names the destination.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration


def error_of(proxy: Proxy, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    answer = signed(method, url, *proxy.keys("alice"), headers)
    assert answer.status == 404, answer.body
    return {child.tag: child.text or "" for child in ET.fromstring(answer.body)}


def test_a_missing_copy_source_is_named_in_the_error(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "w11g-" + os.urandom(4).hex()
    s3.put_object(Bucket="docs", Key=name + "-src", Body=b"source")
    plain = s3.create_multipart_upload(Bucket="docs", Key=name)["UploadId"]
    summed = s3.create_multipart_upload(Bucket="docs", Key=name, ChecksumAlgorithm="SHA256")
    uploads = (plain, summed["UploadId"])
    try:
        targets = [object_url(proxy.endpoint, "docs", name)] + [
            object_url(proxy.endpoint, "docs", name, f"partNumber=1&uploadId={upload}")
            for upload in uploads
        ]
        for url in targets:
            missing_key = {"x-amz-copy-source": f"docs/{name}-gone"}
            got = error_of(proxy, "PUT", url, missing_key)
            assert (got["Code"], got["Key"]) == ("NoSuchKey", f"{name}-gone"), url
            missing_bucket = {"x-amz-copy-source": f"{name}-no-bucket/{name}-src"}
            got = error_of(proxy, "PUT", url, missing_bucket)
            assert (got["Code"], got["BucketName"]) == ("NoSuchBucket", f"{name}-no-bucket"), url
        # If-Match on a destination that does not exist: the destination's NoSuchKey
        headers = {"x-amz-copy-source": f"docs/{name}-src", "If-Match": '"0123abcd"'}
        got = error_of(proxy, "PUT", targets[0], headers)
        assert (got["Code"], got["Key"]) == ("NoSuchKey", name)
    finally:
        for upload in uploads:
            s3.abort_multipart_upload(Bucket="docs", Key=name, UploadId=upload)
        s3.delete_object(Bucket="docs", Key=name + "-src")


ARN_SOURCES = (
    "arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/{name}-src",
    "arn%3Aaws%3As3%3Aus-east-1%3A123456789012%3Aaccesspoint%2Fap%2Fobject%2F{name}-src",
    "/arn:aws:s3-outposts:us-east-1:123456789012:outpost/op-1/accesspoint/ap/object/{name}-src",
)


@pytest.mark.one_lane  # decided from the header, before any backend call
def test_a_copy_source_named_by_an_arn_is_not_implemented(proxy: Proxy) -> None:
    """Access points do not exist here: a source ARN is 501 NotImplemented, where it was read
    as bucket ``arn:aws:s3:...:accesspoint`` (404 NoSuchBucket), and nothing is written."""
    s3 = proxy.client("alice")
    name = "w11g-" + os.urandom(4).hex()
    upload = s3.create_multipart_upload(Bucket="docs", Key=name)["UploadId"]
    try:
        for url in (
            object_url(proxy.endpoint, "docs", name),
            object_url(proxy.endpoint, "docs", name, f"partNumber=1&uploadId={upload}"),
        ):
            for source in ARN_SOURCES:
                headers = {"x-amz-copy-source": source.format(name=name)}
                answer = signed("PUT", url, *proxy.keys("alice"), headers)
                assert (answer.status, answer.error_code) == (501, "NotImplemented"), source
        assert s3.list_parts(Bucket="docs", Key=name, UploadId=upload).get("Parts", []) == []
        assert "Contents" not in s3.list_objects_v2(Bucket="docs", Prefix=name)
    finally:
        s3.abort_multipart_upload(Bucket="docs", Key=name, UploadId=upload)


@pytest.mark.one_lane  # the header's decoding, before any backend call
def test_a_bare_plus_in_a_copy_source_is_a_space(proxy: Proxy) -> None:
    """S3 decodes x-amz-copy-source as a form value: a bare ``+`` is a space, and a key with a
    plus sign is sent as ``%2B`` (botocore, s3cmd and rclone do; clients that sent it bare got
    the key with a space, or NoSuchKey, from AWS). The proxy copied the key with the plus."""
    s3 = proxy.client("alice")
    name = "w11g-" + os.urandom(4).hex()
    s3.put_object(Bucket="docs", Key=f"{name} a b", Body=b"space")
    s3.put_object(Bucket="docs", Key=f"{name}+a+b", Body=b"plus")
    url = object_url(proxy.endpoint, "docs", name + "-copy")
    try:
        for source, body in ((f"docs/{name}+a+b", b"space"), (f"docs/{name}%2Ba%2Bb", b"plus")):
            answer = signed("PUT", url, *proxy.keys("alice"), {"x-amz-copy-source": source})
            assert answer.status == 200, answer.body
            assert s3.get_object(Bucket="docs", Key=name + "-copy")["Body"].read() == body
    finally:
        for key in (f"{name} a b", f"{name}+a+b", name + "-copy"):
            s3.delete_object(Bucket="docs", Key=key)
