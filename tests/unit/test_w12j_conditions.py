"""Which condition a copy's or a conditional write's 412 names (s3proxy.conditions,
s3proxy.write_conditions), as S3 names it in ``<Condition>``."""

from __future__ import annotations

import pytest

from s3proxy.conditions import failed_source_condition
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions, WriteConditions
from s3proxy.write_conditions import NO_CONDITIONS, name_write_condition

ETAG = '"abc"'
MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
BEFORE = "Tue, 31 Dec 2024 00:00:00 GMT"
AFTER = "Thu, 02 Jan 2025 00:00:00 GMT"
P = "x-amz-copy-source-"


@pytest.mark.parametrize(
    ("conditions", "named"),
    [
        (ReadConditions(), None),
        (ReadConditions(if_match=ETAG), None),
        (ReadConditions(if_match='"other"'), P + "If-Match"),
        (ReadConditions(if_unmodified_since=BEFORE), P + "If-Unmodified-Since"),
        (ReadConditions(if_unmodified_since=AFTER), None),
        # If-Match decides alone when sent: a failing If-Unmodified-Since beside it is ignored.
        (ReadConditions(if_match=ETAG, if_unmodified_since=BEFORE), None),
        (ReadConditions(if_none_match=ETAG), P + "If-None-Match"),
        (ReadConditions(if_none_match='"other"'), None),
        (ReadConditions(if_modified_since=AFTER), P + "If-Modified-Since"),
        (ReadConditions(if_modified_since=BEFORE), None),
        (ReadConditions(if_none_match='"other"', if_modified_since=AFTER), None),
        (ReadConditions(if_match='"other"', if_none_match=ETAG), P + "If-Match"),
    ],
)
def test_the_failed_source_condition(conditions: ReadConditions, named: str | None) -> None:
    assert failed_source_condition(conditions, ETAG, MODIFIED) == named


@pytest.mark.parametrize(
    ("conditions", "named"),
    [
        (WriteConditions(if_match=ETAG), "If-Match"),
        (WriteConditions(if_none_match="*"), "If-None-Match"),
        (WriteConditions(if_match=ETAG, if_none_match="*"), "If-None-Match"),
        (NO_CONDITIONS, None),
    ],
)
def test_a_write_names_its_condition(conditions: WriteConditions, named: str | None) -> None:
    error = S3Error(S3ErrorCode.PreconditionFailed)
    name_write_condition(error, conditions)
    assert error.fields.get("Condition") == named


def test_a_named_condition_or_another_error_is_left_alone() -> None:
    named = S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
    name_write_condition(named, WriteConditions(if_none_match="*"))
    assert named.fields["Condition"] == "If-Match"
    other = S3Error(S3ErrorCode.NoSuchKey)
    name_write_condition(other, WriteConditions(if_match=ETAG))
    assert "Condition" not in other.fields
