"""Checks the Ceph RGW fixture itself: it stores and returns bytes, lists in UTF-8 byte order
(what SeaweedFS gets wrong), and shows the quirks S3-NOTES.md documents for RGW 16.

If one of the quirk assertions starts failing, the upstream changed (a newer Ceph): update
S3-NOTES.md and whatever in the proxy relies on the quirk, not this test alone.
"""

from __future__ import annotations

import base64
import http.client
import zlib
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conformance.ceph_rgw import CephRGW
from tests.support.s3http import aws_chunked_headers

BUCKET = "ceph-fixture-check"
ODD_KEYS = ["p-q", "p/q", "p0", "P", "é", "e\u0301"]  # NFC é (c3 a9) vs NFD e + U+0301 (65 cc 81)


def _aws_chunked_put(rgw: CephRGW, key: str, data: bytes, *, http_chunked: bool) -> Any:
    """PUT ``data`` the way boto3 does over https: aws-chunked with an unsigned CRC32 trailer.

    ``http_chunked``: no Content-Length, HTTP chunked transfer (boto3's real request); else the
    same aws-chunked body with a Content-Length. Signed with botocore; returns (status, body).
    """
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = (
        f"{len(data):x}\r\n".encode()
        + data
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    )
    headers = aws_chunked_headers(len(data), "x-amz-checksum-crc32")
    if not http_chunked:
        headers["Content-Length"] = str(len(body))
    path = f"/{BUCKET}/{key}"
    request = AWSRequest(method="PUT", url=rgw.endpoint + path, headers=headers)
    # Makes botocore sign x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER.
    request.context["checksum"] = {"request_algorithm": {"in": "trailer", "name": "crc32"}}
    S3SigV4Auth(Credentials(rgw.access_key, rgw.secret_key), "s3", "us-east-1").add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    connection = http.client.HTTPConnection("127.0.0.1", rgw.port, timeout=30)
    try:
        if http_chunked:
            connection.request(
                "PUT", path, body=iter([body]), headers=dict(request.headers), encode_chunked=True
            )
        else:
            connection.request("PUT", path, body=body, headers=dict(request.headers))
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.mark.integration
def test_ceph_fixture_is_a_faithful_s3_with_its_documented_quirks(
    ceph_rgw: CephRGW, ceph_s3: Any
) -> None:
    s3 = ceph_s3
    s3.create_bucket(Bucket=BUCKET)

    # Bytes round-trip.
    body = bytes(range(256)) * 64
    s3.put_object(Bucket=BUCKET, Key="hello.bin", Body=body)
    assert s3.get_object(Bucket=BUCKET, Key="hello.bin")["Body"].read() == body
    s3.delete_object(Bucket=BUCKET, Key="hello.bin")

    # Listing is in UTF-8 byte order, odd keys kept distinct (SeaweedFS: p/q before p-q).
    for key in ODD_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode())
    for key in ODD_KEYS:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode()

    # Quirk: aws-chunked bodies are rejected and nothing is stored. As boto3 sends them (HTTP
    # chunked, no Content-Length): 411 MissingContentLength. With a Content-Length: 400
    # XAmzContentSHA256Mismatch (RGW 16 does not know STREAMING-UNSIGNED-PAYLOAD-TRAILER).
    for http_chunked, status, code in (
        (True, 411, "MissingContentLength"),
        (False, 400, "XAmzContentSHA256Mismatch"),
    ):
        key = f"chunked-{http_chunked}"
        got_status, got_body = _aws_chunked_put(
            ceph_rgw, key, b"aws-chunked data\n", http_chunked=http_chunked
        )
        assert (got_status, f"<Code>{code}</Code>" in got_body) == (status, True), got_body
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket=BUCKET, Key=key)
        assert missing.value.response["Error"]["Code"] == "404"

    # Quirk: CompleteMultipartUpload answers with an empty ETag; HEAD has the right one.
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="multi")
    part = s3.upload_part(
        Bucket=BUCKET, Key="multi", UploadId=upload["UploadId"], PartNumber=1, Body=b"one part"
    )
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="multi",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done.get("ETag", "") == ""
    assert s3.head_object(Bucket=BUCKET, Key="multi")["ETag"].endswith('-1"')
