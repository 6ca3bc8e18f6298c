"""s3proxy.part_algorithm: S3's rules for a part's checksum against its upload's."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart
from s3proxy.part_algorithm import check_listed_checksums, check_part_algorithm, sums_missing_part


@pytest.mark.parametrize(
    ("expected", "given", "kind"),
    [(None, None, None), (None, "SHA256", None), ("CRC32", "crc32", "COMPOSITE"),
     ("CRC32", None, "FULL_OBJECT"), ("CRC64NVME", None, "FULL_OBJECT")],
)  # fmt: skip
def test_accepted(expected: str | None, given: str | None, kind: str | None) -> None:
    check_part_algorithm(expected, given, kind)


@pytest.mark.parametrize(
    ("expected", "given", "kind", "actual"),
    [("CRC32", "SHA256", "COMPOSITE", "sha256"), ("CRC32", "crc32c", "FULL_OBJECT", "crc32c"),
     ("SHA1", None, "COMPOSITE", "null"), ("CRC32", None, "COMPOSITE", "null")],
)  # fmt: skip
def test_refused(expected: str, given: str | None, kind: str, actual: str) -> None:
    with pytest.raises(S3Error) as refused:
        check_part_algorithm(expected, given, kind)
    assert refused.value.code is S3ErrorCode.InvalidRequest
    assert refused.value.message == (
        f"Checksum Type mismatch occurred, expected checksum Type: {expected.lower()}, "
        f"actual checksum Type: {actual}"
    )


def test_a_part_is_summed_only_when_it_carries_no_checksum_of_its_own() -> None:
    assert sums_missing_part("CRC32C", None) == "CRC32C"
    assert sums_missing_part("CRC32C", "CRC32C") is None
    assert sums_missing_part(None, None) is None


def test_a_composite_complete_names_the_first_part_listed_without_its_checksum() -> None:
    parts = [
        CompletedPart(1, '"a"', {"SHA1": "x"}),
        CompletedPart(2, '"b"'),
        CompletedPart(3, '"c"'),
    ]
    with pytest.raises(S3Error) as refused:
        check_listed_checksums("SHA1", "COMPOSITE", parts)
    assert refused.value.code is S3ErrorCode.InvalidRequest
    assert refused.value.message.endswith("It was missing for part 2 in the request.")
    assert "created using a sha1 checksum" in refused.value.message
    check_listed_checksums("SHA1", "FULL_OBJECT", parts)  # a FULL_OBJECT upload: optional


def test_a_part_checksum_listed_for_an_upload_without_algorithm_is_invalid_part() -> None:
    """S3 keeps no checksum a Complete could name for such parts (wave 15 C)."""
    check_listed_checksums(None, None, [CompletedPart(1, '"a"'), CompletedPart(2, '"b"')])
    with pytest.raises(S3Error) as refused:
        check_listed_checksums(
            None, None, [CompletedPart(1, '"a"'), CompletedPart(2, '"b"', {"CRC32": "x"})]
        )
    assert refused.value.code is S3ErrorCode.InvalidPart


def test_a_part_listed_with_another_algorithms_checksum_is_bad_digest() -> None:
    for kind in ("FULL_OBJECT", "COMPOSITE"):
        with pytest.raises(S3Error) as refused:
            check_listed_checksums(
                "CRC32C",
                kind,
                [
                    CompletedPart(1, '"a"', {"CRC32C": "x"}),
                    CompletedPart(2, '"b"', {"SHA256": "y"}),
                ],
            )
        assert refused.value.code is S3ErrorCode.BadDigest
        assert refused.value.message == (
            "The sha256 you specified for part 2 did not match what we received."
        )
    check_listed_checksums("CRC32C", "FULL_OBJECT", [CompletedPart(1, '"a"', {"CRC32C": "x"})])
