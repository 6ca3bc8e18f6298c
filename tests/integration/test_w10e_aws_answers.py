"""AWS's exact answers, round 3 (wave 10 E): digests on bucket bodies, the message of a missing
one, and Complete's part checksums. Each refusal is decided before any backend call: one lane.

Sources: S3's common request headers (Content-MD5 is checked on any body); real S3 answers to a
bare PutBucketTagging / PutObjectLockConfiguration captured in versitygw issues 1521 and 1301
("Missing required header for this request: Content-MD5 OR x-amz-checksum-*"); OpenStack
Swift's s3api checksum tests, written against AWS, for Complete's InvalidArgument.
"""

from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
import zlib

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = [pytest.mark.integration, pytest.mark.one_lane]

BUCKET = "docs"
CONFIGURATION = (
    b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"</CreateBucketConfiguration>"
)
MISSING = "Missing required header for this request: Content-MD5 OR x-amz-checksum-*"


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def crc32(body: bytes) -> str:
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def call(
    proxy: Proxy,
    method: str,
    bucket: str,
    key: str | None = None,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    url = object_url(proxy.endpoint, bucket, key, query)
    return signed(method, url, *proxy.keys("alice"), headers, body)


def error_of(response: RawResponse) -> dict[str, str]:
    assert b"Traceback" not in response.body
    return {child.tag: child.text or "" for child in ET.fromstring(response.body)}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-MD5": md5(b"another body")}, "BadDigest"),
        ({"Content-MD5": "not-base64!"}, "InvalidDigest"),
        ({"x-amz-checksum-crc32": crc32(b"another body")}, "BadDigest"),
    ],
    ids=["wrong-md5", "garbage-md5", "wrong-crc32"],
)
def test_create_bucket_checks_the_digest_of_its_body(
    proxy: Proxy, headers: dict[str, str], code: str
) -> None:
    """Before: the Content-MD5 was ignored (200, bucket made) and x-amz-checksum-crc32 was 501."""
    name = f"w10e-{os.urandom(4).hex()}"
    response = call(proxy, "PUT", name, body=CONFIGURATION, headers=headers)
    assert response.status == 400
    assert error_of(response)["Code"] == code
    assert call(proxy, "HEAD", name).status == 404  # nothing was made


def test_create_bucket_checks_the_signed_payload_hash(proxy: Proxy) -> None:
    """Before: a body other than the one signed (x-amz-content-sha256) made the bucket."""
    name = f"w10e-{os.urandom(4).hex()}"
    url = object_url(proxy.endpoint, name)
    signed_for = hashlib.sha256(b"").hexdigest()
    response = signed(
        "PUT", url, *proxy.keys("alice"), None, CONFIGURATION, payload_hash=signed_for
    )
    assert response.status == 400
    assert error_of(response)["Code"] == "XAmzContentSHA256Mismatch"
    assert call(proxy, "HEAD", name).status == 404


def test_create_bucket_with_the_right_digests_is_made(proxy: Proxy) -> None:
    name = f"w10e-{os.urandom(4).hex()}"
    headers = {"Content-MD5": md5(CONFIGURATION), "x-amz-checksum-crc32": crc32(CONFIGURATION)}
    assert call(proxy, "PUT", name, body=CONFIGURATION, headers=headers).status == 200
    assert call(proxy, "DELETE", name).status == 204


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("delete", b"<Delete><Object><Key>w10e-none</Key></Object></Delete>"),
        ("tagging", b"<Tagging><TagSet></TagSet></Tagging>"),
        (
            "cors",
            b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
            b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        ),
    ],
    ids=["DeleteObjects", "PutBucketTagging", "PutBucketCors"],
)
def test_a_body_without_a_digest_gets_s3s_message(proxy: Proxy, query: str, body: bytes) -> None:
    method = "POST" if query == "delete" else "PUT"
    error = error_of(call(proxy, method, BUCKET, query=query, body=body))
    assert (error["Code"], error["Message"]) == ("InvalidRequest", MISSING)


@pytest.fixture(scope="module")
def upload(proxy: Proxy) -> tuple[str, str, str, str]:
    """An upload of one CRC32 part: (key, upload id, the part's ETag, its checksum)."""
    s3 = proxy.client("alice")
    key = f"w10e/{os.urandom(4).hex()}"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    part = s3.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"w10e part",
        ChecksumAlgorithm="CRC32",
    )  # fmt: skip
    return key, upload_id, part["ETag"], part["ChecksumCRC32"]


@pytest.mark.parametrize(
    ("sums", "value"),
    [
        (
            "<ChecksumCRC32>{crc}</ChecksumCRC32><ChecksumSHA1>{sha}</ChecksumSHA1>",
            "CRC32:{crc};SHA1:{sha};",
        ),
        ("<ChecksumCRC32>not base64!</ChecksumCRC32>", "CRC32:not base64!;"),
    ],
    ids=["two-checksums", "invalid-base64"],
)
def test_complete_part_checksums_get_invalid_argument(
    proxy: Proxy, upload: tuple[str, str, str, str], sums: str, value: str
) -> None:
    """Before: 400 InvalidRequest (the gateway's own message) for both."""
    key, upload_id, etag, crc = upload
    sha = base64.b64encode(hashlib.sha1(b"w10e part").digest()).decode()
    listed = sums.format(crc=crc, sha=sha)
    part = f"<Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>{listed}</Part>"
    body = f"<CompleteMultipartUpload>{part}</CompleteMultipartUpload>"
    response = call(proxy, "POST", BUCKET, key, f"uploadId={upload_id}", body.encode())
    error = error_of(response)
    assert response.status == 400
    assert error["Code"] == "InvalidArgument"
    assert error["Message"] == "Invalid Base64 or multiple checksums present in request"
    assert (error["ArgumentName"], error["ArgumentValue"]) == (
        "Checksum",
        value.format(crc=crc, sha=sha),
    )
    parts = proxy.client("alice").list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert [part["PartNumber"] for part in parts["Parts"]] == [1]  # the upload stays open
