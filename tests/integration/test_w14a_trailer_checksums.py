"""A checksum a client sends as an aws-chunked trailer is kept as S3 keeps it (wave 14 A).

boto3 ≥ 1.36 and aws-cli v2 send a CRC32 trailer on every PutObject over TLS. S3 keeps it: HEAD
and GET with ``x-amz-checksum-mode: ENABLED`` answer it with ``x-amz-checksum-type:
FULL_OBJECT``, and so does GetObjectAttributes. Under the default ``request_style: plain`` the
gateway verified it but sent SeaweedFS a plain body without it, so those answers lacked it there
(a header checksum was kept). Now a small body's trailer value goes upstream as a header, a
large one's as an aws-chunked trailer where the upstream takes one (README "Over HTTPS"). Ceph
RGW 16 keeps no flexible checksum at all: there no read may claim one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from awscrt import checksums as crt  # type: ignore[import-untyped]
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import aws_chunked_headers, object_url, send, sign

pytestmark = pytest.mark.integration

TRAILER_MODE = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _digest(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = crt.crc32c(data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        raw = crt.crc64nvme(data).to_bytes(8, "big")
    else:
        raw = hashlib.new(algorithm.lower(), data).digest()
    return base64.b64encode(raw).decode()


def _put_with_trailer(proxy: Proxy, key: str, data: bytes, algorithm: str, value: str) -> int:
    """PutObject as an SDK sends it over TLS: aws-chunked, unsigned, the checksum trailing."""
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", key)
    name = f"x-amz-checksum-{algorithm.lower()}"
    headers = sign(
        "PUT", url, ak, sk, aws_chunked_headers(len(data), name), payload_hash=TRAILER_MODE
    )
    body = b"".join(
        b"%x\r\n" % len(piece) + piece + b"\r\n"
        for piece in (data[at : at + 65536] for at in range(0, len(data), 65536))
    )
    return send("PUT", url, headers, body + f"0\r\n{name}:{value}\r\n\r\n".encode()).status


@pytest.mark.parametrize(
    ("size", "algorithm"),
    [(1024, "CRC32C"), (100_000, "CRC64NVME"), (100_000, "SHA1")],
    ids=["small-crc32c", "large-crc64nvme", "large-sha1"],
)
def test_a_trailer_checksum_is_kept(proxy: Proxy, backend: str, size: int, algorithm: str) -> None:
    """Small (read whole before it goes upstream) and large (streamed) bodies alike."""
    data = os.urandom(size)
    key = f"w14a/kept-{size}-{algorithm}"
    value = _digest(algorithm, data)
    assert _put_with_trailer(proxy, key, data, algorithm, value) == 200
    s3 = proxy.client("alice")
    field = f"Checksum{algorithm}"
    head = s3.head_object(Bucket="docs", Key=key, ChecksumMode="ENABLED")
    got = s3.get_object(Bucket="docs", Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore validated the checksum it was given
    attributes = s3.get_object_attributes(Bucket="docs", Key=key, ObjectAttributes=["Checksum"])
    if backend == "ceph":  # Ceph RGW 16 keeps none: none may be claimed
        assert field not in head and field not in got and "Checksum" not in attributes
        return
    for answer in (head, got):
        assert (answer.get(field), answer.get("ChecksumType")) == (value, "FULL_OBJECT")
    assert attributes["Checksum"] == {field: value, "ChecksumType": "FULL_OBJECT"}


def test_a_wrong_small_trailer_stores_nothing(proxy: Proxy) -> None:
    """A small body's trailer value now goes upstream as a header: a wrong one still commits
    nothing (a large body's, sent as a trailer: test_streaming's corrupt aws-chunked uploads)."""
    key = "w14a/wrong-small"
    data = os.urandom(1024)
    assert _put_with_trailer(proxy, key, data, "CRC32", _digest("CRC32", data + b"x")) == 400
    with pytest.raises(ClientError) as caught:
        proxy.client("alice").head_object(Bucket="docs", Key=key)
    assert caught.value.response["Error"]["Code"] == "404"
