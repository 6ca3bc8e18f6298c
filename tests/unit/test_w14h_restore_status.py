"""A listing asked for its optional RestoreStatus is served (wave 14 H).

``rclone backend restore-status`` and ``aws s3api list-objects-v2 --optional-object-attributes
RestoreStatus`` send ``x-amz-optional-object-attributes: RestoreStatus``; it was 501 on every
operation, so rclone could not tell its user that nothing is being restored. S3 adds a
RestoreStatus only to an object restored, or being restored, from an archive class; nothing here
ever is (RestoreObject is 501, a GLACIER class is a label), so the listing S3 would give is the
plain one. Any other attribute, and the header on any other operation, stays 501.
"""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.header_policy import check_request_headers
from s3proxy.operations import Operation
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

HEADER = "x-amz-optional-object-attributes"


def _refusal(operation: Operation, value: str, *, query: bool = False) -> S3Error | None:
    if query:  # a presigner's hoisted form gets the same answer
        scope = http_scope("GET", "/bkt", f"{HEADER}={value}", {})
    else:
        scope = http_scope("GET", "/bkt", "", {HEADER: value})
    try:
        check_request_headers(parse_request(scope), operation, ignore_unknown=False)
    except S3Error as error:
        return error
    return None


@pytest.mark.parametrize(
    "operation", [Operation.ListObjects, Operation.ListObjectsV2, Operation.ListObjectVersions]
)
@pytest.mark.parametrize("query", [False, True], ids=["header", "query"])
def test_restore_status_is_accepted_on_listings(operation: Operation, query: bool) -> None:
    assert _refusal(operation, "RestoreStatus", query=query) is None


@pytest.mark.parametrize(
    ("operation", "value"),
    [
        (Operation.ListObjectsV2, "Checksum"),  # an attribute S3 may add one day
        (Operation.ListObjectsV2, ""),
        (Operation.GetObject, "RestoreStatus"),
        (Operation.ListMultipartUploads, "RestoreStatus"),
    ],
)
def test_anything_else_stays_501_naming_the_header(operation: Operation, value: str) -> None:
    error = _refusal(operation, value)
    assert error is not None
    assert (error.code, error.status, error.fields) == (
        S3ErrorCode.NotImplemented,
        501,
        {"Header": HEADER},
    )
