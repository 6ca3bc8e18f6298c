"""CopyObject's checksum, as S3 gives it (s3proxy/backends/copy_checksum.py says why): the
source's kept and answered in CopyObjectResult, a new one with ``x-amz-checksum-algorithm``,
and a multipart source's COMPOSITE checksum made the copy's FULL_OBJECT one. Ceph RGW 16 keeps
no flexible checksums at all (README), so there a copy has only what it was asked to sum."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
from awscrt import checksums as crt  # type: ignore[import-untyped]
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _crc32(data: bytes) -> str:
    return _b64(zlib.crc32(data).to_bytes(4, "big"))


def _sums(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in answer.items() if name.startswith("Checksum")}


def _head_sums(s3: Any, key: str) -> dict[str, Any]:
    return _sums(s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))


def test_a_copy_keeps_the_source_checksum_and_answers_it(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    body = b"copied with its checksum" * 40
    s3.put_object(Bucket=BUCKET, Key="w10b/kept-src", Body=body, ChecksumAlgorithm="CRC32C")
    source = _head_sums(s3, "w10b/kept-src")  # Ceph RGW 16: {}
    if proxy.backend != "CephRGW":
        assert source == {
            "ChecksumCRC32C": _b64(crt.crc32c(body).to_bytes(4, "big")),
            "ChecksumType": "FULL_OBJECT",
        }
    copied = s3.copy_object(
        Bucket=BUCKET, Key="w10b/kept-dst", CopySource={"Bucket": BUCKET, "Key": "w10b/kept-src"}
    )
    assert _sums(copied["CopyObjectResult"]) == source
    assert _head_sums(s3, "w10b/kept-dst") == source
    attributes = s3.get_object_attributes(
        Bucket=BUCKET, Key="w10b/kept-dst", ObjectAttributes=["Checksum"]
    )
    assert attributes.get("Checksum", {}) == source


def test_a_copy_with_checksum_algorithm_gets_a_new_checksum(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    body = b"summed again on the way" * 50
    s3.put_object(Bucket=BUCKET, Key="w10b/new-src", Body=body, ChecksumAlgorithm="CRC32")
    copied = s3.copy_object(
        Bucket=BUCKET,
        Key="w10b/new-dst",
        CopySource={"Bucket": BUCKET, "Key": "w10b/new-src"},
        ChecksumAlgorithm="SHA256",
    )
    sha256 = _b64(hashlib.sha256(body).digest())
    wanted = {"ChecksumSHA256": sha256, "ChecksumType": "FULL_OBJECT"}
    assert _sums(copied["CopyObjectResult"]) == wanted
    # A copy onto itself that changes only the checksum is a change, as on S3.
    onto_itself = s3.copy_object(
        Bucket=BUCKET,
        Key="w10b/new-src",
        CopySource={"Bucket": BUCKET, "Key": "w10b/new-src"},
        ChecksumAlgorithm="SHA1",
    )
    sha1 = {"ChecksumSHA1": _b64(hashlib.sha1(body).digest()), "ChecksumType": "FULL_OBJECT"}
    assert _sums(onto_itself["CopyObjectResult"]) == sha1
    assert s3.get_object(Bucket=BUCKET, Key="w10b/new-src")["Body"].read() == body
    if proxy.backend != "CephRGW":  # the copies keep only the new checksum
        assert _head_sums(s3, "w10b/new-dst") == wanted
        assert _head_sums(s3, "w10b/new-src") == sha1


def test_a_copy_of_a_multipart_object_gets_its_full_object_checksum(proxy: Proxy) -> None:
    """S3 copies in one action: the copy's checksum is the CRC32 of its bytes, not the
    source's COMPOSITE ``…-1`` (the copy is no multipart object). One small part is enough:
    a COMPOSITE checksum of one part is still the checksum of a checksum."""
    s3 = proxy.client("alice")
    ids = {"Bucket": BUCKET, "Key": "w10b/mp-src"}
    upload = s3.create_multipart_upload(**ids, ChecksumAlgorithm="CRC32")["UploadId"]
    pieces = [b"only part, " * 100]
    parts = []
    for number, piece in enumerate(pieces, 1):
        sent = s3.upload_part(
            **ids, UploadId=upload, PartNumber=number, Body=piece, ChecksumAlgorithm="CRC32"
        )
        parts.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumCRC32": _crc32(piece)})
    done = s3.complete_multipart_upload(**ids, UploadId=upload, MultipartUpload={"Parts": parts})
    assert done.get("ChecksumType") == "COMPOSITE"
    copied = s3.copy_object(Bucket=BUCKET, Key="w10b/mp-dst", CopySource=ids)
    if proxy.backend == "CephRGW":  # its source reports no checksum: nothing to copy
        assert _sums(copied["CopyObjectResult"]) == {}
        return
    wanted = {"ChecksumCRC32": _crc32(b"".join(pieces)), "ChecksumType": "FULL_OBJECT"}
    assert _sums(copied["CopyObjectResult"]) == wanted
    assert _head_sums(s3, "w10b/mp-dst") == wanted


@pytest.mark.one_lane
@pytest.mark.parametrize(
    ("algorithm", "status", "code"),
    [("CRC33", 400, "InvalidRequest"), ("SHA512", 501, "NotImplemented")],
)
def test_a_copy_checksum_algorithm_the_gateway_cannot_compute_is_refused(
    proxy: Proxy, algorithm: str, status: int, code: str
) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key="w10b/bad-alg", Body=b"x")
    with pytest.raises(ClientError) as refused:
        s3.copy_object(
            Bucket=BUCKET,
            Key="w10b/bad-alg-dst",
            CopySource={"Bucket": BUCKET, "Key": "w10b/bad-alg"},
            ChecksumAlgorithm=algorithm,
        )
    answer = refused.value.response
    assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"]) == (
        status,
        code,
    )
