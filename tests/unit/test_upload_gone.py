"""A Complete whose upload is gone upstream: retried after success, or aborted under it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.backends.upload_gone import after_failed_complete
from s3proxy.completion import multipart_etag
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    ObjectAttributes,
    ObjectInfo,
)

PART = '"0123456789abcdef0123456789abcdef"'
REQUEST = CompleteMultipartInput("ub", "k", "up-1", [CompletedPart(1, PART)])


class Upstream:
    """list_parts and head_object as an upstream answers them: ``upload`` open or gone,
    ``etag`` of the object at the key (None: no object)."""

    def __init__(self, upload_open: bool, etag: str | None) -> None:
        self.upload_open = upload_open
        self.etag = etag
        self.asked: list[str] = []

    async def list_parts(self, *args: Any) -> None:
        self.asked.append("ListParts")
        if not self.upload_open:
            raise S3Error(S3ErrorCode.NoSuchUpload)

    async def head_object(self, *args: Any, **kwargs: Any) -> ObjectInfo:
        self.asked.append("HeadObject")
        if self.etag is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return ObjectInfo(4, self.etag, "t", ObjectAttributes({}))


def answer(upstream: Upstream, code: S3ErrorCode) -> str:
    try:
        done = asyncio.run(after_failed_complete(upstream, REQUEST, S3Error(code)))  # type: ignore[arg-type]
    except S3Error as error:
        return error.code.name
    return done.etag


def test_invalid_part_of_an_aborted_upload_is_no_such_upload() -> None:
    """SeaweedFS answers InvalidPart to a Complete racing an Abort: S3 says NoSuchUpload."""
    upstream = Upstream(upload_open=False, etag=None)
    assert answer(upstream, S3ErrorCode.InvalidPart) == "NoSuchUpload"
    assert upstream.asked == ["ListParts", "HeadObject"]


def test_invalid_part_of_an_open_upload_stands() -> None:
    upstream = Upstream(upload_open=True, etag=None)
    assert answer(upstream, S3ErrorCode.InvalidPart) == "InvalidPart"
    assert upstream.asked == ["ListParts"]


def test_a_retry_after_success_answers_the_object() -> None:
    etag = multipart_etag([PART])
    assert etag is not None
    upstream = Upstream(upload_open=False, etag=etag)
    assert answer(upstream, S3ErrorCode.NoSuchUpload) == etag
    assert upstream.asked == ["HeadObject"]


@pytest.mark.parametrize("code", [S3ErrorCode.EntityTooSmall, S3ErrorCode.AccessDenied])
def test_other_errors_ask_nothing(code: S3ErrorCode) -> None:
    upstream = Upstream(upload_open=False, etag=None)
    assert answer(upstream, code) == code.name
    assert upstream.asked == []
