"""CopyObject and UploadPartCopy of another tenant's object granted by its own ACL alone, in a
private bucket (wave 14 C), on every lane: S3 copies it, the gateway answered NoSuchBucket. Now
it is copied (through the gateway, as the very object the ACL was set on: its bytes and
metadata; its tags are not the caller's to copy, test_w15b_foreign_tags), and an overwrite
makes it private again, copies included."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BODY = b"alice's public object " * 300  # 6.6 KB


@pytest.fixture()
def buckets(proxy: Proxy) -> Iterator[tuple[str, str]]:
    alices, bobs = "w14c-a-" + os.urandom(4).hex(), "w14c-b-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.create_bucket(Bucket=alices)
    bob.create_bucket(Bucket=bobs)
    yield alices, bobs
    for s3, name in ((alice, alices), (bob, bobs)):
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def test_an_object_granted_by_its_own_acl_is_copied(proxy: Proxy, buckets: tuple[str, str]) -> None:
    alices, bobs = buckets
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_object(
        Bucket=alices, Key="src", Body=BODY, ACL="public-read", Metadata={"from": "alice"}
    )  # fmt: skip
    alice.put_object(Bucket=alices, Key="other", Body=b"private")
    source = {"Bucket": alices, "Key": "src"}
    bob.copy_object(Bucket=bobs, Key="c", CopySource=source)  # was NoSuchBucket
    got = bob.get_object(Bucket=bobs, Key="c")
    assert (got["Body"].read(), got["Metadata"]) == (BODY, {"from": "alice"})
    assert bob.get_object_tagging(Bucket=bobs, Key="c")["TagSet"] == []
    upload = bob.create_multipart_upload(Bucket=bobs, Key="m")["UploadId"]
    part = bob.upload_part_copy(
        Bucket=bobs, Key="m", UploadId=upload, PartNumber=1, CopySource=source,
        CopySourceRange="bytes=0-99",
    )  # fmt: skip
    parts = [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]
    bob.complete_multipart_upload(
        Bucket=bobs, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert bob.get_object(Bucket=bobs, Key="m")["Body"].read() == BODY[:100]
    with pytest.raises(ClientError) as private:
        bob.copy_object(Bucket=bobs, Key="x", CopySource={"Bucket": alices, "Key": "other"})
    assert _code(private) == (404, "NoSuchBucket")
    alice.put_object(Bucket=alices, Key="src", Body=BODY)  # private again, as on S3
    with pytest.raises(ClientError) as overwritten:
        bob.copy_object(Bucket=bobs, Key="y", CopySource=source)
    assert _code(overwritten) == (404, "NoSuchBucket")
    keys = [item["Key"] for item in bob.list_objects_v2(Bucket=bobs)["Contents"]]
    assert keys == ["c", "m"]
