"""A quota tenant's CopyObject onto a key counts what it replaced, across replicas (wave 15 A3),
over an in-memory upstream whose copies check both ends' conditions as SeaweedFS 4.48's and
S3's do (``x-amz-copy-source-if-match`` on the source; ``If-Match`` / ``If-None-Match`` on the
target: a wrong ETag, ``*`` over an object and an ``If-Match`` over no object are 412).

Before, each replica HEADed the target and sent its copy bound to its source only: two copies
onto one large object through two replicas at once both counted it replaced, so usage fell below
what is stored by its size (a tenant repeating it could store past its quota). The copy now goes
bound to what the target's HEAD read too; the one that meets the other's object is refused 412
by the upstream, found to be the target's (a new HEAD of it), and sent again after new HEADs —
a copy has no body to lose — so it counts what it really replaced; a target that keeps changing
is 503 SlowDown with nothing stored or counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from s3proxy.backends.mapped import MappedStorage
from s3proxy.conditions import etag_matches
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CopyObjectInput,
    CopyObjectOutput,
    ObjectAttributes,
    ObjectInfo,
    ReadConditions,
    WriteConditions,
)
from s3proxy.quotas import Usage
from tests.unit.test_quotas_upstream import _etag, put
from tests.unit.test_w15a2_bound_overwrites import Conditional, always_reread, replica, settled

__all__ = ["always_reread"]  # the fixture: every check re-reads the records


class Copies(Conditional):
    """:class:`Conditional` whose CopyObject checks the source's ``if_match`` and the target's
    conditions (``checks`` False: the target's are ignored, as Ceph RGW 16's server-side copies
    do); ``before_copy`` runs before each copy's check while set (another replica's turn);
    ``targets`` keeps each copy's target conditions."""

    def __init__(self, checks: bool = True) -> None:
        super().__init__()
        self.checks = checks
        self.before_copy: list[Callable[[], Awaitable[object]]] = []
        self.targets: list[WriteConditions] = []
        self.conflicts = 0  # copies first refused 409 ConditionalRequestConflict (S3)

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, *_: object
    ) -> ObjectInfo:
        return await super().head_object(bucket, key, conditions)

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        if self.before_copy:
            await self.before_copy.pop(0)()
        self.targets.append(request.conditions)
        if self.conflicts and (request.conditions.if_match or request.conditions.if_none_match):
            self.conflicts -= 1
            raise S3Error(S3ErrorCode.ConditionalRequestConflict)
        source = self.objects.get((request.source_bucket, request.source_key))
        if source is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        wanted = request.source_conditions.if_match
        if wanted is not None and not etag_matches(wanted, _etag(source), strong=True):
            raise S3Error(S3ErrorCode.PreconditionFailed)
        data = self.objects.get((request.bucket, request.key))
        match, none_match = request.conditions.if_match, request.conditions.if_none_match
        if self.checks and (
            (match is not None and not (data and etag_matches(match, _etag(data), strong=True)))
            or (none_match == "*" and data is not None)
        ):
            raise S3Error(S3ErrorCode.PreconditionFailed)  # SeaweedFS: 412 over none too
        self.objects[(request.bucket, request.key)] = source
        return CopyObjectOutput(_etag(source), "2026-01-01T00:00:00.000Z")


def copy(source: str, target: str, conditions: WriteConditions | None = None) -> CopyObjectInput:
    return CopyObjectInput(
        "docs", source, "docs", target, False, ObjectAttributes(),
        conditions=conditions or WriteConditions(),
    )  # fmt: skip


def copying(storage: MappedStorage, source: str, target: str) -> Callable[[], Awaitable[object]]:
    return lambda: storage.copy_object(copy(source, target))


def stored(upstream: Copies) -> Usage:
    mine = [data for (bucket, key), data in upstream.objects.items() if key.startswith("t/docs/")]
    return Usage(len(mine), sum(len(data) for data in mine))


def test_two_copies_onto_one_large_object_through_two_replicas_count_it_replaced_once() -> None:
    """Replica A HEADs the 600-byte target; replica B copies a 20-byte source onto it before
    A's copy goes out. A's copy, bound to the ETag its HEAD read, is refused 412; a new HEAD of
    the target shows another write, so A copies again bound to B's object and counts replacing
    it (before: both counted the 600 bytes replaced, usage 3 objects and -540 bytes for 40)."""

    async def scenario() -> None:
        upstream = Copies()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/big", b"x" * 600)
        upstream.put("t/docs/s1", bytes([10]) * 10)
        upstream.put("t/docs/s2", bytes([20]) * 20)
        upstream.before_copy = [copying(second, "s2", "big")]
        await first.copy_object(copy("s1", "big"))
        assert upstream.objects[("homes", "t/docs/big")] == bytes([10]) * 10
        assert await settled(upstream, first, second) == stored(upstream) == Usage(3, 40)
        big, s2 = _etag(b"x" * 600), _etag(bytes([20]) * 20)
        assert upstream.targets == [
            WriteConditions(if_match=big),  # B's, then A's first (412), then A's again
            WriteConditions(if_match=big),
            WriteConditions(if_match=s2),
        ]

    asyncio.run(scenario())


