"""A copied part's checksum in CopyPartResult, and Complete naming the part that lacks one.

S3 answers UploadPartCopy into an upload with a checksum algorithm with the part's checksum,
and clients list it in CompleteMultipartUpload; a Complete that lists it for some parts only
is 400 InvalidRequest naming a part without it (the copied one, before the proxy answered its
checksum), not the first part that has one.
"""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.multipart import check_parts
from s3proxy.model import CompletedPart
from s3proxy.multipart_xml import copy_part_result_xml


def test_copy_part_result_carries_the_parts_checksum() -> None:
    body = copy_part_result_xml('"e"', "2026-12-04T03:00:00.000Z", {"CRC32C": "ipfu/A=="})
    assert b'<ETag>"e"</ETag><ChecksumCRC32C>ipfu/A==</ChecksumCRC32C>' in body
    assert b"Checksum" not in copy_part_result_xml('"e"', "2026-12-04T03:00:00.000Z")


def test_complete_names_the_part_without_the_checksum() -> None:
    crc = {"CRC32": "AAAAAA=="}
    parts = [
        CompletedPart(1, '"a"', {}),
        CompletedPart(2, '"b"', crc),
        CompletedPart(3, '"c"', crc),
    ]
    with pytest.raises(S3Error) as caught:
        check_parts(parts)
    assert caught.value.code is S3ErrorCode.InvalidRequest
    assert "for part 1." in caught.value.message
