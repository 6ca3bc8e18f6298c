"""A re-sent part's earlier upload is InvalidPart at Complete, as on S3, also where the
upstream lists both uploads (SeaweedFS 4.48 does, and completed with the old bytes)."""

from __future__ import annotations

import pytest

from s3proxy.completion import MIN_PART_SIZE, check_completion
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo


def listed(number: int, etag: str, modified: str) -> PartInfo:
    return PartInfo(number, f'"{etag}"', MIN_PART_SIZE, modified)


def test_the_earlier_upload_of_a_resent_part_is_invalid_part() -> None:
    parts = [
        listed(1, "old", "2026-12-04T21:35:10Z"),
        listed(1, "new", "2026-12-04T21:35:11Z"),
        listed(2, "bb", "2026-12-04T21:35:11Z"),
    ]
    with pytest.raises(S3Error) as excinfo:
        check_completion([CompletedPart(1, '"old"'), CompletedPart(2, '"bb"')], parts)
    assert excinfo.value.code is S3ErrorCode.InvalidPart
    check_completion([CompletedPart(1, '"new"'), CompletedPart(2, '"bb"')], parts)


def test_uploads_within_one_second_cannot_be_told_apart() -> None:
    parts = [listed(1, "one", "2026-12-04T21:35:10Z"), listed(1, "two", "2026-12-04T21:35:10Z")]
    for etag in ('"one"', '"two"'):
        check_completion([CompletedPart(1, etag)], parts)


def test_the_same_bytes_sent_twice_match_their_latest_upload() -> None:
    # SeaweedFS lists both uploads, in no fixed order: the later listed may be the older.
    parts = [listed(1, "same", "2026-12-04T21:35:11Z"), listed(1, "same", "2026-12-04T21:35:10Z")]
    check_completion([CompletedPart(1, '"same"')], parts)
