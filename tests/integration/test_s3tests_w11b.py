"""What ceph/s3-tests checks of copies, tags, part reads and object lock that the other ports
(tests/integration/test_s3tests_*.py) left out, restated in our own words, on every lane. Each
check names the s3-tests functions it stands for; where s3-tests asserts what only RGW does,
the check follows AWS and says so."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3tests import MakeBucket, body_of, bucket_factory, failure

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def test_a_copy_that_replaces_the_metadata_keeps_the_source_tags(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_object_copy_to_itself_with_metadata, test_object_copy_replacing_metadata, with
    the source tagged (s3-tests looks at the metadata only): the tagging directive defaults to
    COPY whatever the metadata directive says, so on S3 the copy keeps the source's tags — a
    copy elsewhere, a copy onto itself with new metadata, and one that only changes the
    class. Ceph RGW 16 dropped them in all three."""
    s3 = proxy.client("alice")
    bucket = make_bucket()
    tags = [{"Key": "team", "Value": "blue"}]
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789", Tagging="team=blue")
    source = {"Bucket": bucket, "Key": "src"}
    for key, metadata in (("dst", {"a": "1"}), ("src", {"b": "2"})):
        replace = {"MetadataDirective": "REPLACE", "Metadata": metadata}
        s3.copy_object(Bucket=bucket, Key=key, CopySource=source, **replace)
    for key, metadata in (("dst", {"a": "1"}), ("src", {"b": "2"})):
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == tags, key
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["Metadata"], head.get("TagCount")) == (metadata, 1), key
    s3.copy_object(Bucket=bucket, Key="src", CopySource=source, StorageClass="STANDARD_IA")
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == tags
    assert body_of(s3.get_object(Bucket=bucket, Key="src")) == b"0123456789"


def test_part_one_of_a_plain_object_is_a_range_of_all_of_it(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_non_multipart_get_part (newer s3-tests): an object not uploaded in parts is one
    part, so ``partNumber=1`` reads all of it — on S3 as a range, 206 with ``Content-Range:
    bytes 0-(n-1)/n`` on GET and HEAD, and without ``x-amz-mp-parts-count`` (a multipart
    object's). The local store and Ceph RGW 16 answered 200 without the range, SeaweedFS added
    a parts count of 1. Part 2 is 416 InvalidPartNumber, as on S3 (s3-tests asserts RGW's 400
    InvalidPart)."""
    s3 = proxy.client("alice")
    bucket = make_bucket()
    etag = s3.put_object(Bucket=bucket, Key="plain", Body=b"body")["ETag"]
    for read in (s3.get_object, s3.head_object):
        answer = read(Bucket=bucket, Key="plain", PartNumber=1)
        headers = answer["ResponseMetadata"]["HTTPHeaders"]
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206, read
        assert (headers.get("content-range"), answer["ContentLength"]) == ("bytes 0-3/4", 4)
        assert (answer["ETag"], "x-amz-mp-parts-count" in headers) == (etag, False), read
    assert body_of(s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)) == b"body"
    for read in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as excinfo:
            read(Bucket=bucket, Key="plain", PartNumber=2)
        assert failure(excinfo)[0] == 416, read


def test_the_earlier_upload_of_a_resent_part_is_no_longer_a_part(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_multipart_upload_resend_part, with the part sent again with other bytes: the new
    upload replaces the old one, so a Complete naming the old ETag is 400 InvalidPart and
    creates nothing, as on S3; the new ETag completes with the new bytes. SeaweedFS 4.48 kept
    both uploads and completed the old bytes with a 200. The second upload waits for the next
    second: SeaweedFS lists part times in whole seconds, and uploads within one second cannot
    be told apart (either is then taken)."""
    s3 = proxy.client("alice")
    bucket = make_bucket()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = {"Bucket": bucket, "Key": "m", "UploadId": upload, "PartNumber": 1}
    old = s3.upload_part(**part, Body=b"old bytes")["ETag"]
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.05)
    new = s3.upload_part(**part, Body=b"new bytes")["ETag"]
    complete = {"Bucket": bucket, "Key": "m", "UploadId": upload}
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            **complete, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": old}]}
        )
    assert failure(excinfo) == (400, "InvalidPart")
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="m")
    assert failure(excinfo)[0] == 404
    s3.complete_multipart_upload(
        **complete, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": new}]}
    )
    assert body_of(s3.get_object(Bucket=bucket, Key="m")) == b"new bytes"
