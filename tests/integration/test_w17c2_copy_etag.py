"""A CopyObject of a multipart object gets S3's ETag: the MD5 of the bytes copied (wave 17 C2).

AWS's Object reference ("ETag"): an object created by PUT, POST or Copy, plaintext or SSE-S3,
has the MD5 digest of its data as ETag; only Multipart Upload and UploadPartCopy make one that
is not. S3 gives a copy of a multipart source (``…-N``) the MD5 of its bytes (minio/minio#2934,
localstack/localstack#3729, both checked against S3). Every lane kept the source's ``-N`` ETag:
the local store copies the row, SeaweedFS 4.48 and Ceph RGW 16 copy it server-side. A client
that checks an MD5 ETag (rclone, aws s3 sync, s3cmd) then takes the copy for something else.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def test_a_copy_of_a_multipart_object_gets_the_md5_of_its_bytes(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    data = os.urandom(100_000)
    ids = {"Bucket": BUCKET, "Key": "w17c2/multipart"}
    upload = s3.create_multipart_upload(**ids)["UploadId"]
    part = s3.upload_part(**ids, UploadId=upload, PartNumber=1, Body=data)
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    done = s3.complete_multipart_upload(**ids, UploadId=upload, MultipartUpload=parts)
    assert done["ETag"].endswith('-1"')
    md5 = f'"{hashlib.md5(data).hexdigest()}"'
    copied = s3.copy_object(Bucket=BUCKET, Key="w17c2/copy", CopySource=ids, Metadata={"a": "b"},
                            MetadataDirective="REPLACE")  # fmt: skip
    assert copied["CopyObjectResult"]["ETag"] == md5
    head = s3.head_object(Bucket=BUCKET, Key="w17c2/copy")
    assert (head["ETag"], head["ContentLength"], head["Metadata"]) == (md5, len(data), {"a": "b"})
    assert s3.get_object(Bucket=BUCKET, Key="w17c2/copy")["Body"].read() == data
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="w17c2/copy")["Contents"]
    assert [entry["ETag"] for entry in listed] == [md5]
    assert "PartsCount" not in s3.head_object(Bucket=BUCKET, Key="w17c2/copy", PartNumber=1)
    # The source again over the copy (COPY: the source's metadata, none): MD5 still.
    again = s3.copy_object(Bucket=BUCKET, Key="w17c2/copy", CopySource=ids)
    assert again["CopyObjectResult"]["ETag"] == md5
    assert s3.head_object(Bucket=BUCKET, Key="w17c2/copy")["Metadata"] == {}
    assert s3.head_object(**ids)["ETag"] == done["ETag"]  # the source keeps its own
    # Onto itself with new metadata (how clients change an object's metadata): MD5 as well.
    itself = s3.copy_object(**ids, CopySource=ids, Metadata={"c": "d"}, MetadataDirective="REPLACE")
    assert itself["CopyObjectResult"]["ETag"] == md5
    got = s3.get_object(**ids)
    assert (got["ETag"], got["Metadata"], got["Body"].read()) == (md5, {"c": "d"}, data)
