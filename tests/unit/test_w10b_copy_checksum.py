"""s3proxy.backends.copy_checksum: the checksum S3 gives a copy; the CopyObjectResult that
answers it; x-amz-checksum-algorithm's values."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from s3proxy.backends.copy_checksum import CopyChecksum, copy_checksum
from s3proxy.checksums import requested_algorithm
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import copy_result_xml

FULL = {"CRC32C": "YXFUyQ=="}
COMPOSITE = {"CRC32": "pKNgKw==-2"}


@pytest.mark.parametrize(
    ("requested", "source", "expected"),
    [
        (None, {}, CopyChecksum()),  # nothing to keep: a server-side copy
        (None, FULL, CopyChecksum(kept=FULL)),  # the source's, kept by a server-side copy
        (None, COMPOSITE, CopyChecksum(summed="CRC32")),  # made FULL_OBJECT: summed anew
        ("SHA1", FULL, CopyChecksum(summed="SHA1")),  # another algorithm: summed anew
        ("CRC32C", FULL, CopyChecksum(kept=FULL)),  # the same value: kept
        ("CRC32", COMPOSITE, CopyChecksum(summed="CRC32")),  # a COMPOSITE value is never kept
        ("SHA256", {}, CopyChecksum(summed="SHA256")),
    ],
)
def test_copy_checksum(
    requested: str | None, source: dict[str, str], expected: CopyChecksum
) -> None:
    assert copy_checksum(requested, source) == expected


def test_copy_result_names_the_copys_checksum_as_full_object() -> None:
    root = ElementTree.fromstring(copy_result_xml('"e"', "2026-12-04T18:00:00.000Z", FULL))
    fields = {child.tag.split("}")[-1]: child.text for child in root}
    assert fields["ChecksumCRC32C"] == FULL["CRC32C"]
    assert fields["ChecksumType"] == "FULL_OBJECT"
    plain = ElementTree.fromstring(copy_result_xml('"e"', "2026-12-04T18:00:00.000Z"))
    assert [child.tag.split("}")[-1] for child in plain] == ["LastModified", "ETag"]


def test_requested_algorithm() -> None:
    assert requested_algorithm("sha256") == "SHA256"
    with pytest.raises(S3Error) as unknown:
        requested_algorithm("CRC33")
    assert unknown.value.code is S3ErrorCode.InvalidRequest
    for later in ("SHA512", "md5", "XXHASH128"):  # S3's since 2025, not computed here
        with pytest.raises(S3Error) as refused:
            requested_algorithm(later)
        assert refused.value.code is S3ErrorCode.NotImplemented
