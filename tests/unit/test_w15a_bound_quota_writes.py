"""A quota tenant's DeleteObjects and Completes through two replicas count once, and conditional
deletes on S3 upstreams answer as S3 (wave 15 A), over an in-memory upstream that honours
If-Match on a DELETE and ``<ETag>`` in DeleteObjects as SeaweedFS 4.48 does (412 for a key with
no object; a batch entry with no object NoSuchKey), and a Complete's conditions likewise.

Before, a quota tenant's DeleteObjects HEADed its keys and sent one unconditional upstream
DeleteObjects: through two replicas (two usage books) at once both read the object, both
deletes were answered Deleted, and both freed its size (usage one object below what is stored,
so the tenant could store past its quota by as much as it repeats this). A Complete counted the
object its HEAD read as replaced, whatever another replica wrote there before the Complete.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence

import pytest

from s3proxy.backends import usage_records
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.usage_records import UsageBook
from s3proxy.conditions import etag_matches
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import DeleteResult, PartsPage, WriteConditions
from s3proxy.quotas import Limit, QuotaPolicy, Usage
from tests.unit.test_quotas_upstream import HOME, TENANT_ROOT, Upstream, _etag, put


class Matching(Upstream):
    """An upstream that checks a delete's ETag as SeaweedFS 4.48 does; ``before_batch`` runs
    once, at the first DeleteObjects, before it deletes anything (another replica's turn)."""

    def __init__(self, honours: bool = True) -> None:
        super().__init__()
        self.honours = honours
        self.before_batch: Callable[[], Awaitable[object]] | None = None

    def _holds(self, bucket: str, key: str, etag: str | None) -> str | None:
        data = self.objects.get((bucket, key))
        if etag is None or not self.honours:
            return None
        if data is None:
            return S3ErrorCode.NoSuchKey.name
        return None if etag_matches(etag, _etag(data), strong=True) else "PreconditionFailed"

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        self.requests.append(f"DELETE-IF {key}")
        if self._holds(bucket, key, etag) is not None:
            raise S3Error(S3ErrorCode.PreconditionFailed)  # SeaweedFS: also with no object
        self.objects.pop((bucket, key), None)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        return await self.delete_objects_matching(bucket, keys, ())

    async def delete_objects_matching(
        self, bucket: str, keys: list[str], etags: Sequence[str | None]
    ) -> list[DeleteResult]:
        turn, self.before_batch = self.before_batch, None
        if turn is not None:
            await turn()
        results = []
        for at, key in enumerate(keys):
            failed = self._holds(bucket, key, etags[at] if at < len(etags) else None)
            if failed is None:
                self.objects.pop((bucket, key), None)
            results.append(DeleteResult(key, failed))
        return results


def replica(upstream: Upstream, max_bytes: int = 1000) -> MappedStorage:
    """One gateway process (its own usage book) serving bucket ``docs`` with a quota."""
    layout = TenantLayout("t", HOME, {"docs": UpstreamRoot("up", "homes", "t/docs/")})
    policy = QuotaPolicy(layout, Limit(max_bytes=max_bytes))
    storage = MappedStorage(layout, {"up": upstream}, 0, quotas=policy)  # type: ignore[dict-item]
    own = UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]
    storage.usage_book = lambda scopes, backend: own if scopes else None  # type: ignore[method-assign]
    return storage


async def settled(upstream: Upstream, *replicas: MappedStorage) -> Usage:
    """The tenant's usage once every replica published, as a fresh process reads it."""
    for storage in replicas:
        book = storage.usage_book(storage.quota_scopes("docs"), storage._backends["up"])
        assert book is not None
        await book.close()
    fresh = UsageBook(TenantLayout("t", HOME), {"up": upstream})  # type: ignore[dict-item]
    try:
        return await fresh.total([TENANT_ROOT])
    finally:
        await fresh.close()


@pytest.fixture(autouse=True)
def always_reread() -> object:
    usage_records.configure(0.0)
    yield
    usage_records.configure(5.0)
    usage_records._books.clear()


def test_deletes_of_one_object_through_two_replicas_free_it_once() -> None:
    """Replica A HEADs the key; replica B deletes it and frees its size before A's batch goes
    out. A's entry goes with the ETag its HEAD read: the upstream answers NoSuchKey, A reads
    the key again, finds nothing and frees nothing (before: -1 object, -60 bytes)."""

    async def scenario() -> None:
        upstream = Matching()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/a", b"x" * 60)
        upstream.put("t/docs/b", b"y" * 40)
        assert await settled(upstream) == Usage(2, 100)
        upstream.before_batch = lambda: second.delete_objects("docs", ["a"])
        results = await first.delete_objects("docs", ["a", "b"])
        assert [(r.key, r.error) for r in results] == [("a", None), ("b", None)]
        assert await settled(upstream, first, second) == Usage(0, 0)

    asyncio.run(scenario())


