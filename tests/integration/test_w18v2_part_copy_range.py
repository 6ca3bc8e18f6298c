"""An UploadPartCopy range that runs past its source's end is S3's 400 InvalidArgument "Range
specified is not valid for source object of size: N" on every lane (wave 18, V2).

S3 answers so (versitygw#610 compared it with S3 directly; s3fs#321 met it on S3; versitygw's
UploadPartCopy_exceeding_copy_source_range and _greater_range_than_obj_size). Every lane
answered 416 InvalidRange, GetObject's answer, as its store gave it. Upload without and with a
checksum algorithm (the gateway copies the latter's parts itself, s3proxy.handlers
.part_copy_checksum); the upload stays usable: a range within the source copies.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET

pytestmark = pytest.mark.integration

SIZE = 1000


@pytest.mark.parametrize("algorithm", [None, "SHA256"])
def test_a_copy_range_past_the_source_is_invalid_argument(
    proxy: Proxy, algorithm: str | None
) -> None:
    s3 = proxy.client("alice")
    source = os.urandom(SIZE)
    s3.put_object(Bucket=BUCKET, Key="w18v2/range-source", Body=source)
    key = f"w18v2/range-target-{algorithm}"
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(**ids, **extra)["UploadId"]
    copy = {**ids, "CopySource": {"Bucket": BUCKET, "Key": "w18v2/range-source"}}
    for number, past in enumerate(("bytes=100-1005", "bytes=1250-3000", "bytes=100-1000"), 1):
        with pytest.raises(ClientError) as refused:
            s3.upload_part_copy(**copy, PartNumber=number, CopySourceRange=past)
        answer = refused.value.response
        assert (
            answer["ResponseMetadata"]["HTTPStatusCode"],
            answer["Error"]["Code"],
            answer["Error"]["Message"],
        ) == (
            400,
            "InvalidArgument",
            f"Range specified is not valid for source object of size: {SIZE}",
        ), past
    assert s3.list_parts(**ids).get("Parts", []) == []  # nothing copied
    done = s3.upload_part_copy(**copy, PartNumber=1, CopySourceRange="bytes=100-999")
    part = {"PartNumber": 1, "ETag": done["CopyPartResult"]["ETag"]}
    if algorithm:
        part[f"Checksum{algorithm}"] = done["CopyPartResult"][f"Checksum{algorithm}"]
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [part]})
    assert s3.get_object(**{k: ids[k] for k in ("Bucket", "Key")})["Body"].read() == source[100:]
