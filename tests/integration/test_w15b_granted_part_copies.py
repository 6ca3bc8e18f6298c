"""UploadPartCopy from another tenant's object granted by its own ACL alone, into the caller's
upload created with a checksum algorithm (wave 15 B), on every lane. Such a source is read
through the gateway (s3proxy/pinned_source.py), and on the local store the part went in
without a checksum, so the store refused it as a client's part (400 InvalidRequest "Checksum
Type mismatch") where S3 copies it and gives the part the upload's checksum. Now the part is
summed as it passes, answered in CopyPartResult, and the upload completes with it."""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BODY = os.urandom(6000)


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.fixture()
def buckets(proxy: Proxy) -> Iterator[tuple[str, str]]:
    alices, bobs = "w15b-pa-" + os.urandom(4).hex(), "w15b-pb-" + os.urandom(4).hex()
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


def test_a_part_copied_from_an_object_granted_by_its_acl_into_a_checksummed_upload(
    proxy: Proxy, buckets: tuple[str, str]
) -> None:
    alices, bobs = buckets
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_object(Bucket=alices, Key="src", Body=BODY, ACL="public-read")
    source = {"Bucket": alices, "Key": "src"}
    for key, extra, part in (
        ("whole", {}, BODY),
        ("range", {"CopySourceRange": "bytes=0-99"}, BODY[:100]),
    ):
        upload = bob.create_multipart_upload(Bucket=bobs, Key=key, ChecksumAlgorithm="CRC32")
        copied = bob.upload_part_copy(
            Bucket=bobs,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=1,
            CopySource=source,
            **extra,
        )["CopyPartResult"]  # was 400 InvalidRequest on the local store
        assert copied["ChecksumCRC32"] == _crc32(part)
        done = {"PartNumber": 1, "ETag": copied["ETag"], "ChecksumCRC32": _crc32(part)}
        bob.complete_multipart_upload(
            Bucket=bobs, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": [done]}
        )
        assert bob.get_object(Bucket=bobs, Key=key)["Body"].read() == part
