"""CompleteMultipartUpload's ``x-amz-mp-object-size`` (wave 10 E): the size the client expects
is compared with the listed parts' sizes, which the gateway lists on every lane before it
completes; a difference is S3's 400 InvalidRequest and the upload stays open. Before: 501."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def test_complete_checks_the_stated_object_size(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = f"w10e/size-{os.urandom(4).hex()}"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    ids = {"Bucket": BUCKET, "Key": key, "UploadId": upload_id}
    etag = s3.upload_part(**ids, PartNumber=1, Body=b"ten bytes!")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as caught:
        s3.complete_multipart_upload(**ids, MultipartUpload=parts, MpuObjectSize=11)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidRequest",
        "The provided 'x-amz-mp-object-size' header value 11 does not match what was computed: 10",
    )
    assert [part["PartNumber"] for part in s3.list_parts(**ids)["Parts"]] == [1]
    s3.complete_multipart_upload(**ids, MultipartUpload=parts, MpuObjectSize=10)
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == 10
    s3.delete_object(Bucket=BUCKET, Key=key)
