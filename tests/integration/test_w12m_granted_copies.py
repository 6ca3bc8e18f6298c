"""CopyObject out of another tenant's bucket whose ACL grants the caller READ (wave 12 M), on
every lane: S3 copies a source the caller may read into the caller's bucket; the gateway
answered NoSuchBucket. Now the copy is carried out as any copy is (source conditions, the
metadata and tagging directives), the write is the caller's, and nothing of the owner's
changes; a bucket that grants nothing still answers NoSuchBucket."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BODY = b"alice's bytes"


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


@pytest.fixture()
def buckets(proxy: Proxy) -> Iterator[tuple[str, str]]:
    """alice's private bucket holding ``src`` (metadata, no tags: a tagged source's tags are
    not bob's to copy, test_w15b_foreign_tags), and bob's empty one."""
    alices, bobs = "w12m-a-" + os.urandom(4).hex(), "w12m-b-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.create_bucket(Bucket=alices)
    alice.put_object(Bucket=alices, Key="src", Body=BODY, Metadata={"from": "alice"})
    bob.create_bucket(Bucket=bobs)
    yield alices, bobs
    for s3, name in ((alice, alices), (bob, bobs)):
        s3.put_bucket_acl(Bucket=name, ACL="private")
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize("acl", ["public-read", "authenticated-read"])
def test_a_copy_out_of_a_bucket_that_grants_read(
    proxy: Proxy, buckets: tuple[str, str], acl: str
) -> None:
    alices, bobs = buckets
    alice, bob = proxy.client("alice"), proxy.client("bob")
    source = {"Bucket": alices, "Key": "src"}
    assert refused(lambda: bob.copy_object(Bucket=bobs, Key="c", CopySource=source)) == (
        404,
        "NoSuchBucket",
    )
    alice.put_bucket_acl(Bucket=alices, ACL=acl)
    etag = alice.head_object(Bucket=alices, Key="src")["ETag"]
    copied = bob.copy_object(Bucket=bobs, Key="c", CopySource=source)  # was NoSuchBucket
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = bob.get_object(Bucket=bobs, Key="c")
    assert (got["Body"].read(), got["Metadata"]) == (BODY, {"from": "alice"})
    assert bob.get_object_tagging(Bucket=bobs, Key="c")["TagSet"] == []
    bob.copy_object(
        Bucket=bobs,
        Key="r",
        CopySource=source,
        MetadataDirective="REPLACE",
        Metadata={"from": "bob"},
        TaggingDirective="REPLACE",
        Tagging="k=v",
        CopySourceIfMatch=etag,
    )
    replaced = bob.head_object(Bucket=bobs, Key="r")
    assert (replaced["Metadata"], replaced["ContentLength"]) == ({"from": "bob"}, len(BODY))
    assert bob.get_object_tagging(Bucket=bobs, Key="r")["TagSet"] == [{"Key": "k", "Value": "v"}]
    stale = refused(
        lambda: bob.copy_object(Bucket=bobs, Key="x", CopySource=source, CopySourceIfNoneMatch=etag)
    )
    assert stale == (412, "PreconditionFailed")
    missing = {"Bucket": alices, "Key": "missing"}
    assert refused(lambda: bob.copy_object(Bucket=bobs, Key="x", CopySource=missing)) == (
        404,
        "NoSuchKey",
    )
    # Only into bob's own buckets, and nothing of alice's changed.
    into = refused(lambda: bob.copy_object(Bucket=alices, Key="x", CopySource=source))
    assert into == (403, "AccessDenied")  # S3's answer in a bucket bob may list (w13c)
    keys = [item["Key"] for item in bob.list_objects_v2(Bucket=bobs)["Contents"]]
    assert keys == ["c", "r"]
    assert [item["Key"] for item in alice.list_objects_v2(Bucket=alices)["Contents"]] == ["src"]
    assert alice.get_object(Bucket=alices, Key="src")["Body"].read() == BODY
    alice.put_bucket_acl(Bucket=alices, ACL="private")
    assert refused(lambda: bob.copy_object(Bucket=bobs, Key="c", CopySource=source)) == (
        404,
        "NoSuchBucket",
    )


@pytest.mark.parametrize("algorithm", [None, "CRC32"])
def test_a_part_copied_out_of_a_public_read_bucket(
    proxy: Proxy, buckets: tuple[str, str], algorithm: str | None
) -> None:
    """UploadPartCopy (a range, into bob's upload; with a checksum the part is summed as it
    passes through) from alice's public-read bucket: was NoSuchBucket."""
    alices, bobs = buckets
    alice, bob = proxy.client("alice"), proxy.client("bob")
    summed = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    upload = bob.create_multipart_upload(Bucket=bobs, Key="p", **summed)["UploadId"]
    part = {
        "Bucket": bobs,
        "Key": "p",
        "UploadId": upload,
        "PartNumber": 1,
        "CopySource": {"Bucket": alices, "Key": "src"},
        "CopySourceRange": "bytes=0-6",
    }
    assert refused(lambda: bob.upload_part_copy(**part)) == (404, "NoSuchBucket")
    alice.put_bucket_acl(Bucket=alices, ACL="public-read")
    copied = bob.upload_part_copy(**part)["CopyPartResult"]
    done = {"PartNumber": 1, "ETag": copied["ETag"]}
    if algorithm:
        done["ChecksumCRC32"] = copied["ChecksumCRC32"]
    bob.complete_multipart_upload(
        Bucket=bobs, Key="p", UploadId=upload, MultipartUpload={"Parts": [done]}
    )
    assert bob.get_object(Bucket=bobs, Key="p")["Body"].read() == BODY[:7]
    assert [item["Key"] for item in alice.list_objects_v2(Bucket=alices)["Contents"]] == ["src"]
