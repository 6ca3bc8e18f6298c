"""Every time the proxy writes into XML is in S3's ``YYYY-MM-DDTHH:MM:SS.000Z`` (wave 11, M;
whole seconds since wave 14 H: S3's fraction is always ``000``).

SeaweedFS lists whole seconds (``…:45Z``) and answers a copy with Go's trimmed nanoseconds
(``…:45.73Z``); both reached clients as the upstream wrote them. A 304 carries an IMF-fixdate
Last-Modified as S3's does: SeaweedFS sends none (it reached clients without one).
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from s3proxy import multipart_xml, xmlcodec
from s3proxy.backends.mapped import _with_validators
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.versions import list_versions_pieces
from s3proxy.layout import UpstreamLocation
from s3proxy.listing import MergedPage
from s3proxy.model import (
    ListEntry,
    ObjectAttributes,
    ObjectInfo,
    PartInfo,
    ReadConditions,
    UploadInfo,
)
from s3proxy.owner import Owner
from s3proxy.responses import rendered
from s3proxy.timestamps import s3_time

OWNER = Owner("id", "alice")
S3_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z")


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("2026-12-04T21:41:45.000Z", "2026-12-04T21:41:45.000Z"),
        ("2026-12-04T21:41:45Z", "2026-12-04T21:41:45.000Z"),  # SeaweedFS's listings
        ("2026-12-04T21:41:45.73Z", "2026-12-04T21:41:45.000Z"),  # Go's trimmed nanoseconds
        ("2026-12-04T21:41:45.123456789Z", "2026-12-04T21:41:45.000Z"),
        ("2026-12-04T21:41:45.584Z", "2026-12-04T21:41:45.000Z"),  # Ceph RGW's, MinIO's listings
        ("2026-12-04T23:41:45.5+02:00", "2026-12-04T21:41:45.000Z"),
        ("2026-12-31T23:30:00-0100", "2027-01-01T00:30:00.000Z"),
        ("2026-12-04 21:41:45z", "2026-12-04T21:41:45.000Z"),
        ("yesterday", "yesterday"),  # no time at all: passed on, never a guessed one
        ("", ""),
        ("2026-13-04T21:41:45+01:00", "2026-13-04T21:41:45+01:00"),
    ],
)
def test_s3_time(given: str, written: str) -> None:
    assert s3_time(given) == written


def _times(body: bytes, name: str) -> list[str]:
    return [e.text or "" for e in ET.fromstring(body).iter() if e.tag.endswith("}" + name)]


def _listing(when: str) -> bytes:
    entries = [ListEntry("k", '"e"', 1, when), ListEntry("l", '"e"', 1, when)]
    return xmlcodec.list_objects_xml([("Name", "b")], entries, [], encode=False, owner=None)


def _versions(when: str) -> bytes:
    page = MergedPage([ListEntry("k", '"e"', 1, when)], [], False, None)
    return rendered(list_versions_pieces(
        bucket="b", prefix="", delimiter=None, max_keys=1000, key_marker="",
        version_marker="", page=page, owner=OWNER, encode=False,
    ))  # fmt: skip


WRITERS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "ListObjects": (_listing, "LastModified"),
    "ListObjectVersions": (_versions, "LastModified"),
    "ListBuckets": (lambda when: xmlcodec.list_buckets_xml(OWNER, [("b", when)]), "CreationDate"),
    "CopyObject": (lambda when: xmlcodec.copy_result_xml('"e"', when), "LastModified"),
    "UploadPartCopy": (
        lambda when: multipart_xml.copy_part_result_xml('"e"', when),
        "LastModified",
    ),
    "ListParts": (
        lambda when: multipart_xml.list_parts_xml([], [PartInfo(1, '"e"', 1, when)], OWNER),
        "LastModified",
    ),
    "ListMultipartUploads": (
        lambda when: multipart_xml.list_uploads_xml(
            [], [UploadInfo("k", "u", when)], [], encode=False, owner=OWNER
        ),
        "Initiated",
    ),
}


@pytest.mark.parametrize("operation", WRITERS)
@pytest.mark.parametrize(
    "when", ["2026-12-04T21:41:45Z", "2026-12-04T21:41:45.73Z", "2026-12-04T21:41:45.584Z"]
)
def test_every_document_writes_s3s_form(operation: str, when: str) -> None:
    write, element = WRITERS[operation]
    written = _times(write(when), element)
    assert written and all(S3_FORM.fullmatch(value) for value in written), written


def test_a_listing_still_escapes_what_is_no_time() -> None:
    """The listing's fast check passes S3's shape on unparsed: markup in it is still escaped."""
    for odd in ["2026-12-04T21:41:4<.000Z", "<b>&</b>"]:
        assert _times(_listing(odd), "LastModified") == [odd, odd]


class _Heads:
    """A backend that answers HEAD only, counting the calls."""

    def __init__(self) -> None:
        self.heads = 0

    async def head_object(self, bucket: str, key: str, read: ReadConditions) -> ObjectInfo:
        self.heads += 1
        return ObjectInfo(1, '"e"', "Fri, 04 Dec 2026 21:41:45 GMT", ObjectAttributes())


@pytest.mark.parametrize(
    ("upstream_headers", "heads"),
    [
        ({"ETag": '"e"'}, 1),  # SeaweedFS: no Last-Modified on a 304
        ({}, 1),  # Ceph RGW 16: neither
        ({"ETag": '"e"', "Last-Modified": "2026-12-04T21:41:45Z"}, 0),
        ({"ETag": '"e"', "Last-Modified": "Fri, 04 Dec 2026 21:41:45 GMT"}, 0),
    ],
)
def test_a_304_carries_an_imf_fixdate_last_modified(
    upstream_headers: dict[str, str], heads: int
) -> None:
    backend = _Heads()
    error = S3Error(S3ErrorCode.NotModified, headers=upstream_headers)
    location = UpstreamLocation("u", "b", "k")
    answered = asyncio.run(_with_validators(error, backend, location, ReadConditions()))  # type: ignore[arg-type]
    assert answered.code is S3ErrorCode.NotModified and backend.heads == heads
    assert answered.headers == {"ETag": '"e"', "Last-Modified": "Fri, 04 Dec 2026 21:41:45 GMT"}
