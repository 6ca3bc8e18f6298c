"""Two aborts of one upload through two replicas free its parts once (wave 15 A2), over an
in-memory upstream that answers an abort of a gone upload 204 as SeaweedFS 4.48 does.

Before, each replica's abort read the upload's parts (ListParts), aborted it, and freed what
it read: with both reads before either abort, both were answered 204 and both freed the parts
(usage one upload's parts below what is stored). Each now claims the upload first (a marker
written under ``If-None-Match: *`` in the tenant's home, :mod:`s3proxy.backends.upload_claims`):
the second waits, then finds the upload gone and frees nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest

from s3proxy.backends import upload_claims
from s3proxy.backends.part_quotas import aborted
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS
from s3proxy.backends.usage_records import UsageBook
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation
from s3proxy.model import PartsPage, PutObjectInput, PutObjectOutput
from s3proxy.quotas import Usage
from tests.unit.test_quotas_upstream import HOME, TENANT, TENANT_ROOT, at
from tests.unit.test_w13a_part_quotas import PartsUpstream, _run_book, stored

ENDPOINT = "http://seaweedfs.invalid"


class Seaweed(PartsUpstream):
    """Answers an abort of a gone upload 204 and ListParts of one NoSuchUpload; checks a PUT's
    ``If-None-Match: *``; ``before_abort`` runs once, at the first abort, before it ends the
    upload (another replica's turn)."""

    _config = SimpleNamespace(endpoint=ENDPOINT)

    def __init__(self) -> None:
        super().__init__()
        self.open = {"u", "v"}
        self.before_abort: Callable[[], Awaitable[object]] | None = None

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        taken = (request.bucket, request.key) in self.objects
        if request.conditions.if_none_match == "*" and taken:
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-None-Match")
        return await super().put_object(request)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        if upload_id not in self.open:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        return await super().list_parts(bucket, key, upload_id, marker, max_parts)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        turn, self.before_abort = self.before_abort, None
        if turn is not None:
            await turn()
        self.open.discard(upload_id)
        for part in [p for p in self.parts if p[0] == upload_id]:
            del self.parts[part]


@pytest.fixture(autouse=True)
def unlearnt() -> object:
    ABORTS_GONE_UPLOADS.pop(("up", ENDPOINT), None)  # not known to report gone uploads
    yield
    ABORTS_GONE_UPLOADS.pop(("up", ENDPOINT), None)


def test_two_aborts_of_one_upload_through_two_replicas_free_its_parts_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upload_claims, "FIRST_POLL", 0.001)

    async def scenario() -> None:
        upstream = Seaweed()
        layout = TenantLayout("t", HOME)
        books = [UsageBook(layout, {"up": upstream}) for _ in range(2)]  # type: ignore[dict-item]
        where: UpstreamLocation = at("big")
        await books[0].part_guarded((TENANT,), where, "u", 1, 30, stored(upstream, 1, 30))
        other_upload = stored(upstream, 1, 40, "v")
        await books[0].part_guarded((TENANT,), at("kept"), "v", 1, 40, other_upload)
        assert await books[0].total([TENANT_ROOT]) == Usage(0, 70, 70)

        def abort(index: int) -> Awaitable[None]:
            storage = SimpleNamespace(usage_book=lambda scopes, backend: books[index])
            return aborted(storage, (TENANT,), upstream, where, "u")  # type: ignore[arg-type]

        other: list[asyncio.Task[None]] = []

        async def meanwhile() -> None:  # the other replica's abort reads the parts now
            other.append(asyncio.create_task(abort(1)))
            for _ in range(20):
                await asyncio.sleep(0)

        upstream.before_abort = meanwhile
        await abort(0)
        await other[0]
        for book in books:
            await book.close()
        fresh = UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]
        assert await fresh.total([TENANT_ROOT]) == Usage(0, 40, 40)  # before: 10 (30 freed twice)
        assert not [key for _, key in upstream.objects if ".ending/" in key]  # claims removed
        await fresh.close()

    _run_book(scenario)


def test_an_upstream_that_reports_gone_uploads_takes_no_claim() -> None:
    """Once an upstream showed it answers an abort of a gone upload NoSuchUpload (S3, Ceph RGW
    16), its Completes and aborts write no claim; the local store's never do."""
    upstream = Seaweed()
    assert upload_claims.needs_claim(upstream)  # type: ignore[arg-type]
    ABORTS_GONE_UPLOADS[("up", ENDPOINT)] = False
    assert not upload_claims.needs_claim(upstream)  # type: ignore[arg-type]
    assert not upload_claims.needs_claim(SimpleNamespace())  # type: ignore[arg-type]
    assert upload_claims.claim_key(HOME, at("k"), "u").startswith("t/.ending/")


def test_aws_s3_and_ceph_rgw_take_no_claim_before_any_abort() -> None:
    """AWS S3 (known by its endpoint) and Ceph RGW 16 (by its answers) answer an abort of a gone
    upload NoSuchUpload: their quota Completes write no claim even before an abort taught it
    (a process serving Completes but no aborts paid a PUT and a DELETE on each, for ever)."""
    ABORTS_GONE_UPLOADS.pop(("up", ENDPOINT), None)
    upstream = Seaweed()
    assert upload_claims.needs_claim(upstream)  # type: ignore[arg-type]
    upstream.aws = True  # type: ignore[attr-defined]
    assert not upload_claims.needs_claim(upstream)  # type: ignore[arg-type]
    upstream.aws, upstream.ceph_rgw = False, True  # type: ignore[attr-defined]
    assert not upload_claims.needs_claim(upstream)  # type: ignore[arg-type]
