"""A Complete's whole-object checksum the gateway cannot check, answered as S3 answers it, on
every lane (wave 16 C2, wave 17 C).

The gateway compares a whole-object ``x-amz-checksum-<alg>`` sent with Complete only in the
upload's algorithm. One of another algorithm, or any in an upload created without one, was
answered 200 on every lane and compared with nothing. Wave 16 C2 refused both (400
InvalidRequest "Checksum Type mismatch …") while S3's answer was unknown; S3 answers the first
400 BadDigest naming the upload's algorithm, and nothing is made (the upload stays, and a
Complete without the header finishes it). The second can be compared with nothing; LocalStack's
code completes it without looking, but a 200 would say the checksum was checked, so it stays
400 InvalidRequest ("expected checksum Type: null", UploadPart's wording), nothing made.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET, _plain_client

pytestmark = pytest.mark.integration

BODY = b"a part whose upload names no SHA-256" * 20
SHA256 = "n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU="
CRC32 = "AAAAAA=="
BAD_DIGEST = "The crc32 you specified did not match the calculated checksum."
NULL_MISMATCH = (
    "Checksum Type mismatch occurred, expected checksum Type: null, actual checksum Type: crc32"
)


def _complete(s3: Any, ids: dict[str, str], part: dict[str, Any], **whole: str) -> Any:
    return s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [part]}, **whole)


def _refused(
    s3: Any, ids: dict[str, str], part: dict[str, Any], error: dict[str, str], **whole: str
) -> None:
    with pytest.raises(ClientError) as refused:
        _complete(s3, ids, part, **whole)
    answer = refused.value.response
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]) == (400, error)
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key=ids["Key"])
    assert missing.value.response["Error"]["Code"] == "404"


def test_a_whole_object_checksum_the_upload_has_not_is_refused(
    proxy: Proxy,
) -> None:
    s3 = _plain_client(proxy)
    ids = {"Bucket": BUCKET, "Key": "w16c2/crc32"}
    ids["UploadId"] = s3.create_multipart_upload(**ids, ChecksumAlgorithm="CRC32")["UploadId"]
    sent = s3.upload_part(**ids, PartNumber=1, Body=BODY, ChecksumAlgorithm="CRC32")
    part = {"PartNumber": 1, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]}
    _refused(s3, ids, part, {"Code": "BadDigest", "Message": BAD_DIGEST}, ChecksumSHA256=SHA256)
    done = _complete(s3, ids, part)
    assert done["ChecksumType"] == "COMPOSITE"

    ids = {"Bucket": BUCKET, "Key": "w16c2/none"}
    ids["UploadId"] = s3.create_multipart_upload(**ids)["UploadId"]
    part = {"PartNumber": 1, "ETag": s3.upload_part(**ids, PartNumber=1, Body=BODY)["ETag"]}
    null = {"Code": "InvalidRequest", "Message": NULL_MISMATCH}
    _refused(s3, ids, part, null, ChecksumCRC32=CRC32)  # nothing to compare it with
    assert _complete(s3, ids, part)["ETag"] == s3.head_object(Bucket=BUCKET, Key=ids["Key"])["ETag"]
