"""GetObjectAttributes ObjectParts of a multipart object with a FULL_OBJECT checksum (wave 17 L).

S3 lists the parts themselves (size and checksum each) only for an object whose checksum is
COMPOSITE; one with a FULL_OBJECT checksum (CRC64NVME by default, or CRC32/CRC32C asked so)
answers its part count alone, like one without a checksum (LocalStack's AWS-validated
GetObjectAttributes since localstack#12764; AWS's GetObjectAttributesParts page). Every lane
answers that; where the lane keeps the checksum (the local store, SeaweedFS) it is the
FULL_OBJECT one, and Ceph RGW 16 keeps none.
"""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("algorithm", ["CRC64NVME", "CRC32C"])
def test_a_full_object_checksum_lists_no_parts(proxy: Proxy, backend: str, algorithm: str) -> None:
    s3 = proxy.client("alice")
    key = f"w17l-parts-{os.urandom(3).hex()}"
    upload = s3.create_multipart_upload(
        Bucket="docs", Key=key, ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
    )["UploadId"]
    part = s3.upload_part(
        Bucket="docs", Key=key, UploadId=upload, PartNumber=1, Body=b"parts",
        ChecksumAlgorithm=algorithm,
    )  # fmt: skip
    field = f"Checksum{algorithm}"
    s3.complete_multipart_upload(
        Bucket="docs", Key=key, UploadId=upload, ChecksumType="FULL_OBJECT",
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"], field: part[field]}]},
    )  # fmt: skip
    try:
        got = s3.get_object_attributes(
            Bucket="docs", Key=key, ObjectAttributes=["ObjectParts", "Checksum"], MaxParts=1
        )
        assert got["ObjectParts"] == {"TotalPartsCount": 1}
        if backend != "ceph":  # Ceph RGW 16 keeps no flexible checksum
            assert got["Checksum"] == {field: part[field], "ChecksumType": "FULL_OBJECT"}
    finally:
        s3.delete_object(Bucket="docs", Key=key)
