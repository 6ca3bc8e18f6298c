"""Upstream answers that are not what was asked for are refused, never read as a success.

The pure halves of tests/integration/test_upstream_quirks.py: result documents of the wrong
kind (an HTML page from something between the gateway and the upstream, another request's
result), a Content-Range for other bytes than the range asked, and Last-Modified dates in the
formats HTTP allows besides S3's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from s3proxy.backends.s3_object_reads import _range_matches
from s3proxy.backends.wire import http_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange
from s3proxy.upstream_xml import (
    parse_complete_result,
    parse_copy_result,
    parse_delete_result,
    parse_initiate_result,
    parse_list_parts,
    parse_list_uploads,
    parse_list_v2,
    parse_tagging,
)

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "ListObjectsV2": lambda body: parse_list_v2(body, url_encoded=True),
    "ListParts": parse_list_parts,
    "ListMultipartUploads": parse_list_uploads,
    "CompleteMultipartUpload": parse_complete_result,
    "CopyObject": parse_copy_result,
    "CreateMultipartUpload": parse_initiate_result,
    "DeleteObjects": parse_delete_result,
    "GetObjectTagging": parse_tagging,
}
NOT_THE_RESULT = {
    "html": b"<html><head><title>502</title></head><body><ETag>x</ETag></body></html>",
    "other-result": b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Buckets/></ListAllMyBucketsResult>",
}


@pytest.mark.parametrize("body", NOT_THE_RESULT.values(), ids=list(NOT_THE_RESULT))
@pytest.mark.parametrize("operation", PARSERS)
def test_a_document_of_another_kind_is_an_internal_error(operation: str, body: bytes) -> None:
    """Read for the result expected, an HTML page was an empty listing or a copy without an
    ETag: the client got 200 for nothing done (and a sync tool deletes what a listing omits)."""
    with pytest.raises(S3Error) as raised:
        PARSERS[operation](body)
    assert raised.value.code is S3ErrorCode.InternalError


def test_the_expected_documents_still_read() -> None:
    ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    page = parse_list_v2(
        f"<ListBucketResult {ns}><IsTruncated>false</IsTruncated><Contents><Key>k</Key>"
        '<ETag>"e"</ETag><Size>1</Size><LastModified>t</LastModified></Contents>'
        "</ListBucketResult>".encode(),
        url_encoded=True,
    )
    assert [entry.key for entry in page.entries] == ["k"]
    copied = b"<CopyPartResult><ETag>e</ETag><LastModified>t</LastModified></CopyPartResult>"
    assert parse_copy_result(copied) == ('"e"', "t")
    assert parse_delete_result(f"<DeleteResult {ns}/>".encode()) == []
    assert parse_tagging(b"<Tagging><TagSet/></Tagging>") == ()


RANGES = [
    # (asked, part number, served first-last/total, Content-Length, accepted)
    (ByteRange(start=0, end=9), None, (0, 9, 100), 10, True),
    (ByteRange(start=95, end=200), None, (95, 99, 100), 5, True),
    (ByteRange(start=50), None, (50, 99, 100), 50, True),
    (ByteRange(suffix=10), None, (90, 99, 100), 10, True),
    (ByteRange(suffix=500), None, (0, 99, 100), 100, True),
    (None, 2, (10, 19, 30), 10, True),
    (ByteRange(start=0, end=9), None, (10, 19, 100), 10, False),
    (ByteRange(start=0, end=9), None, (0, 19, 100), 20, False),
    (ByteRange(start=0, end=9), None, (0, 9, 100), 5, False),
    (ByteRange(start=50), None, (40, 99, 100), 60, False),
    (ByteRange(suffix=10), None, (0, 9, 100), 10, False),
    (None, None, (0, 9, 100), 10, False),
    (ByteRange(start=0, end=9), None, (9, 0, 100), 10, False),
    (ByteRange(start=0, end=200), None, (0, 150, 100), 151, False),
]


@pytest.mark.parametrize(("asked", "part", "served", "length", "accepted"), RANGES)
def test_a_content_range_is_taken_only_for_the_bytes_asked(
    asked: ByteRange | None,
    part: int | None,
    served: tuple[int, int, int],
    length: int,
    accepted: bool,
) -> None:
    assert _range_matches(served, asked, part, length) is accepted


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Thu, 03 Dec 2026 23:31:10 GMT", "Thu, 03 Dec 2026 23:31:10 GMT"),
        ("2026-12-03T23:31:10.000Z", "Thu, 03 Dec 2026 23:31:10 GMT"),
        ("2026-12-04T00:31:10+01:00", "Thu, 03 Dec 2026 23:31:10 GMT"),
        ("Thursday, 03-Dec-26 23:31:10 GMT", "Thu, 03 Dec 2026 23:31:10 GMT"),
        ("Thu Dec  3 23:31:10 2026", "Thu, 03 Dec 2026 23:31:10 GMT"),
        ("", ""),
        ("not a date", "not a date"),
    ],
)
def test_last_modified_is_an_imf_fixdate(value: str, expected: str) -> None:
    assert http_date(value) == expected
