"""s3proxy.range_checksums: which checksums a ranged GET/HEAD answers (wave 17 C)."""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends.s3_object_reads import _range_checksums
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ObjectAttributes, ObjectInfo, ReadConditions
from s3proxy.range_checksums import covers_whole, full_object_checksums, ranged_headers

FULL = {"x-amz-checksum-crc32": "sfxLvA==", "x-amz-checksum-type": "FULL_OBJECT", "etag-ish": "x"}
COMPOSITE = {"x-amz-checksum-crc32": "AAAAAA==-2", "x-amz-checksum-type": "COMPOSITE"}


@pytest.mark.parametrize(
    ("first", "last", "size", "whole"),
    [
        (0, 99, 100, True),
        (0, 98, 100, False),
        (1, 99, 100, False),
        (0, 0, 1, True),
        (0, -1, 0, False),
    ],
)
def test_covers_whole(first: int, last: int, size: int, whole: bool) -> None:
    assert covers_whole(first, last, size) is whole


def test_part_of_the_object_answers_no_checksum() -> None:
    assert ranged_headers(FULL, whole=False) == {"etag-ish": "x"}


def test_all_of_it_answers_a_full_object_checksum_with_its_type() -> None:
    assert ranged_headers(FULL, whole=True) == FULL


@pytest.mark.parametrize(
    "headers",
    [
        COMPOSITE,
        {"x-amz-checksum-crc32": "AAAAAA==-2"},  # no type sent: the -N says COMPOSITE
        {
            "x-amz-checksum-sha256": "n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU=",
            "x-amz-checksum-type": "composite",
        },
    ],
)
def test_a_composite_checksum_is_not_the_bytes_and_is_never_answered(
    headers: dict[str, str],
) -> None:
    assert full_object_checksums(headers) == {}
    assert ranged_headers(headers, whole=True) == {}


def test_a_full_object_value_without_its_type_is_answered_alone() -> None:
    assert full_object_checksums({"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="}) == {
        "x-amz-checksum-crc64nvme": "AAAAAAAAAAA="
    }


class _Upstream:
    """A HEAD that answers ``answer`` (or raises it), recording what it was asked."""

    def __init__(self, answer: ObjectInfo | S3Error) -> None:
        self.answer = answer
        self.asked: list[ReadConditions] = []

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, checksum_mode: bool = False
    ) -> ObjectInfo:
        assert checksum_mode
        self.asked.append(conditions)
        if isinstance(self.answer, S3Error):
            raise self.answer
        return self.answer


def _info(etag: str, extra: dict[str, str]) -> ObjectInfo:
    return ObjectInfo(100, etag, "", ObjectAttributes({}, {}), extra_headers=extra)


def _ranged(upstream: _Upstream, served: tuple[int, int, int]) -> dict[str, str]:
    got = _info('"e1"', {"x-amz-mp-parts-count": "2"})
    info = asyncio.run(
        _range_checksums(upstream, "b", "k", ReadConditions(), got, served)  # type: ignore[arg-type]
    )
    return dict(info.extra_headers)


def test_an_s3_upstream_is_asked_the_checksum_bound_to_the_served_etag() -> None:
    upstream = _Upstream(_info('"e1"', FULL))
    assert _ranged(upstream, (0, 99, 100)) == {
        "x-amz-mp-parts-count": "2",
        **full_object_checksums(FULL),
    }
    assert [asked.if_match for asked in upstream.asked] == ['"e1"']


@pytest.mark.parametrize(
    "answer",
    [
        _info('"e2"', FULL),  # another object since (an upstream that ignored If-Match)
        S3Error(S3ErrorCode.PreconditionFailed),  # replaced since
        _info('"e1"', COMPOSITE),
    ],
)
def test_no_checksum_is_claimed_unless_it_is_the_served_objects_full_one(
    answer: ObjectInfo | S3Error,
) -> None:
    assert _ranged(_Upstream(answer), (0, 99, 100)) == {"x-amz-mp-parts-count": "2"}


def test_part_of_the_object_asks_nothing() -> None:
    upstream = _Upstream(_info('"e1"', FULL))
    assert _ranged(upstream, (0, 98, 100)) == {"x-amz-mp-parts-count": "2"}
    assert upstream.asked == []
