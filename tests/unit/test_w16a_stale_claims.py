"""An upload's ``.ending/`` claim left by a process that died holding it is removed, bound to its
ETag, so a live claimant's is never removed (wave 16, A).

Before, a Complete or abort that met such a claim waited :data:`upload_claims.PATIENCE` (30 s),
then went on unclaimed (two replicas could again both free the parts) and left the claim where
it was, so every later Complete or abort of that upload waited the same 30 s. Now a claim that
stays the same (ETag and Last-Modified) for that long is deleted under ``If-Match`` its ETag and
the waiter takes the claim; each claim holds a random token, so its ETag names its holder. A real
local store keeps the claims (it refuses a delete whose ``If-Match`` fails, as SeaweedFS does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends import upload_claims
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import read_record, write_record
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from tests.unit.local_helpers import BUCKET

HOME = UpstreamRoot("up", BUCKET, "home/")
WHERE = UpstreamLocation("up", BUCKET, "k")
KEY = upload_claims.claim_key(HOME, WHERE, "u1")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_claims, "PATIENCE", 0.2)
    monkeypatch.setattr(upload_claims, "FIRST_POLL", 0.005)
    monkeypatch.setattr(upload_claims, "LAST_POLL", 0.02)
    # a loaded box must not make a waiter give up before PATIENCE has run (none before wave 16)
    monkeypatch.setattr(upload_claims, "ROUNDS", 1000, raising=False)


async def claim(keeper: Any) -> bytes | None:
    found = await read_record(keeper, BUCKET, KEY, 64)
    return None if found is None else found[0]


def run(tmp_path: Path, scenario: Callable[[LocalStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = LocalStore("up", tmp_path / "store")
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("dead", [b"0123456789abcdef", b""], ids=["token", "wave-15-empty"])
def test_a_claim_left_by_a_dead_holder_is_removed_and_taken(tmp_path: Path, dead: bytes) -> None:
    """A dead holder's claim (this release's, with a token; or an older replica's, empty) is
    removed after PATIENCE and the waiter holds the upload; its own claim goes at the end.
    Before: the waiter ran unclaimed beside the dead claim, which stayed for ever."""

    async def scenario(store: LocalStore) -> None:
        await write_record(store, BUCKET, KEY, dead)
        inside: list[bytes | None] = []
        async with upload_claims.claimed(store, HOME, WHERE, "u1"):
            inside.append(await claim(store))
        assert inside[0] is not None and inside[0] != dead  # the waiter's own claim
        assert len(inside[0]) == 32  # a token of 16 random bytes, in hex
        assert await claim(store) is None

    run(tmp_path, scenario)


class TakenMeanwhile:
    """The store, where a live claimant takes the claim between the waiter's last look at the
    dead one and its bound delete (that delete must then leave the live claim alone)."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        self.after_delete: list[bytes | None] = []

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        if self.after_delete:  # the waiter's own release, later
            await self._store.delete_matching(bucket, key, etag)
            return
        await self._store.delete_object(bucket, key)  # the dead one went
        await write_record(self._store, bucket, key, b"live-holder-token")  # and was taken
        try:
            await self._store.delete_matching(bucket, key, etag)
        finally:
            self.after_delete.append(await claim(self._store))
            await self._store.delete_object(bucket, key)  # the live holder ends

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_claim_taken_again_before_the_bound_delete_stays(tmp_path: Path) -> None:
    """The delete names the dead claim's ETag: a live claim taken meanwhile is another ETag,
    which the delete leaves (before: no delete at all, the dead claim stayed)."""

    async def scenario(store: LocalStore) -> None:
        keeper = TakenMeanwhile(store)
        await write_record(store, BUCKET, KEY, b"dead-holder-token")
        async with upload_claims.claimed(keeper, HOME, WHERE, "u1"):  # type: ignore[arg-type]
            pass
        assert keeper.after_delete == [b"live-holder-token"]

    run(tmp_path, scenario)


def test_a_holder_whose_claim_was_taken_for_a_dead_ones_leaves_the_new_claim(
    tmp_path: Path,
) -> None:
    """A holder slower than PATIENCE had its claim removed by a waiter, which then took it: the
    slow holder's release, bound to its own ETag, leaves the waiter's claim (before: deleted it,
    letting a third Complete or abort in beside the waiter)."""

    async def scenario(store: LocalStore) -> None:
        async with upload_claims.claimed(store, HOME, WHERE, "u1"):
            await store.delete_object(BUCKET, KEY)  # a waiter removed it ...
            await write_record(store, BUCKET, KEY, b"waiter-token")  # ... and took it
        assert await claim(store) == b"waiter-token"

    run(tmp_path, scenario)


class IgnoresIfMatch:
    """The store as an upstream that deletes whatever a DELETE's If-Match says (Ceph RGW 16):
    no bound delete, so a dead claim cannot be removed safely."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in ("delete_matching", "delete_objects_matching", "checks_delete_conditions"):
            raise AttributeError(name)
        return getattr(self._store, name)


def test_where_no_bound_delete_exists_the_waiter_goes_on_unclaimed_after_patience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As before wave 16: the dead claim stays, and the waiter waits PATIENCE, not ROUNDS x."""
    monkeypatch.setattr(upload_claims, "ROUNDS", 10_000, raising=False)

    async def scenario(store: LocalStore) -> None:
        await write_record(store, BUCKET, KEY, b"dead-holder-token")
        keeper = IgnoresIfMatch(store)

        async def waits() -> None:
            async with upload_claims.claimed(keeper, HOME, WHERE, "u1"):  # type: ignore[arg-type]
                assert await claim(store) == b"dead-holder-token"  # unclaimed, beside it

        await asyncio.wait_for(waits(), 30)  # (10,000 x PATIENCE without the bound)
        assert await claim(store) == b"dead-holder-token"

    run(tmp_path, scenario)
