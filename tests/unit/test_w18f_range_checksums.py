"""A ranged GET with checksum mode covering the whole object asks the upstream nothing more
when its answer already says which checksum the object has (wave 18 F).

Wave 17 C answers the object's FULL_OBJECT checksum to such a Range, from one HEAD where the
upstream answered none (SeaweedFS 4.48 answers none to any Range). The HEAD was made also when
the answer carried the object's checksum type or a COMPOSITE checksum (AWS S3 answers them to a
Range covering the whole object): the HEAD of the same object can only say the same, one
upstream request for nothing on every such read.
"""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends.s3_object_reads import _range_checksums
from s3proxy.model import ObjectAttributes, ObjectInfo, ReadConditions
from s3proxy.range_checksums import answers_checksums

COMPOSITE_VALUE = {"x-amz-checksum-crc32": "AAAAAA==-2"}
COMPOSITE_TYPE = {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-type": "COMPOSITE"}
FULL = {"x-amz-checksum-crc32": "sfxLvA==", "x-amz-checksum-type": "FULL_OBJECT"}


class _Upstream:
    """Counts the HEADs asked; answers the object's FULL_OBJECT checksum (as if it had one)."""

    def __init__(self) -> None:
        self.heads = 0

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, checksum_mode: bool = False
    ) -> ObjectInfo:
        self.heads += 1
        return ObjectInfo(100, '"e1"', "", ObjectAttributes({}, {}), extra_headers=FULL)


def _ranged(extra: dict[str, str]) -> tuple[dict[str, str], int]:
    upstream = _Upstream()
    got = ObjectInfo(100, '"e1"', "", ObjectAttributes({}, {}), extra_headers=extra)
    info = asyncio.run(
        _range_checksums(upstream, "b", "k", ReadConditions(), got, (0, 99, 100))  # type: ignore[arg-type]
    )
    return dict(info.extra_headers), upstream.heads


@pytest.mark.parametrize("answered", [COMPOSITE_VALUE, COMPOSITE_TYPE])
def test_a_composite_answer_asks_no_head_and_claims_none(answered: dict[str, str]) -> None:
    assert _ranged({"x-amz-mp-parts-count": "2", **answered}) == ({"x-amz-mp-parts-count": "2"}, 0)


def test_a_full_object_answer_is_kept_without_a_head() -> None:
    assert _ranged(dict(FULL)) == (FULL, 0)


def test_an_answer_without_any_checksum_still_asks_once() -> None:
    """SeaweedFS's answer to a Range: the HEAD is what answers the checksum."""
    assert _ranged({"x-amz-mp-parts-count": "2"}) == ({"x-amz-mp-parts-count": "2", **FULL}, 1)


def test_answers_checksums() -> None:
    assert answers_checksums({"x-amz-checksum-type": "COMPOSITE"})
    assert not answers_checksums({"x-amz-mp-parts-count": "2", "etag": "x"})
