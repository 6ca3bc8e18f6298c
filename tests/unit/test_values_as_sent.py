"""Header values are stored as sent: list values keep their spacing (S3 returns
``deflate, gzip`` as given), repeated lines join as HTTP joins them, empty metadata stays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import request_attributes
from s3proxy.model import without_aws_chunked


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("deflate, gzip", "deflate, gzip"),
        ("deflate,  gzip", "deflate,  gzip"),
        ("deflate, gzip,aws-chunked", "deflate, gzip"),  # what botocore sends over TLS
        ("aws-chunked, deflate, gzip", "deflate, gzip"),
        ("aws-chunked", None),
        ("AWS-Chunked", None),
        ("gzip", "gzip"),
    ],
)
def test_aws_chunked_goes_and_the_rest_stays_as_sent(sent: str, kept: str | None) -> None:
    assert without_aws_chunked(sent) == kept


def _context(*headers: tuple[str, str]) -> RequestContext:
    return cast(RequestContext, SimpleNamespace(request=SimpleNamespace(headers=list(headers))))


def test_repeated_list_headers_join_with_comma_space() -> None:
    attributes = request_attributes(
        _context(("content-encoding", "deflate"), ("content-encoding", "gzip"))
    )
    assert attributes.headers["content-encoding"] == "deflate, gzip"


def test_empty_metadata_values_are_kept() -> None:
    attributes = request_attributes(_context(("x-amz-meta-empty", ""), ("x-amz-meta-full", "v")))
    assert attributes.metadata == {"empty": "", "full": "v"}
