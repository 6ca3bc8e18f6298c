"""CompleteMultipartUpload checked against the stored parts: S3's errors in S3's order."""

from __future__ import annotations

import hashlib

import pytest

from s3proxy.completion import (
    MIN_PART_SIZE,
    check_checksum_type,
    check_completion,
    completed_by,
    latest_parts,
    multipart_etag,
    requested_checksum_type,
)
from s3proxy.errors import S3Error
from s3proxy.model import CompletedPart, PartInfo, PartsPage

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


@pytest.mark.parametrize(("listed", "expected"), [("AAAAAA==", None), ("BBBBBB==", "InvalidPart")])
def test_listed_checksums_are_compared_when_the_upstream_kept_them(
    listed: str, expected: str | None
) -> None:
    parts = [stored(1, "aa", SMALL, CRC32="AAAAAA==")]
    assert code([CompletedPart(1, '"aa"', {"CRC32": listed})], parts) == expected
    unkept = [stored(1, "aa", SMALL)]  # Ceph RGW 16 keeps no part checksums
    assert code([CompletedPart(1, '"aa"', {"CRC32": listed})], unkept) is None


def listed(number: int, etag: str, modified: str) -> PartInfo:
    return PartInfo(number, f'"{etag}"', BIG, f"2026-11-29T00:00:{modified}.000Z")


def test_latest_upload_of_a_resent_part_wins() -> None:
    """SeaweedFS lists every upload of part 1, in no fixed order."""
    page = PartsPage([listed(1, "old", "01"), listed(1, "new", "05"), listed(2, "two", "02")], None)
    assert [(p.part_number, p.etag) for p in latest_parts(page).parts] == [
        (1, '"new"'),
        (2, '"two"'),
    ]


def test_a_page_cut_inside_a_resent_part_leaves_that_part_to_the_next_page() -> None:
    page = PartsPage([listed(1, "a", "01"), listed(2, "old", "01"), listed(2, "b", "00")], 2)
    result = latest_parts(page)
    assert [p.part_number for p in result.parts] == [1]
    assert result.next_marker == 1


def test_a_page_without_repeats_is_unchanged() -> None:
    page = PartsPage([listed(1, "a", "01"), listed(2, "b", "01")], 2)
    assert latest_parts(page) is page


def test_completed_by_recognises_exactly_the_listed_parts() -> None:
    md5_a, md5_b = hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()
    parts = [CompletedPart(1, f'"{md5_a}"'), CompletedPart(2, f'"{md5_b}"')]
    etag = multipart_etag([md5_a, md5_b])
    assert etag is not None and completed_by(parts, etag)
    assert not completed_by(parts[:1], etag)  # fewer parts: another object
    assert not completed_by(list(reversed(parts)), etag)  # other order: other bytes
    assert not completed_by(parts, f'"{md5_a}"')  # a single-part PUT over the key since
    assert not completed_by([CompletedPart(1, '"kms-opaque"')], '"kms-opaque-1"')


@pytest.mark.parametrize(
    ("value", "expected"),
    [("COMPOSITE", "COMPOSITE"), ("full_object", "FULL_OBJECT"), (" FULL_OBJECT ", "FULL_OBJECT")],
)
def test_a_complete_names_a_checksum_type_in_any_case(value: str, expected: str) -> None:
    assert requested_checksum_type(value) == expected


@pytest.mark.parametrize("value", ["", "BOGUS", "FULL-OBJECT", "CRC32"])
def test_an_unknown_checksum_type_is_invalid_request(value: str) -> None:
    with pytest.raises(S3Error) as caught:
        requested_checksum_type(value)
    assert (caught.value.code.name, caught.value.status) == ("InvalidRequest", 400)
    assert caught.value.message == "Value for x-amz-checksum-type header is invalid."


@pytest.mark.parametrize(
    ("requested", "upload", "named"),
    [("COMPOSITE", "FULL_OBJECT", "FULL_OBJECT"), ("FULL_OBJECT", "COMPOSITE", "COMPOSITE"),
     ("COMPOSITE", None, "null")],
)  # fmt: skip
def test_a_checksum_type_other_than_the_uploads_is_invalid_request(
    requested: str, upload: str | None, named: str
) -> None:
    check_checksum_type(upload or "COMPOSITE", upload or "COMPOSITE")  # the same type passes
    with pytest.raises(S3Error) as caught:
        check_checksum_type(requested, upload)
    assert (caught.value.code.name, caught.value.status) == ("InvalidRequest", 400)
    assert caught.value.message == (
        f"The upload was created using the {named} checksum mode. The complete request must "
        "use the same checksum mode."
    )
