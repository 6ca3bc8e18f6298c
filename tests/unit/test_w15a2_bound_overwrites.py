"""A quota tenant's overwrites of one key through two replicas count what they replaced (wave 15
A2), over an in-memory upstream that checks a PUT's ``If-Match`` / ``If-None-Match`` as every S3
upstream does.

Before, each replica HEADed the key and sent its PUT unconditionally: two small overwrites of a
large object at once both read the large one and both counted it replaced, so usage fell below
what is stored by its size (a tenant repeating it could store past its quota). The PUT now goes
bound to what its HEAD read; the one that meets the other's object is refused 412 by the
upstream, answered 503 SlowDown (a body cannot be sent twice; SDKs retry it) and counts nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from s3proxy.backends.mapped import MappedStorage
from s3proxy.conditions import etag_matches
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import PutObjectInput, PutObjectOutput, WriteConditions
from s3proxy.quotas import Usage
from tests.unit.test_quotas_upstream import Upstream, _etag, put
from tests.unit.test_w15a_bound_quota_writes import always_reread, settled
from tests.unit.test_w15a_bound_quota_writes import replica as one_replica

__all__ = ["always_reread"]  # the autouse fixture: usage read afresh, books dropped after


class Conditional(Upstream):
    """Checks a PUT's conditions before storing it; ``before_put`` runs once, at the first PUT,
    before its check (another replica's turn); ``sent`` keeps each PUT's conditions."""

    def __init__(self) -> None:
        super().__init__()
        self.before_put: Callable[[], Awaitable[object]] | None = None
        self.sent: list[WriteConditions] = []

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        turn, self.before_put = self.before_put, None
        if turn is not None:
            await turn()
        if request.key.startswith("t/docs/"):  # not the usage records
            self.sent.append(request.conditions)
        data = self.objects.get((request.bucket, request.key))
        match, none_match = request.conditions.if_match, request.conditions.if_none_match
        if match is not None and data is None:  # SeaweedFS, Ceph RGW and S3 alike
            raise S3Error(S3ErrorCode.NoSuchKey)
        if match is not None and not etag_matches(match, _etag(data), strong=True):
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-Match")
        if none_match == "*" and data is not None:
            raise S3Error(S3ErrorCode.PreconditionFailed, Condition="If-None-Match")
        return await super().put_object(request)


def replica(upstream: Upstream) -> MappedStorage:
    """One gateway process serving bucket ``docs`` with a quota of 10,000 bytes."""
    return one_replica(upstream, max_bytes=10_000)


def test_two_overwrites_of_one_large_object_through_two_replicas_count_it_replaced_once() -> None:
    """Replica A HEADs the 600-byte object; replica B overwrites it with 10 bytes before A's PUT
    goes out. A's PUT is bound to the ETag its HEAD read: 503 SlowDown, nothing stored or
    counted by it (before: both counted the 600 bytes replaced, usage 1 object, -580 bytes)."""

    async def scenario() -> None:
        upstream = Conditional()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/a", b"x" * 600)
        assert await settled(upstream) == Usage(1, 600)
        upstream.before_put = lambda: second.put_object(put("a", 10, []))
        with pytest.raises(S3Error) as caught:
            await first.put_object(put("a", 20, []))
        assert (caught.value.code, caught.value.status) == (S3ErrorCode.SlowDown, 503)
        assert upstream.objects[("homes", "t/docs/a")] == b"x" * 10
        assert await settled(upstream, first, second) == Usage(1, 10)

    asyncio.run(scenario())


def test_a_new_key_goes_under_if_none_match_and_the_clients_own_condition_is_kept() -> None:
    """Over no object the PUT goes with ``If-None-Match: *`` (two first writes of one key count
    one object); a client's own condition goes as sent (its 412 is the client's answer)."""

    async def scenario() -> None:
        upstream = Conditional()
        first, second = replica(upstream), replica(upstream)
        upstream.before_put = lambda: second.put_object(put("n", 10, []))
        with pytest.raises(S3Error) as caught:
            await first.put_object(put("n", 30, []))
        assert caught.value.code is S3ErrorCode.SlowDown
        assert upstream.sent == [WriteConditions(if_none_match="*")] * 2
        assert await settled(upstream, first, second) == Usage(1, 10)
        own = dataclasses.replace(put("n", 5, []), conditions=WriteConditions(if_match='"0000"'))
        with pytest.raises(S3Error) as caught:
            await first.put_object(own)
        assert caught.value.code is S3ErrorCode.PreconditionFailed
        assert upstream.sent[-1] == WriteConditions(if_match='"0000"')
        await first.put_object(put("n", 40, []))
        assert upstream.sent[-1] == WriteConditions(if_match=_etag(b"x" * 10))
        assert await settled(upstream, first, second) == Usage(1, 40)

    asyncio.run(scenario())


def test_an_overwrite_whose_object_another_replica_deleted_meanwhile_counts_nothing() -> None:
    """The object its HEAD read is deleted through the other replica before the bound PUT:
    the upstream answers its ``If-Match`` 404 NoSuchKey, the client 503 SlowDown, and usage
    stays what is stored (before: the PUT stored 20 bytes counted as replacing 600 that the
    delete had already freed: -1 object, -580 bytes)."""

    async def scenario() -> None:
        upstream = Conditional()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/a", b"x" * 600)
        upstream.before_put = lambda: second.delete_object("docs", "a")
        with pytest.raises(S3Error) as caught:
            await first.put_object(put("a", 20, []))
        assert caught.value.code is S3ErrorCode.SlowDown
        assert ("homes", "t/docs/a") not in upstream.objects
        assert await settled(upstream, first, second) == Usage(0, 0)

    asyncio.run(scenario())


class Conflicting(Conditional):
    """AWS S3's answer to a conditional PUT that meets another write of the key in flight."""

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        if request.key.startswith("t/docs/") and request.conditions != WriteConditions():
            raise S3Error(S3ErrorCode.ConditionalRequestConflict)
        return await super().put_object(request)


def test_an_overwrite_that_meets_s3s_409_conflict_is_slow_down_and_counts_nothing() -> None:
    """S3 answers the bound PUT 409 ConditionalRequestConflict (another conditional write of
    the key was in flight): the gateway's own condition, so the client that sent none gets the
    retryable 503 SlowDown as for a 412, not a 409 about a condition it never sent."""

    async def scenario() -> None:
        upstream = Conflicting()
        first = replica(upstream)
        upstream.put("t/docs/a", b"x" * 600)
        with pytest.raises(S3Error) as caught:
            await first.put_object(put("a", 20, []))
        assert (caught.value.code, caught.value.status) == (S3ErrorCode.SlowDown, 503)
        assert upstream.objects[("homes", "t/docs/a")] == b"x" * 600
        assert await settled(upstream, first) == Usage(1, 600)

    asyncio.run(scenario())
