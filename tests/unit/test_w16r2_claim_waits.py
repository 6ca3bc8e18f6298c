"""A waiter that cannot check an upload's ``.ending/`` claim waits for it as before wave 16
(wave 16, R2; s3proxy.backends.upload_claims).

Wave 16 A made a waiter HEAD the claim it meets and remove one unchanged for PATIENCE seconds
(a dead holder's). R found that a failing HEAD of the claim (or a failing ``.delete-probe``)
then failed the client's Complete or abort, where before it only waited; and that the warning
"removed (dead holder)" was logged even when the bound DELETE failed and nothing was removed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends import upload_claims
from s3proxy.backends.conditional_deletes import PROBE
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import read_record, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.local_helpers import BUCKET
from tests.unit.test_w16a_stale_claims import HOME, KEY, WHERE

DEAD = b"dead-holder-token"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_claims, "PATIENCE", 0.2)
    monkeypatch.setattr(upload_claims, "FIRST_POLL", 0.005)
    monkeypatch.setattr(upload_claims, "LAST_POLL", 0.02)
    monkeypatch.setattr(upload_claims, "ROUNDS", 1000, raising=False)


class Failing:
    """The store as an upstream whose ``failing`` method answers 503 (or 403)."""

    def __init__(self, store: LocalStore, failing: str, code: S3ErrorCode) -> None:
        self._store, self._failing, self._code = store, failing, code

    def __getattr__(self, name: str) -> Any:
        if name == self._failing:

            async def refused(*args: Any, **named: Any) -> Any:
                raise S3Error(self._code)

            return refused
        return getattr(self._store, name)


def waited(tmp_path: Path, keeper: Any) -> list[bytes | None]:
    """A waiter meets a dead holder's claim through ``keeper``: what the claim is inside its
    hold, then after it (raises what the waiter raised)."""

    async def main() -> list[bytes | None]:
        store = LocalStore("up", tmp_path / "store")
        keeper._store = store
        try:
            await write_record(store, BUCKET, KEY, DEAD)
            seen: list[bytes | None] = []
            async with upload_claims.claimed(keeper, HOME, WHERE, "u1"):
                found = await read_record(store, BUCKET, KEY, 64)
                seen.append(None if found is None else found[0])
            found = await read_record(store, BUCKET, KEY, 64)
            return [*seen, None if found is None else found[0]]
        finally:
            await store.close()

    return asyncio.run(asyncio.wait_for(main(), 20))


@pytest.mark.parametrize("code", [S3ErrorCode.ServiceUnavailable, S3ErrorCode.AccessDenied])
def test_a_claim_whose_head_fails_is_waited_for_then_gone_on_unclaimed(
    tmp_path: Path, code: S3ErrorCode
) -> None:
    """Before: the HEAD's error was the client's Complete's (or abort's) answer."""
    keeper = Failing(None, "head_object", code)  # type: ignore[arg-type]
    assert waited(tmp_path, keeper) == [DEAD, DEAD]  # as before wave 16: beside it


def test_a_failing_delete_probe_is_waited_for_then_gone_on_unclaimed(tmp_path: Path) -> None:
    """The probe of bound deletes writes ``.delete-probe`` first: refused, it failed the
    client's request."""

    class ProbeFails(Failing):
        """An S3 upstream (no delete checked in the store): its bound deletes are probed."""

        checks_delete_conditions = False

        async def put_object(self, request: Any) -> Any:
            if request.key.endswith(PROBE):
                raise S3Error(S3ErrorCode.ServiceUnavailable)
            return await self._store.put_object(request)

    keeper = ProbeFails(None, "never", S3ErrorCode.ServiceUnavailable)  # type: ignore[arg-type]
    assert waited(tmp_path, keeper) == [DEAD, DEAD]


def test_a_bound_delete_that_fails_logs_no_removal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: "an upload claim unchanged ... removed (dead holder)" with nothing removed."""
    keeper = Failing(None, "delete_matching", S3ErrorCode.ServiceUnavailable)  # type: ignore[arg-type]
    monkeypatch.setattr(upload_claims, "ROUNDS", 3)  # (the waiter then goes on unclaimed)
    with caplog.at_level(logging.WARNING, logger="s3proxy.quotas"):
        assert waited(tmp_path, keeper)[0] == DEAD
    assert not [r for r in caplog.records if "removed" in r.getMessage()]
