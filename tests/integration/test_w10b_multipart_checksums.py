"""Parts without a checksum in an upload created with one, and Complete's part checksums, on
every lane: S3's answers (s3proxy/part_algorithm.py says why). Before wave 10 every lane stored
such a part with no checksum, and completed a COMPOSITE upload whose parts were listed without
theirs with 200 (Ceph RGW, the local store) or an unexplained 400 (SeaweedFS)."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import TENANT_KEYS, Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"
_SHA256_OF_NOTHING_HERE = "n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU="


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _plain_client(proxy: Proxy) -> Any:
    """A client that sends checksums only where an operation requires one (boto3's
    ``when_required``, the behaviour of older SDKs and many tools): its parts carry none."""
    access, secret = TENANT_KEYS["alice"]
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            request_checksum_calculation="when_required",
        ),
    )


def _create(s3: Any, key: str, kind: str) -> dict[str, str]:
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32", ChecksumType=kind
    )
    return {"Bucket": BUCKET, "Key": key, "UploadId": created["UploadId"]}


def test_a_part_without_checksum_in_a_composite_upload_is_refused(proxy: Proxy) -> None:
    s3 = _plain_client(proxy)
    ids = _create(s3, "w10b/composite-bare-part", "COMPOSITE")
    with pytest.raises(ClientError) as refused:
        s3.upload_part(**ids, PartNumber=1, Body=b"no checksum here")
    error = refused.value.response["Error"]
    assert (refused.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"]) == (
        400,
        "InvalidRequest",
    )
    assert error["Message"] == (
        "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: null"
    )
    assert s3.list_parts(**ids).get("Parts", []) == []  # nothing stored
    s3.abort_multipart_upload(**ids)


def test_a_part_without_checksum_in_a_full_object_upload_is_summed(proxy: Proxy) -> None:
    """S3 sums such a part itself and answers its checksum; the object gets its checksum."""
    s3 = _plain_client(proxy)
    ids = _create(s3, "w10b/full-object-bare-part", "FULL_OBJECT")
    body = b"summed by the gateway" * 10
    sent = s3.upload_part(**ids, PartNumber=1, Body=body)
    assert sent.get("ChecksumCRC32") == _crc32(body)
    assert s3.list_parts(**ids)["Parts"][0].get("ChecksumCRC32") == _crc32(body)
    done = s3.complete_multipart_upload(
        **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": sent["ETag"]}]}
    )
    assert (done.get("ChecksumCRC32"), done.get("ChecksumType")) == (_crc32(body), "FULL_OBJECT")
    if proxy.backend != "CephRGW":  # Ceph RGW 16 keeps no flexible checksums (README)
        head = s3.head_object(Bucket=BUCKET, Key=ids["Key"], ChecksumMode="ENABLED")
        assert (head.get("ChecksumCRC32"), head.get("ChecksumType")) == (
            _crc32(body),
            "FULL_OBJECT",
        )


def test_complete_of_a_composite_upload_lists_every_part_checksum(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    ids = _create(s3, "w10b/composite-unlisted", "COMPOSITE")
    sent = s3.upload_part(**ids, PartNumber=1, Body=b"part one", ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": sent["ETag"]}]}
        )
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidRequest",
        "The upload was created using a crc32 checksum. The complete request must include the "
        "checksum for each part. It was missing for part 1 in the request.",
    )
    listed = {"PartNumber": 1, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]}
    done = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [listed]})
    assert done.get("ChecksumType") == "COMPOSITE"  # the upload stayed open for the retry


@pytest.mark.parametrize("kind", ["FULL_OBJECT", "COMPOSITE"])
def test_complete_listing_another_algorithms_part_checksum_is_bad_digest(
    proxy: Proxy, kind: str
) -> None:
    """A part checksum of another algorithm than the upload's was never verified: S3 answers
    BadDigest (every lane completed the upload with 200)."""
    s3 = proxy.client("alice")
    ids = _create(s3, f"w10b/other-algorithm-{kind}", kind)
    sent = s3.upload_part(**ids, PartNumber=1, Body=b"part one", ChecksumAlgorithm="CRC32")
    other = {"PartNumber": 1, "ETag": sent["ETag"], "ChecksumSHA256": _SHA256_OF_NOTHING_HERE}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [other]})
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "BadDigest",
        "The sha256 you specified for part 1 did not match what we received.",
    )
    s3.abort_multipart_upload(**ids)
