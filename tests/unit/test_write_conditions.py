"""s3proxy.write_conditions: If-None-Match on a write is ``*`` or refused (S3's 501)."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import WriteConditions
from s3proxy.write_conditions import write_conditions


def conditions(**headers: str) -> WriteConditions:
    return write_conditions(lambda name: headers.get(name.replace("-", "_")))


def test_no_conditions() -> None:
    assert conditions() == WriteConditions()


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"if_none_match": "*"}, WriteConditions(if_none_match="*")),
        ({"if_none_match": " * "}, WriteConditions(if_none_match=" * ")),
        ({"if_match": '"abc"'}, WriteConditions(if_match='"abc"')),
        ({"if_match": "abc"}, WriteConditions(if_match="abc")),
    ],
)
def test_what_s3_takes_passes_unchanged(headers: dict[str, str], expected: WriteConditions) -> None:
    assert conditions(**headers) == expected


@pytest.mark.parametrize("value", ['"37b51d194a7513e45b56f6524f2d51f2"', "abc", "*, abc", ""])
def test_if_none_match_other_than_a_star_is_not_implemented(value: str) -> None:
    with pytest.raises(S3Error) as refused:
        conditions(if_none_match=value, if_match="x")
    assert refused.value.code is S3ErrorCode.NotImplemented
