"""A quota tenant's range-less UploadPartCopy copies the source its HEAD checked (wave 14 F4).

As a CopyObject (test_w14f3_bound_copies), the part copy is admitted against the size its
source's HEAD showed; a source grown between that HEAD and the part copy used to be copied all
the same, past the quota (counted right only after, from ListParts). Now the part copy is bound
to the HEAD's ETag, and a 412 only that binding caused is retried against a new HEAD.
"""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends import usage_records
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CopyObjectOutput, ReadConditions, UploadPartCopyInput
from s3proxy.quotas import Limit
from tests.unit.test_quotas_upstream import _etag, always_reread, put, storage
from tests.unit.test_w13a_part_quotas import PartsUpstream
from tests.unit.test_w14f3_bound_copies import GrowsBeforeCopies

__all__ = ["always_reread"]  # the fixture: every check re-reads the records

SOURCE = "t/docs/src"


class Overwritten(GrowsBeforeCopies, PartsUpstream):
    """An upstream whose UploadPartCopy source grows after the gateway's HEAD."""

    def __init__(self, grown: int | None, always: bool = False) -> None:
        PartsUpstream.__init__(self)
        self.grows(grown, always)

    async def upload_part_copy(self, request: UploadPartCopyInput) -> CopyObjectOutput:
        data = self.source_now(request.source_bucket, request.source_key, request.source_conditions)
        self.parts[(request.upload_id, request.part_number)] = len(data)
        return CopyObjectOutput(_etag(data), "2026-01-01T00:00:00.000Z")


def part_copy(if_match: str | None = None) -> UploadPartCopyInput:
    conditions = ReadConditions(if_match=if_match)
    return UploadPartCopyInput("docs", "src", "docs", "dst", "u", 1, None, conditions)


def run(upstream: Overwritten, request: UploadPartCopyInput, limit: Limit | None) -> None:
    async def scenario() -> None:
        tenant = storage(upstream, limit)
        try:
            await tenant.put_object(put("src", 10, []))
            await tenant.uploads.upload_part_copy(request)
        finally:
            await usage_records.close_all()

    asyncio.run(scenario())


def test_a_source_grown_past_the_quota_after_the_heads_is_not_part_copied() -> None:
    """Before: admitted as 10 + 10 bytes, the part copied 55 (10 + 55 stored under 60)."""
    upstream = Overwritten(grown=55)
    with pytest.raises(S3Error) as error:
        run(upstream, part_copy(), Limit(max_bytes=60))
    assert error.value.code is S3ErrorCode.QuotaExceeded
    assert upstream.parts == {}


def test_a_source_changed_after_its_head_is_part_copied_as_it_is_now_without_a_412() -> None:
    upstream = Overwritten(grown=20)
    run(upstream, part_copy(), Limit(max_bytes=100))
    assert upstream.parts == {("u", 1): 20}
    assert upstream.copies == [_etag(b"x" * 10), _etag(b"y" * 20)]


def test_the_clients_own_if_match_keeps_its_412() -> None:
    upstream = Overwritten(grown=20)
    with pytest.raises(S3Error) as error:
        run(upstream, part_copy(if_match=_etag(b"x" * 10)), Limit(max_bytes=100))
    assert error.value.code is S3ErrorCode.PreconditionFailed
    assert upstream.copies == [_etag(b"x" * 10)]


def test_a_source_that_keeps_changing_is_503_after_a_few_part_copies() -> None:
    upstream = Overwritten(grown=20, always=True)
    with pytest.raises(S3Error) as error:
        run(upstream, part_copy(), Limit(max_bytes=100))
    assert error.value.code is S3ErrorCode.ServiceUnavailable
    assert len(upstream.copies) == 3
    assert upstream.parts == {}


def test_a_tenant_without_a_quota_is_part_copied_as_asked() -> None:
    upstream = Overwritten(grown=None)
    run(upstream, part_copy(), None)
    assert upstream.copies == [None]
