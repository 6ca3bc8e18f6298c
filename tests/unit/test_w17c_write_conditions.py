"""s3proxy.write_conditions: the conditional-header forms a write does not take, refused as S3
refuses them (wave 17 C).

Both If-Match and If-None-Match on one write were 412 (If-None-Match named) or a write; S3
answers 501 naming the pair. An If-Match ETag list was a write on the local store and
SeaweedFS, 412 on Ceph RGW; S3's answer is not established, so every lane refuses it (501).
"""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import WriteConditions
from s3proxy.write_conditions import write_conditions


def _refusal(**headers: str) -> tuple[S3ErrorCode, str, dict[str, str]]:
    with pytest.raises(S3Error) as refused:
        write_conditions(lambda name: headers.get(name.replace("-", "_")))
    error = refused.value
    return error.code, error.message, dict(error.fields)


NOT_IMPLEMENTED = "A header you provided implies functionality that is not implemented"


@pytest.mark.parametrize(
    "headers",
    [
        {"if_match": '"abc"', "if_none_match": "*"},
        {"if_match": "*", "if_none_match": "*"},
        {"if_match": '"abc"', "if_none_match": '"abc"'},
    ],
)
def test_both_conditions_are_s3s_501(headers: dict[str, str]) -> None:
    fields = {
        "Header": "If-Match,If-None-Match",
        "additionalMessage": "Multiple conditional request headers present in the request",
    }
    assert _refusal(**headers) == (S3ErrorCode.NotImplemented, NOT_IMPLEMENTED, fields)


@pytest.mark.parametrize("value", ['"a", "b"', '"a","b"', "a, *"])
def test_an_if_match_list_is_refused(value: str) -> None:
    fields = {
        "Header": "If-Match",
        "additionalMessage": "We don't accept the provided value of If-Match header for this API",
    }
    assert _refusal(if_match=value) == (S3ErrorCode.NotImplemented, NOT_IMPLEMENTED, fields)


def test_an_if_none_match_etag_names_the_header_as_s3_does() -> None:
    message = "We don't accept the provided value of If-None-Match header for this API"
    fields = {"Header": "If-None-Match", "additionalMessage": message}
    assert _refusal(if_none_match='"abc"') == (S3ErrorCode.NotImplemented, NOT_IMPLEMENTED, fields)


def test_one_etag_still_goes_to_the_backend() -> None:
    headers = {"if-match": '"37b51d194a7513e45b56f6524f2d51f2"'}
    assert write_conditions(headers.get) == WriteConditions(if_match=headers["if-match"])
