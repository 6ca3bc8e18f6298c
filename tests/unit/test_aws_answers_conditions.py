"""Conditional writes as AWS answers them, where upstreams answer otherwise: a conditional
CompleteMultipartUpload only where the upstream checks it (s3proxy.backends.complete_conditions),
and If-Match on a missing key as 404 NoSuchKey (s3proxy.write_conditions.checked_write)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.backends.complete_conditions import PROBE, require_checked
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import (
    CompleteMultipartInput,
    CompleteMultipartOutput,
    CreateMultipartInput,
    PutObjectInput,
    PutObjectOutput,
    UploadPartInput,
    WriteConditions,
)
from s3proxy.write_conditions import checked_write

HOME = TenantLayout("t", home=UpstreamRoot(upstream="up", bucket="home", prefix="t/"))
NONE_MATCH = WriteConditions(if_none_match="*")


class Upstream:
    """Just what the probe uses; ``checks`` says whether Complete honours If-None-Match."""

    def __init__(self, checks: bool) -> None:
        self.checks = checks
        self.objects: set[str] = set()
        self.calls: list[str] = []

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        self.calls.append("put")
        self.objects.add(request.key)
        return PutObjectOutput(etag='"e"')

    async def create_multipart_upload(self, request: CreateMultipartInput) -> str:
        self.calls.append("create")
        return "u1"

    async def upload_part(self, request: UploadPartInput) -> str:
        self.calls.append("part")
        return '"p"'

    async def complete_multipart_upload(
        self, request: CompleteMultipartInput
    ) -> CompleteMultipartOutput:
        self.calls.append("complete")
        if self.checks and request.conditions.if_none_match and request.key in self.objects:
            raise S3Error(S3ErrorCode.PreconditionFailed)
        return CompleteMultipartOutput(etag='"c-1"')

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.calls.append("abort")


def require(
    upstream: Any, tenant: TenantLayout = HOME, conditions: WriteConditions = NONE_MATCH
) -> None:
    asyncio.run(require_checked({"up": upstream}, tenant, "up", conditions))


def test_an_upstream_that_checks_is_probed_once_under_the_home() -> None:
    upstream = Upstream(checks=True)
    require(upstream)
    require(upstream, conditions=WriteConditions(if_match='"x"'))
    assert upstream.calls == ["put", "create", "part", "complete", "abort"]
    assert upstream.objects == {"t/" + PROBE}


def test_an_upstream_that_ignores_the_condition_gets_501_every_time() -> None:
    upstream = Upstream(checks=False)
    for _ in range(2):
        with pytest.raises(S3Error) as refused:
            require(upstream)
        assert refused.value.code is S3ErrorCode.NotImplemented
    assert upstream.calls.count("complete") == 1  # the probe's, once


def test_without_conditions_nothing_is_probed_or_refused() -> None:
    upstream = Upstream(checks=False)
    require(upstream, conditions=WriteConditions())
    assert upstream.calls == []


def test_without_a_home_on_that_upstream_it_is_refused_unprobed() -> None:
    upstream = Upstream(checks=True)
    elsewhere = TenantLayout("t", home=UpstreamRoot(upstream="other", bucket="b", prefix=""))
    for tenant in (TenantLayout("t"), elsewhere):
        with pytest.raises(S3Error) as refused:
            require(upstream, tenant)
        assert refused.value.code is S3ErrorCode.NotImplemented
    assert upstream.calls == []


def test_a_store_that_checks_itself_is_never_probed() -> None:
    upstream = Upstream(checks=False)
    upstream.checks_complete_conditions = True  # type: ignore[attr-defined]
    require(upstream, TenantLayout("t"))
    assert upstream.calls == []


async def _refused() -> None:
    raise S3Error(S3ErrorCode.PreconditionFailed)


async def _missing() -> None:
    raise S3Error(S3ErrorCode.NoSuchKey)


async def _found() -> None:
    return None


@pytest.mark.parametrize(
    ("conditions", "head", "code"),
    [
        (WriteConditions(if_match='"x"'), _missing, S3ErrorCode.NoSuchKey),
        (WriteConditions(if_match='"x"'), _found, S3ErrorCode.PreconditionFailed),
        (NONE_MATCH, _missing, S3ErrorCode.PreconditionFailed),  # If-None-Match: * is 412
    ],
)
def test_a_failed_if_match_on_a_missing_key_is_no_such_key(
    conditions: WriteConditions, head: Any, code: S3ErrorCode
) -> None:
    with pytest.raises(S3Error) as refused:
        asyncio.run(checked_write(_refused(), conditions, head))
    assert refused.value.code is code
