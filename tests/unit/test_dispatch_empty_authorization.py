"""An empty Authorization header carries no credentials: AWS answers 403 AccessDenied, as for
none at all (ceph/s3-tests test_object_create_bad_authorization_empty; measured on AWS in
storj/edge#142), while a malformed non-empty one stays 400 InvalidArgument."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3proxy.auth.dispatch import authenticate
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request


def no_secret(access_key: str) -> str | None:
    return None


def request(headers: dict[str, str]) -> S3Request:
    return S3Request(
        method="PUT",
        raw_path="/b/k",
        query_string="",
        query={},
        headers=list(headers.items()),
        header_map=dict(headers),
        bucket="b",
        key="k",
    )


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, S3ErrorCode.AccessDenied),
        ("", S3ErrorCode.AccessDenied),
        ("   ", S3ErrorCode.AccessDenied),
        ("AWS HAHAHA", S3ErrorCode.InvalidArgument),
        ("Bearer x", S3ErrorCode.InvalidArgument),
    ],
)
def test_empty_authorization_is_no_credentials(
    authorization: str | None, code: S3ErrorCode
) -> None:
    headers = {"host": "h"} | ({} if authorization is None else {"authorization": authorization})
    with pytest.raises(S3Error) as caught:
        authenticate(request(headers), no_secret, datetime.now(UTC), max_skew=900, region=None)
    assert caught.value.code is code
