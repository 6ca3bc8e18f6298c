"""GetObjectAttributes' pure parts: the attribute header, part counts, S3's value shapes."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.attributes import (
    get_object_attributes,
    parts_count,
    requested_attributes,
    shown_checksum,
    shown_etag,
    small_integer,
)
from s3proxy.model import ObjectAttributes, ObjectInfo, ReadConditions


@pytest.mark.parametrize(
    ("lines", "wanted"),
    [
        (["ETag"], {"ETag"}),
        (["ETag,ObjectSize"], {"ETag", "ObjectSize"}),
        (["ETag, StorageClass", "Checksum"], {"ETag", "StorageClass", "Checksum"}),
        (["ObjectParts,,ObjectParts"], {"ObjectParts"}),
    ],
)
def test_attribute_lines(lines: list[str], wanted: set[str]) -> None:
    assert requested_attributes(lines) == wanted


@pytest.mark.parametrize("lines", [[], [""], [" , "]])
def test_no_attribute_is_invalid_request(lines: list[str]) -> None:
    with pytest.raises(S3Error) as refused:
        requested_attributes(lines)
    assert refused.value.code is S3ErrorCode.InvalidRequest


@pytest.mark.parametrize("name", ["etag", "Owner", "x-amz-meta-a"])
def test_unknown_attribute_is_invalid_argument(name: str) -> None:
    with pytest.raises(S3Error) as refused:
        requested_attributes([f"ETag,{name}"])
    assert refused.value.code is S3ErrorCode.InvalidArgument


@pytest.mark.parametrize(
    ("etag", "count"),
    [('"d41d8cd98f00b204e9800998ecf8427e"', None), ('"abc-3"', 3), ("abc-12", 12), ('"a-b"', None)],
)
def test_parts_count_is_the_etag_suffix(etag: str, count: int | None) -> None:
    assert parts_count(etag) == count


def test_values_shown_as_s3_shows_them() -> None:
    assert shown_etag(' "abc-2" ') == "abc-2"
    assert shown_checksum("AAAAAA==-3") == "AAAAAA=="
    assert shown_checksum("AAAAAA==") == "AAAAAA=="


@pytest.mark.parametrize("value", ["-1", "x", "2147483648", "1.5"])
def test_bad_integers(value: str) -> None:
    with pytest.raises(S3Error) as refused:
        small_integer("x-amz-max-parts", value, 1000)
    assert refused.value.code is S3ErrorCode.InvalidArgument


def test_integer_default() -> None:
    assert small_integer("x-amz-max-parts", None, 1000) == 1000
    assert small_integer("x-amz-max-parts", " 7 ", 1000) == 7


# --- the handler over a fake storage: S3's XML, the parts page, an object replaced mid-page ---

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
PART_SIZES = (5, 5, 2)


class FakeStorage:
    """An object of three parts with a COMPOSITE CRC32; ``replaced``: overwritten after the
    first HEAD, so every part HEAD conditioned on the old ETag fails."""

    def __init__(self, *, replaced: bool = False) -> None:
        self.replaced = replaced

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo:
        etag = '"abc-3"'
        if part_number is None:
            extra = {"x-amz-checksum-crc32": "AAAAAA==-3", "x-amz-checksum-type": "COMPOSITE"}
            return ObjectInfo(12, etag, "Thu, 01 Jan 2026 00:00:00 GMT", ObjectAttributes(), extra)
        if self.replaced or conditions.if_match != etag:
            raise S3Error(S3ErrorCode.PreconditionFailed)
        first = sum(PART_SIZES[: part_number - 1])
        last = first + PART_SIZES[part_number - 1] - 1
        extra = {"x-amz-checksum-crc32": f"PART{part_number}=="}
        return ObjectInfo(12, etag, "", ObjectAttributes(), extra, part_range=(first, last, 12))


def _context(storage: FakeStorage, headers: dict[str, str]) -> Any:
    lines = [(name, value) for name, value in headers.items()]
    request = SimpleNamespace(
        bucket="b", key="k", headers=lines, query={}, header=headers.get, header_map=headers
    )
    return SimpleNamespace(request=request, storage=storage, secure_transport=False)


def _call(storage: FakeStorage, headers: dict[str, str]) -> ET.Element:
    response = asyncio.run(get_object_attributes(_context(storage, headers)))
    assert isinstance(response.body, bytes)
    assert ("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT") in response.headers
    return ET.fromstring(response.body)


def test_composite_object_page_in_s3_shape() -> None:
    root = _call(
        FakeStorage(),
        {
            "x-amz-object-attributes": "ObjectSize,ObjectParts,StorageClass,Checksum,ETag",
            "x-amz-max-parts": "2",
        },
    )
    assert root.tag == NS + "GetObjectAttributesResponse"
    assert [child.tag[len(NS) :] for child in root] == [
        "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize",
    ]  # fmt: skip
    assert root.findtext(NS + "ETag") == "abc-3"
    assert root.findtext(f"{NS}Checksum/{NS}ChecksumCRC32") == "AAAAAA=="
    assert root.findtext(f"{NS}Checksum/{NS}ChecksumType") == "COMPOSITE"
    page = root.find(NS + "ObjectParts")
    assert page is not None
    assert [child.tag[len(NS) :] for child in page] == [
        "IsTruncated", "MaxParts", "NextPartNumberMarker", "PartNumberMarker", "Part", "Part",
        "PartsCount",
    ]  # fmt: skip
    assert page.findtext(NS + "IsTruncated") == "true"
    assert page.findtext(NS + "NextPartNumberMarker") == "2"
    assert page.findtext(NS + "PartsCount") == "3"
    parts = [
        (p.findtext(NS + "PartNumber"), p.findtext(NS + "Size"), p.findtext(NS + "ChecksumCRC32"))
        for p in page.iter(NS + "Part")
    ]
    assert parts == [("1", "5", "PART1=="), ("2", "5", "PART2==")]
    assert root.findtext(NS + "StorageClass") == "STANDARD"


def test_last_page() -> None:
    root = _call(
        FakeStorage(),
        {"x-amz-object-attributes": "ObjectParts", "x-amz-part-number-marker": "2"},
    )
    assert root.findtext(f"{NS}ObjectParts/{NS}IsTruncated") == "false"
    assert root.findtext(f"{NS}ObjectParts/{NS}PartNumberMarker") == "2"
    assert [p.findtext(NS + "Size") for p in root.iter(NS + "Part")] == ["2"]


def test_an_object_replaced_mid_page_is_a_retryable_error() -> None:
    with pytest.raises(S3Error) as refused:
        _call(FakeStorage(replaced=True), {"x-amz-object-attributes": "ObjectParts"})
    assert refused.value.code is S3ErrorCode.SlowDown
