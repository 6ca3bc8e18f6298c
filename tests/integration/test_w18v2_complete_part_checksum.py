"""A Complete that lists a part checksum of the upload's own algorithm with a value other than
the part's is S3's 400 InvalidPart, on every lane (wave 18, V2).

S3 names a listed part by its checksum as by its ETag: a wrong value is a part not found
(versitygw's CompleteMultipartUpload_incorrect_checksum_part, run against S3, and its
validatePartChecksum). A checksum of another algorithm stays BadDigest
(test_w10b_multipart_checksums). Every lane answered BadDigest, as for a checksum of another
algorithm (the local store's own part check, s3proxy/backends/local/multipart.py, already said
InvalidPart). Nothing is stored and the upload stays open for a Complete with the right list.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET

pytestmark = pytest.mark.integration

BODY = b"one part, listed with a checksum of its own algorithm" * 8


def _sum(algorithm: str, body: bytes) -> str:
    if algorithm == "SHA1":
        return base64.b64encode(hashlib.sha1(body).digest()).decode()
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


@pytest.mark.parametrize(("algorithm", "kind"), [("SHA1", "COMPOSITE"), ("CRC32", "FULL_OBJECT")])
def test_a_wrong_part_checksum_of_the_uploads_algorithm_is_invalid_part(
    proxy: Proxy, algorithm: str, kind: str
) -> None:
    s3 = proxy.client("alice")
    key = f"w18v2/wrong-part-{algorithm}-{kind}"
    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(
        **ids, ChecksumAlgorithm=algorithm, ChecksumType=kind
    )["UploadId"]
    sent = s3.upload_part(**ids, PartNumber=1, Body=BODY, ChecksumAlgorithm=algorithm)
    field = f"Checksum{algorithm}"
    assert sent[field] == _sum(algorithm, BODY)
    wrong = {"PartNumber": 1, "ETag": sent["ETag"], field: _sum(algorithm, b"other bytes")}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [wrong]})
    answer = refused.value.response
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"]) == (
        400,
        "InvalidPart",
    )
    with pytest.raises(ClientError):  # nothing stored
        s3.head_object(Bucket=BUCKET, Key=key)
    right = {**wrong, field: sent[field]}
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [right]})
    assert done.get("ChecksumType") == kind  # the upload stayed open for the right list
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == BODY