def test_an_overwrite_between_the_head_and_the_batch_frees_what_was_deleted() -> None:
    """Another replica replaces the object (60 → 10 bytes) after this one's HEAD: the bound
    entry fails, the key is read again and deleted alone, freeing the 10 bytes deleted (before:
    the 60 its HEAD read, 50 bytes below what is stored)."""

    async def scenario() -> None:
        upstream = Matching()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/a", b"x" * 60)
        assert await settled(upstream) == Usage(1, 60)
        upstream.before_batch = lambda: second.put_object(put("a", 10, []))
        results = await first.delete_objects("docs", ["a"])
        assert [(r.key, r.error) for r in results] == [("a", None)]
        assert ("homes", "t/docs/a") not in upstream.objects
        assert await settled(upstream, first, second) == Usage(0, 0)

    asyncio.run(scenario())


def test_a_quota_tenants_conditional_entries_answer_as_s3() -> None:
    async def scenario() -> None:
        upstream = Matching()
        tenant = replica(upstream)
        upstream.put("t/docs/a", b"x" * 60)
        upstream.put("t/docs/b", b"y" * 40)
        right = _etag(b"x" * 60)
        results = await tenant.delete_objects("docs", ["a", "b", "c"], [right, '"0000"', right])
        assert [(r.key, r.error) for r in results] == [
            ("a", None),
            ("b", "PreconditionFailed"),
            ("c", "NoSuchKey"),
        ]
        with pytest.raises(S3Error) as caught:
            await tenant.delete_object("docs", "b", '"0000"')
        assert caught.value.code is S3ErrorCode.PreconditionFailed
        with pytest.raises(S3Error) as caught:
            await tenant.delete_object("docs", "a", "*")
        assert caught.value.code is S3ErrorCode.NoSuchKey
        await tenant.delete_object("docs", "b", "*")
        assert upstream.objects.keys() <= {("homes", "t/.delete-probe")}
        assert await settled(upstream, tenant) == Usage(0, 0)

    asyncio.run(scenario())


def test_an_upstream_that_ignores_the_conditions_refuses_them_and_deletes_nothing() -> None:
    async def scenario() -> None:
        upstream = Matching(honours=False)
        tenant = replica(upstream)
        upstream.put("t/docs/a", b"x" * 60)
        with pytest.raises(S3Error) as caught:
            await tenant.delete_object("docs", "a", '"0000"')
        assert (caught.value.code, caught.value.fields) == (
            S3ErrorCode.NotImplemented,
            {"Header": "If-Match"},
        )
        with pytest.raises(S3Error) as caught:
            await tenant.delete_objects("docs", ["a"], ['"0000"'])
        assert caught.value.code is S3ErrorCode.NotImplemented
        assert ("homes", "t/docs/a") in upstream.objects
        # An unconditional DeleteObjects still deletes (its ETags bind only where honoured).
        assert [r.error for r in await tenant.delete_objects("docs", ["a"])] == [None]
        assert await settled(upstream, tenant) == Usage(0, 0)

    asyncio.run(scenario())


class OneUpload(Matching):
    """:class:`Matching` with one open upload ``u`` (ListParts answers it, else NoSuchUpload),
    whose Complete checks ``If-Match`` / ``If-None-Match: *`` as SeaweedFS does."""

    def __init__(self) -> None:
        super().__init__()
        self.open = True

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        if upload_id != "u" or not self.open:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        return PartsPage([], None)

    def complete(self, key: str, size: int) -> Callable[[WriteConditions | None], Awaitable[str]]:
        async def send(bound: WriteConditions | None) -> str:
            data = self.objects.get(("homes", key))
            if bound is not None:
                if bound.if_none_match == "*" and data is not None:
                    raise S3Error(S3ErrorCode.PreconditionFailed)
                if bound.if_match is not None and (data is None or _etag(data) != bound.if_match):
                    raise S3Error(S3ErrorCode.PreconditionFailed)
            self.put(key, b"m" * size)
            self.open = False
            return _etag(b"m" * size)

        return send


def test_a_complete_meeting_another_write_after_its_head_counts_what_it_replaced() -> None:
    """Another replica overwrites the key (60 → 10 bytes) between the Complete's HEAD and its
    send: the bound Complete is refused, the upload is still there, so the key is read again and
    the Complete sent bound to the new object, counting 10 → 100 (unbound it counted 60 → 100,
    and usage stayed 50 bytes below what is stored)."""

    async def scenario() -> None:
        upstream = OneUpload()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/a", b"x" * 60)
        assert await settled(upstream) == Usage(1, 60)
        book = first.usage_book(first.quota_scopes("docs"), upstream)
        assert book is not None
        where = dataclasses.replace(first.locate("docs", "a")[1])
        send = upstream.complete(where.key, 100)
        raced = False

        async def complete(bound: WriteConditions | None) -> str:
            nonlocal raced
            if not raced:
                raced = True
                await second.put_object(put("a", 10, []))
            return await send(bound)

        scopes = first.quota_scopes("docs")
        await book.completed_bound(scopes, where, "u", 100, 0, complete)
        assert await settled(upstream, first, second) == Usage(1, 100)
        # A Complete of an upload another replica completed meanwhile: NoSuchUpload, nothing
        # counted (the caller answers that Complete's object, upload_gone).
        with pytest.raises(S3Error) as caught:
            await book.completed_bound(scopes, where, "u", 100, 0, upstream.complete(where.key, 1))
        assert caught.value.code is S3ErrorCode.NoSuchUpload
        assert await settled(upstream, first, second) == Usage(1, 100)

    asyncio.run(scenario())
