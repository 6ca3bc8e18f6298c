"""A CopyObject that asks for a new checksum of a source over 64 KiB reads it once and keeps
the checksum of the bytes it stored (wave 15 C).

Such a copy's bytes pass through the gateway. It read the source twice (a sum, then a copy
pinned to the ETag summed); now the bytes are summed as they pass and the sum follows them as
the PUT's trailer checksum where the target keeps one: the local store, and SeaweedFS 4.48
through an aws-chunked trailer (README "Over HTTPS"). Ceph RGW 16 keeps no flexible checksum:
there only CopyObjectResult names it, as S3 would.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def test_a_large_copy_keeps_the_checksum_it_summed(proxy: Proxy, backend: str) -> None:
    s3 = proxy.client("alice")
    data = os.urandom(300_000)
    s3.put_object(Bucket=BUCKET, Key="w15c/copy-src", Body=data)
    copied = s3.copy_object(
        Bucket=BUCKET,
        Key="w15c/copy-dst",
        CopySource={"Bucket": BUCKET, "Key": "w15c/copy-src"},
        ChecksumAlgorithm="SHA256",
    )["CopyObjectResult"]
    sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert (copied.get("ChecksumSHA256"), copied.get("ChecksumType")) == (sha256, "FULL_OBJECT")
    head = s3.head_object(Bucket=BUCKET, Key="w15c/copy-dst", ChecksumMode="ENABLED")
    got = s3.get_object(Bucket=BUCKET, Key="w15c/copy-dst", ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore checked any checksum it was given
    if backend == "ceph":  # Ceph RGW 16 keeps none: none may be claimed
        assert "ChecksumSHA256" not in head
        return
    assert (head.get("ChecksumSHA256"), head.get("ChecksumType")) == (sha256, "FULL_OBJECT")