def test_two_first_copies_onto_a_new_key_count_one_object() -> None:
    """Over no object the copy goes with ``If-None-Match: *``: the second of two copies onto a
    new key through two replicas counts replacing the first's (before: two objects counted)."""

    async def scenario() -> None:
        upstream = Copies()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/s1", b"a" * 10)
        upstream.put("t/docs/s2", b"b" * 20)
        upstream.before_copy = [copying(second, "s2", "new")]
        await first.copy_object(copy("s1", "new"))
        assert await settled(upstream, first, second) == stored(upstream) == Usage(3, 40)
        assert upstream.targets[:2] == [WriteConditions(if_none_match="*")] * 2
        assert upstream.targets[2] == WriteConditions(if_match=_etag(b"b" * 20))

    asyncio.run(scenario())


def test_a_target_that_keeps_changing_is_503_slowdown_with_nothing_counted() -> None:
    """Another replica writes the target before each of the copy's three sends: 503 SlowDown
    (S3's retryable answer, as a bound PUT's), nothing stored or counted by the copy."""

    async def scenario() -> None:
        upstream = Copies()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/big", b"x" * 600)
        for key, size in (("s1", 10), ("s2", 20), ("s3", 30), ("s4", 40)):
            upstream.put(f"t/docs/{key}", bytes([size]) * size)
        upstream.before_copy = [
            lambda n=n: _then(copying(second, f"s{n}", "big"), upstream) for n in (2, 3, 4)
        ]
        with pytest.raises(S3Error) as caught:
            await first.copy_object(copy("s1", "big"))
        assert (caught.value.code, caught.value.status) == (S3ErrorCode.SlowDown, 503)
        assert upstream.objects[("homes", "t/docs/big")] == bytes([40]) * 40
        assert await settled(upstream, first, second) == stored(upstream) == Usage(5, 140)

    asyncio.run(scenario())


async def _then(step: Callable[[], Awaitable[object]], upstream: Copies) -> None:
    """``step`` (another replica's copy) with the hooks left for the copy that runs it put
    aside: the other replica's own copy goes through at once."""
    waiting, upstream.before_copy = upstream.before_copy, []
    try:
        await step()
    finally:
        upstream.before_copy = waiting


def test_the_clients_own_target_condition_is_sent_as_it_is_and_its_412_kept() -> None:
    async def scenario() -> None:
        upstream = Copies()
        first = replica(upstream)
        upstream.put("t/docs/s1", b"a" * 10)
        upstream.put("t/docs/big", b"x" * 600)
        own = WriteConditions(if_none_match="*")
        with pytest.raises(S3Error) as caught:
            await first.copy_object(copy("s1", "big", own))
        assert caught.value.code is S3ErrorCode.PreconditionFailed
        assert upstream.sent + upstream.targets == [own]  # through a PUT, as sent (mapped.py)
        assert await settled(upstream, first) == stored(upstream)

    asyncio.run(scenario())


def test_a_source_changed_meanwhile_is_told_from_the_target_and_copied_as_it_is() -> None:
    """A 412 whose target is still as its HEAD read was the source's: the source is HEADed
    again and copied (wave 14 F3), the target binding kept."""

    async def scenario() -> None:
        upstream = Copies()
        first, second = replica(upstream), replica(upstream)
        upstream.put("t/docs/s1", b"a" * 10)
        upstream.put("t/docs/big", b"y" * 600)
        upstream.before_copy = [lambda: second.put_object(put("s1", 30, []))]
        await first.copy_object(copy("s1", "big"))
        assert upstream.objects[("homes", "t/docs/big")] == b"x" * 30
        assert upstream.targets == [WriteConditions(if_match=_etag(b"y" * 600))] * 2
        assert await settled(upstream, first, second) == stored(upstream) == Usage(2, 60)

    asyncio.run(scenario())


def test_an_upstream_whose_copies_ignore_the_target_condition_copies_as_before() -> None:
    """Ceph RGW 16's server-side copies ignore ``If-Match`` / ``If-None-Match``: the binding
    changes nothing there (README "Quotas": its copies onto one key may still drift)."""

    async def scenario() -> None:
        upstream = Copies(checks=False)
        first = replica(upstream)
        upstream.put("t/docs/s1", b"a" * 10)
        upstream.put("t/docs/big", b"x" * 600)
        await first.copy_object(copy("s1", "big"))
        assert upstream.objects[("homes", "t/docs/big")] == b"a" * 10
        assert await settled(upstream, first) == stored(upstream) == Usage(2, 20)

    asyncio.run(scenario())


def test_a_copy_s3_refuses_409_for_a_conditional_write_in_flight_is_sent_again() -> None:
    """S3 answers 409 ConditionalRequestConflict to a conditional write that met another in
    flight: the gateway's own condition, so the copy is sent again, never answered 409."""

    async def scenario() -> None:
        upstream = Copies()
        first = replica(upstream)
        upstream.put("t/docs/s1", b"a" * 10)
        upstream.put("t/docs/big", b"x" * 600)
        upstream.conflicts = 1
        await first.copy_object(copy("s1", "big"))
        assert upstream.objects[("homes", "t/docs/big")] == b"a" * 10
        assert upstream.targets == [WriteConditions(if_match=_etag(b"x" * 600))] * 2
        assert await settled(upstream, first) == stored(upstream) == Usage(2, 20)

    asyncio.run(scenario())
