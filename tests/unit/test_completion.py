"""CompleteMultipartUpload checked against the stored parts: S3's errors in S3's order."""

from __future__ import annotations

import pytest

from s3proxy.completion import MIN_PART_SIZE, check_completion
from s3proxy.errors import S3Error
from s3proxy.model import CompletedPart, PartInfo

BIG, SMALL = MIN_PART_SIZE, 4


def stored(number: int, etag: str, size: int, **checksums: str) -> PartInfo:
    return PartInfo(number, f'"{etag}"', size, "2026-11-29T00:00:00.000Z", checksums)


def code(requested: list[CompletedPart], parts: list[PartInfo]) -> str | None:
    try:
        check_completion(requested, parts)
    except S3Error as error:
        return error.code.name
    return None


def test_matching_parts_pass_and_the_last_may_be_small() -> None:
    parts = [stored(1, "aa", BIG), stored(2, "bb", SMALL)]
    assert code([CompletedPart(1, '"aa"'), CompletedPart(2, "bb")], parts) is None


def test_wrong_etag_is_invalid_part_even_when_the_part_is_small() -> None:
    # Ceph RGW 16 answers EntityTooSmall here; S3 names the bad ETag first.
    parts = [stored(1, "aa", SMALL), stored(2, "bb", SMALL)]
    assert code([CompletedPart(1, '"00"'), CompletedPart(2, '"bb"')], parts) == "InvalidPart"
    assert code([CompletedPart(3, '"bb"')], parts) == "InvalidPart"


def test_small_part_before_the_last_is_entity_too_small() -> None:
    parts = [stored(1, "aa", SMALL), stored(2, "bb", SMALL)]
    assert code([CompletedPart(1, '"aa"'), CompletedPart(2, '"bb"')], parts) == "EntityTooSmall"


def test_a_resent_part_listed_twice_matches_either_upload() -> None:
    # SeaweedFS lists the old and the new upload of part 1; the client names the new one.
    parts = [stored(1, "old", BIG), stored(1, "new", BIG), stored(2, "bb", SMALL)]
    assert code([CompletedPart(1, '"new"'), CompletedPart(2, '"bb"')], parts) is None


@pytest.mark.parametrize(("listed", "expected"), [("AAAAAA==", None), ("BBBBBB==", "BadDigest")])
def test_listed_checksums_are_compared_when_the_upstream_kept_them(
    listed: str, expected: str | None
) -> None:
    parts = [stored(1, "aa", SMALL, CRC32="AAAAAA==")]
    assert code([CompletedPart(1, '"aa"', {"CRC32": listed})], parts) == expected
    unkept = [stored(1, "aa", SMALL)]  # Ceph RGW 16 keeps no part checksums
    assert code([CompletedPart(1, '"aa"', {"CRC32": listed})], unkept) is None
