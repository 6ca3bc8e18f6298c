"""Conditional reads decided from ETag and Last-Modified, in RFC 9110's (and S3's) order."""

from __future__ import annotations

import pytest

from s3proxy.conditions import copy_source_failed, failed_condition
from s3proxy.model import ReadConditions

ETAG = '"6654c734ccab8f440ff0825eb443dc7f"'
MODIFIED = "Sun, 29 Nov 2026 06:09:07 GMT"
BEFORE = "Sat, 28 Nov 2026 06:09:07 GMT"
AFTER = "Mon, 30 Nov 2026 06:09:07 GMT"


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (ReadConditions(), None),
        (ReadConditions(if_match=ETAG), None),
        (ReadConditions(if_match='"0000", ' + ETAG), None),
        (ReadConditions(if_match="*"), None),
        (ReadConditions(if_match='"0000"'), "PreconditionFailed"),
        (ReadConditions(if_none_match=ETAG), "NotModified"),
        (ReadConditions(if_none_match="*"), "NotModified"),
        (ReadConditions(if_none_match='"0000"'), None),
        (ReadConditions(if_modified_since=AFTER), "NotModified"),
        (ReadConditions(if_modified_since=MODIFIED), "NotModified"),
        (ReadConditions(if_modified_since=BEFORE), None),
        (ReadConditions(if_unmodified_since=BEFORE), "PreconditionFailed"),
        (ReadConditions(if_unmodified_since=AFTER), None),
        (ReadConditions(if_modified_since="not a date"), None),
        # S3: If-Match true and If-Unmodified-Since false → 200.
        (ReadConditions(if_match=ETAG, if_unmodified_since=BEFORE), None),
        # S3: If-None-Match false (it matches) and If-Modified-Since true → 304.
        (ReadConditions(if_none_match=ETAG, if_modified_since=BEFORE), "NotModified"),
        # If-None-Match true: If-Modified-Since is not looked at.
        (ReadConditions(if_none_match='"0000"', if_modified_since=AFTER), None),
        (ReadConditions(if_match='"0000"', if_none_match=ETAG), "PreconditionFailed"),
    ],
)
def test_read_conditions(conditions: ReadConditions, expected: str | None) -> None:
    failed = failed_condition(conditions, ETAG, MODIFIED)
    assert (failed.name if failed is not None else None) == expected


def test_copy_source_conditions_fail_as_412_only() -> None:
    assert copy_source_failed(ReadConditions(if_none_match=ETAG), ETAG, MODIFIED)
    assert copy_source_failed(ReadConditions(if_match='"0000"'), ETAG, MODIFIED)
    assert not copy_source_failed(ReadConditions(if_match=ETAG), ETAG, MODIFIED)
