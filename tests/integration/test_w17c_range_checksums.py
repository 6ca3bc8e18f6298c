"""A ranged read's checksums as S3 answers them, on every lane (wave 17 C).

Before: a GET with ``x-amz-checksum-mode: ENABLED`` and a Range covering the whole object
answered no checksum on any lane, where S3 answers the object's (LocalStack, checked against
S3); a HEAD whose Range covered only part of the object answered the whole object's checksum
on the local store and SeaweedFS, where S3 answers none. Now a Range covering every byte
answers a FULL_OBJECT checksum with its type (botocore checks it against the body), and part of
the object none. A COMPOSITE checksum is never answered to a Range: it is made of the parts'
checksums, and botocore would check it against the bytes. Ceph RGW 16 keeps no flexible
checksum: none is claimed there either way.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.integration.test_w10b_multipart_checksums import BUCKET, _plain_client

pytestmark = pytest.mark.integration

BODY = b"0123456789" * 10
CRC = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()


def _claims(s3: Any, key: str) -> list[tuple[str | None, str | None]]:
    """What GET and HEAD claim for ``Range: bytes=0-`` and for a Range one byte short."""
    claimed = []
    for ranged in ("bytes=0-", "bytes=0-98"):
        got = s3.get_object(Bucket=BUCKET, Key=key, Range=ranged, ChecksumMode="ENABLED")
        assert got["Body"].read() == BODY[: 99 if ranged.endswith("98") else 100]
        head = s3.head_object(Bucket=BUCKET, Key=key, Range=ranged, ChecksumMode="ENABLED")
        for answer in (got, head):
            claimed.append((answer.get("ChecksumCRC32"), answer.get("ChecksumType")))
    return claimed


def test_a_range_answers_the_checksum_only_for_all_of_a_full_object_sum(
    proxy: Proxy, backend: str
) -> None:
    s3 = _plain_client(proxy)
    s3.put_object(Bucket=BUCKET, Key="w17c/range", Body=BODY, ChecksumAlgorithm="CRC32")
    ids = {"Bucket": BUCKET, "Key": "w17c/range-composite"}
    ids["UploadId"] = s3.create_multipart_upload(**ids, ChecksumAlgorithm="CRC32")["UploadId"]
    sent = s3.upload_part(**ids, PartNumber=1, Body=BODY, ChecksumCRC32=CRC)
    part = {"PartNumber": 1, "ETag": sent["ETag"], "ChecksumCRC32": CRC}
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": [part]})

    whole = (None, None) if backend == "ceph" else (CRC, "FULL_OBJECT")
    none = (None, None)
    assert _claims(s3, "w17c/range") == [whole, whole, none, none]
    assert _claims(s3, "w17c/range-composite") == [none] * 4
