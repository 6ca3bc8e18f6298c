"""A quota tenant's CopyObject copies the source its HEAD checked (wave 14 F3).

The copy is admitted against the size the source's HEAD showed; a source grown between that
HEAD and the copy used to be copied all the same, past the quota (counted right only after).
Now the copy is bound to the HEAD's ETag (``x-amz-copy-source-if-match``), and a 412 that only
that binding caused is retried against a new HEAD, never answered to the client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.backends import usage_records
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CopyObjectInput,
    CopyObjectOutput,
    ObjectAttributes,
    ObjectInfo,
    ReadConditions,
)
from s3proxy.quotas import Limit
from tests.unit.test_quotas_upstream import Upstream, _etag, always_reread, put, storage

__all__ = ["always_reread"]  # the fixture: every check re-reads the records

SOURCE = "t/docs/src"


class GrowsBeforeCopies:
    """A copy source overwritten with ``grown`` bytes just before the first copy reaches it
    (after the gateway's HEAD), one byte more before every copy if ``always``; copies honour
    x-amz-copy-source-if-match. Mixed into a fake upstream (``objects``, ``put``)."""

    objects: dict[tuple[str, str], bytes]

    def grows(self, grown: int | None, always: bool) -> None:
        self.grown = grown
        self.always = always
        self.copies: list[str | None] = []

    def source_now(self, bucket: str, key: str, conditions: ReadConditions) -> bytes:
        """The source as the copy finds it, or S3's 412 for an If-Match it no longer meets."""
        self.copies.append(conditions.if_match)
        if self.grown is not None:
            self.put(SOURCE, b"y" * self.grown)
            self.grown = self.grown + 1 if self.always else None
        data = self.objects[(bucket, key)]
        if conditions.if_match is not None and conditions.if_match != _etag(data):
            raise S3Error(S3ErrorCode.PreconditionFailed)
        return data


class Overwritten(GrowsBeforeCopies, Upstream):
    """An upstream whose CopyObject source grows after the gateway's HEAD."""

    def __init__(self, grown: int | None, always: bool = False) -> None:
        Upstream.__init__(self)
        self.grows(grown, always)

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, *_: Any
    ) -> ObjectInfo:
        return await super().head_object(bucket, key, conditions)

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        data = self.source_now(request.source_bucket, request.source_key, request.source_conditions)
        self.objects[(request.bucket, request.key)] = data
        return CopyObjectOutput(_etag(data), "2026-01-01T00:00:00.000Z")


def copy(if_match: str | None = None) -> CopyObjectInput:
    conditions = ReadConditions(if_match=if_match)
    return CopyObjectInput("docs", "src", "docs", "dst", False, ObjectAttributes(), conditions)


def run(upstream: Overwritten, request: CopyObjectInput, limit: Limit | None) -> None:
    async def scenario() -> None:
        tenant = storage(upstream, limit)
        try:
            await tenant.put_object(put("src", 10, []))
            await tenant.copy_object(request)
        finally:
            await usage_records.close_all()

    asyncio.run(scenario())


def test_a_source_grown_past_the_quota_after_the_heads_is_not_copied() -> None:
    """Before: admitted as 10 + 10 bytes, it copied 55 (10 + 55 + 55 stored under 60)."""
    upstream = Overwritten(grown=55)
    with pytest.raises(S3Error) as error:
        run(upstream, copy(), Limit(max_bytes=60))
    assert error.value.code is S3ErrorCode.QuotaExceeded
    assert ("homes", "t/docs/dst") not in upstream.objects


def test_a_source_changed_after_its_head_is_copied_as_it_is_now_without_a_412() -> None:
    upstream = Overwritten(grown=20)
    run(upstream, copy(), Limit(max_bytes=100))
    assert upstream.objects[("homes", "t/docs/dst")] == b"y" * 20
    assert upstream.copies == [_etag(b"x" * 10), _etag(b"y" * 20)]


def test_the_clients_own_if_match_keeps_its_412() -> None:
    upstream = Overwritten(grown=20)
    with pytest.raises(S3Error) as error:
        run(upstream, copy(if_match=_etag(b"x" * 10)), Limit(max_bytes=100))
    assert error.value.code is S3ErrorCode.PreconditionFailed
    assert upstream.copies == [_etag(b"x" * 10)]


def test_a_tenant_without_a_quota_is_copied_as_asked() -> None:
    upstream = Overwritten(grown=None)
    run(upstream, copy(), None)
    assert upstream.copies == [None]


def test_a_source_that_keeps_changing_is_503_after_a_few_copies() -> None:
    upstream = Overwritten(grown=20, always=True)
    with pytest.raises(S3Error) as error:
        run(upstream, copy(), Limit(max_bytes=100))
    assert error.value.code is S3ErrorCode.ServiceUnavailable
    assert len(upstream.copies) == 3
    assert ("homes", "t/docs/dst") not in upstream.objects
