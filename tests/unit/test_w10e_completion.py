"""Wave 10 E: Complete's x-amz-mp-object-size and its part checksums, as pure functions."""

from __future__ import annotations

import pytest

from s3proxy.completion import check_object_size, object_size_of
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.multipart_xml import parse_complete_request

CRC = "AAAAAA=="
SHA1 = "A" * 27 + "="


@pytest.mark.parametrize(("value", "size"), [(None, None), ("0", 0), (" 10 ", 10)])
def test_object_size_values(value: str | None, size: int | None) -> None:
    assert object_size_of(value) == size


@pytest.mark.parametrize("value", ["", "-1", "ten", "1e3", "٣", "1" * 20])
def test_a_malformed_object_size_is_invalid_argument(value: str) -> None:
    with pytest.raises(S3Error) as caught:
        object_size_of(value)
    assert caught.value.code is S3ErrorCode.InvalidArgument
    assert caught.value.fields == {"ArgumentName": "x-amz-mp-object-size", "ArgumentValue": value}


def test_object_size_against_the_parts() -> None:
    check_object_size(None, 7)
    check_object_size(7, 7)
    with pytest.raises(S3Error) as caught:
        check_object_size(8, 7)
    assert caught.value.code is S3ErrorCode.InvalidRequest
    assert caught.value.message == (
        "The provided 'x-amz-mp-object-size' header value 8 does not match what was computed: 7"
    )


def _complete(sums: str) -> bytes:
    part = f"<Part><PartNumber>1</PartNumber><ETag>e</ETag>{sums}</Part>"
    return f"<CompleteMultipartUpload>{part}</CompleteMultipartUpload>".encode()


@pytest.mark.parametrize(
    ("sums", "value"),
    [
        (f"<ChecksumCRC32>{CRC}</ChecksumCRC32><ChecksumSHA1>{SHA1}</ChecksumSHA1>",
         f"CRC32:{CRC};SHA1:{SHA1};"),
        (f"<ChecksumCRC32>{CRC}</ChecksumCRC32><ChecksumCRC32>{CRC}</ChecksumCRC32>",
         f"CRC32:{CRC};CRC32:{CRC};"),
        ("<ChecksumCRC32>not base64</ChecksumCRC32>", "CRC32:not base64;"),
        (f"<ChecksumSHA1>{CRC}</ChecksumSHA1>", f"SHA1:{CRC};"),  # a CRC32's size
    ],
    ids=["two-algorithms", "one-twice", "not-base64", "wrong-size"],
)  # fmt: skip
def test_a_part_lists_at_most_one_valid_checksum(sums: str, value: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_complete_request(_complete(sums))
    error = caught.value
    assert (error.code, error.message) == (
        S3ErrorCode.InvalidArgument,
        "Invalid Base64 or multiple checksums present in request",
    )
    assert error.fields == {"ArgumentName": "Checksum", "ArgumentValue": value}


def test_one_valid_checksum_per_part_is_kept() -> None:
    [part] = parse_complete_request(_complete(f"<ChecksumCRC32>{CRC}</ChecksumCRC32>"))
    assert part.checksums == {"CRC32": CRC}
