"""Multipart checksums as S3 keeps and compares them, on every lane (wave 16 C).

- A part sent with a checksum into an upload created without an algorithm is verified and
  answered, but S3 keeps no checksum for it: ListParts names none (versitygw, which mirrors S3;
  SeaweedFS 4.48 and Ceph RGW 16 list none), and Complete listing one is InvalidPart (wave 15).
  The local store listed it.
- A whole-object checksum sent with Complete is compared as S3 compares it: a COMPOSITE one
  may come without its ``-N`` (minio/minio#19670: S3 takes both), one with a count needs the
  right count, and a FULL_OBJECT one has none, else 400 BadDigest. The local store and Ceph RGW
  compared the digests only (a wrong count passed, 200); SeaweedFS refused a COMPOSITE
  checksum without its count with its own BadDigest text.
- A PutObject that sends a checksum is answered it with ``x-amz-checksum-type: FULL_OBJECT``, as
  S3 answers (botocore's PutObjectOutput.ChecksumType: "always FULL_OBJECT"); no type was sent.
- A ``partNumber`` read of a COMPOSITE object answers the part's own checksum with type
  COMPOSITE (LocalStack's S3 provider, checked against S3): the local store said FULL_OBJECT.
  SeaweedFS 4.48 answers no checksum on any ``partNumber`` read and keeps none per part after
  Complete, so the gateway claims none there (README "Multipart uploads"); Ceph RGW 16 serves
  no ``partNumber`` reads of multipart objects (501).
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET, _plain_client

pytestmark = pytest.mark.integration

BODY = b"a part with its CRC32" * 20
BAD_DIGEST = "The CRC32 you specified did not match the calculated checksum."


def _b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode()


CRC = _b64(zlib.crc32(BODY))
COMPOSITE = _b64(zlib.crc32(zlib.crc32(BODY).to_bytes(4, "big")))  # of the one part's CRC


def _one_part(s3: Any, key: str, **create: str) -> tuple[dict[str, str], dict[str, Any]]:
    ids = {"Bucket": BUCKET, "Key": key}
    ids["UploadId"] = s3.create_multipart_upload(**ids, **create)["UploadId"]
    sent = s3.upload_part(**ids, PartNumber=1, Body=BODY, ChecksumCRC32=CRC)
    assert sent.get("ChecksumCRC32") == CRC  # verified and answered in any upload
    return ids, {"PartNumber": 1, "ETag": sent["ETag"]}


def _complete(s3: Any, ids: dict[str, str], part: dict[str, Any], whole: str) -> Any:
    """Complete with ``x-amz-checksum-crc32: whole`` (boto3 has no parameter for a
    COMPOSITE value)."""

    def add(request: Any, **_: Any) -> None:
        request.headers["x-amz-checksum-crc32"] = whole

    event = "before-sign.s3.CompleteMultipartUpload"
    s3.meta.events.register(event, add)
    try:
        return s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [part]})
    finally:
        s3.meta.events.unregister(event, add)


def _bad_digest(s3: Any, ids: dict[str, str], part: dict[str, Any], whole: str) -> None:
    with pytest.raises(ClientError) as refused:
        _complete(s3, ids, part, whole)
    answer = refused.value.response
    error = {"Code": "BadDigest", "Message": BAD_DIGEST}
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]) == (400, error)


def test_a_part_checksum_in_an_upload_without_algorithm_is_not_listed(proxy: Proxy) -> None:
    s3 = _plain_client(proxy)
    ids, _ = _one_part(s3, "w16c/bare")
    listed = s3.list_parts(**ids)
    assert "ChecksumAlgorithm" not in listed
    assert [sorted(part) for part in listed["Parts"]] == [
        ["ETag", "LastModified", "PartNumber", "Size"]
    ]
    s3.abort_multipart_upload(**ids)


def test_a_whole_object_checksum_is_compared_as_s3_does(proxy: Proxy) -> None:
    s3 = _plain_client(proxy)
    ids, part = _one_part(s3, "w16c/composite", ChecksumAlgorithm="CRC32")
    part["ChecksumCRC32"] = CRC
    _bad_digest(s3, ids, part, f"{COMPOSITE}-2")  # one part, not two
    done = _complete(s3, ids, part, COMPOSITE)  # without its count: taken as the part count
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (f"{COMPOSITE}-1", "COMPOSITE")

    ids, part = _one_part(s3, "w16c/full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    part["ChecksumCRC32"] = CRC
    _bad_digest(s3, ids, part, f"{CRC}-1")  # a FULL_OBJECT checksum has no count
    done = _complete(s3, ids, part, CRC)
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (CRC, "FULL_OBJECT")


def test_a_part_read_of_a_composite_object_names_its_type(proxy: Proxy, backend: str) -> None:
    if backend == "ceph":
        pytest.skip("Ceph RGW 16 serves no partNumber reads of multipart objects (501)")
    s3 = _plain_client(proxy)
    ids, part = _one_part(s3, "w16c/part-read", ChecksumAlgorithm="CRC32")
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [{**part, "ChecksumCRC32": CRC}]})
    head = s3.head_object(Bucket=BUCKET, Key=ids["Key"], PartNumber=1, ChecksumMode="ENABLED")
    got = s3.get_object(Bucket=BUCKET, Key=ids["Key"], PartNumber=1, ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY  # botocore checked the checksum it was given
    for answer in (head, got):
        claimed = (answer.get("ChecksumCRC32"), answer.get("ChecksumType"))
        if backend == "seaweedfs":  # no part checksum is known there: none is claimed
            assert claimed == (None, None)
        else:
            assert claimed == (CRC, "COMPOSITE")


@pytest.mark.one_lane  # the handler's answer, whatever the backend
def test_a_put_object_checksum_is_answered_with_its_type(proxy: Proxy) -> None:
    put = proxy.client("alice").put_object(
        Bucket=BUCKET, Key="w16c/put", Body=BODY, ChecksumAlgorithm="CRC32"
    )
    assert (put.get("ChecksumCRC32"), put.get("ChecksumType")) == (CRC, "FULL_OBJECT")
