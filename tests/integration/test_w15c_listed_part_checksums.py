"""A Complete that lists part checksums for an upload created without a checksum algorithm
is S3's 400 InvalidPart (wave 15 C).

SDKs since 2025 send a CRC32 with every UploadPart, also into an upload created without an
algorithm, and some copy it into Complete's part list. S3 keeps no checksum of that
algorithm for such parts and answers InvalidPart (versitygw's validatePartChecksum;
aws-sdk-go-v2#3005, aws-sdk-java-v2#6518 against S3). Every lane answered 200 and kept no
checksum, a 200 for a check the client asked for and nothing made. The same list without
the part checksums completes as before.
"""

from __future__ import annotations

import base64
import zlib

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET, _plain_client

pytestmark = pytest.mark.integration

BODY = b"one part, sent with its CRC32" * 10


def test_listed_part_checksums_of_an_upload_without_algorithm(proxy: Proxy) -> None:
    s3 = _plain_client(proxy)
    key = "w15c/listed-without-algorithm"
    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(**ids)["UploadId"]
    crc = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
    sent = s3.upload_part(**ids, PartNumber=1, Body=BODY, ChecksumCRC32=crc)
    part = {"PartNumber": 1, "ETag": sent["ETag"]}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            **ids, MultipartUpload={"Parts": [{**part, "ChecksumCRC32": crc}]}
        )
    answer = refused.value.response
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"]) == (
        400,
        "InvalidPart",
    )
    with pytest.raises(ClientError):  # nothing stored
        s3.head_object(Bucket=BUCKET, Key=key)
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [part]})
    assert "ChecksumCRC32" not in done  # the upload stayed open; its object claims none
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(BODY) and "ChecksumCRC32" not in head
