"""ListVersionsResult rendering and the version-id-marker checks (no server)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.versions import list_versions_pieces, version_id_marker
from s3proxy.listing import MergedPage
from s3proxy.model import ListEntry
from s3proxy.owner import Owner
from s3proxy.responses import rendered

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
OWNER = Owner("123456789012", "alice")


def _render(page: MergedPage, *, encode: bool = False, delimiter: str | None = None) -> ET.Element:
    body = rendered(
        list_versions_pieces(
            bucket="b",
            prefix="p ",
            delimiter=delimiter,
            max_keys=2,
            key_marker="k",
            version_marker="null",
            page=page,
            owner=OWNER,
            encode=encode,
        )
    )
    return ET.fromstring(body)


def _entry(key: str) -> ListEntry:
    return ListEntry(key, '"e"', 3, "2026-01-01T00:00:00.000Z", "STANDARD_IA")


def test_versions_in_s3_order_and_shape() -> None:
    root = _render(MergedPage([_entry("p a"), _entry("p b")], [], True, "p b"))
    names = [child.tag[len(NS) :] for child in root]
    assert names == [
        "Name", "Prefix", "KeyMarker", "VersionIdMarker", "NextKeyMarker",
        "NextVersionIdMarker", "MaxKeys", "IsTruncated", "Version", "Version",
    ]  # fmt: skip
    version = root.find(NS + "Version")
    assert version is not None
    assert version.findtext(NS + "VersionId") == "null"
    assert version.findtext(NS + "IsLatest") == "true"
    assert version.findtext(NS + "StorageClass") == "STANDARD_IA"
    assert version.findtext(f"{NS}Owner/{NS}ID") == OWNER.id
    assert root.findtext(NS + "NextKeyMarker") == "p b"


def test_a_page_ending_in_a_common_prefix_has_no_next_version_marker() -> None:
    root = _render(MergedPage([_entry("p a")], ["p/"], True, "p/"), delimiter="/")
    assert root.findtext(NS + "NextKeyMarker") == "p/"
    assert root.find(NS + "NextVersionIdMarker") is None
    assert root.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "p/"


def test_url_encoding_covers_what_botocore_decodes() -> None:
    root = _render(
        MergedPage([_entry("p \x01")], ["p /"], False, "p /"), encode=True, delimiter=" "
    )
    assert root.findtext(NS + "Prefix") == "p%20"
    assert root.findtext(NS + "Delimiter") == "%20"
    assert root.findtext(f"{NS}Version/{NS}Key") == "p%20%01"
    assert root.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "p%20/"
    assert root.findtext(NS + "EncodingType") == "url"
    assert root.find(NS + "NextKeyMarker") is None  # not truncated


@pytest.mark.parametrize(
    ("key_marker", "value", "message"),
    [
        (None, "null", "cannot be specified without a key marker"),
        ("", "null", "cannot be specified without a key marker"),
        ("k", "", "cannot be empty"),
        ("k", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", "Invalid version id specified"),
    ],
)
def test_version_id_marker_errors(key_marker: str | None, value: str, message: str) -> None:
    with pytest.raises(S3Error) as refused:
        version_id_marker(key_marker, value)
    assert refused.value.code is S3ErrorCode.InvalidArgument
    assert message in refused.value.message


def test_null_and_absent_markers() -> None:
    assert version_id_marker("k", "null") == "null"
    assert version_id_marker("k", None) is None
    assert version_id_marker(None, None) is None
