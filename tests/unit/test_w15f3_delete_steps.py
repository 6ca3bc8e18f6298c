"""A local store's DeleteObjects runs as steps of 100 keys, each its own job (wave 15 F3).

Before, a DeleteObjects of 1,000 keys was one job of the store's database thread (80-440 ms),
and another tenant's job, taken in turn (:mod:`s3proxy.backends.local.fair_jobs`), still
waited for all of it. Now another tenant's job waits for one step of 100 keys
(:mod:`s3proxy.backends.local.steps`), the per-key answers are those of one job, and a batch
once begun is finished even if its request is cancelled. Counted, never timed.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.local import LocalStore, steps
from s3proxy.limits import CURRENT_TENANT
from tests.unit.local_helpers import BUCKET, put, run


def _recording(store: LocalStore, ran: list[object], hold: threading.Event | None = None) -> None:
    """``store._delete_keys`` records each step's key count (and the first waits for ``hold``)."""
    original = store._delete_keys

    def step(bucket: str, keys: list[str], etags: list[str | None]) -> Any:
        ran.append(len(keys))
        if hold is not None and len(ran) == 1:
            hold.wait(10)
        return original(bucket, keys, etags)

    store._delete_keys = step  # type: ignore[method-assign]


def test_another_tenants_job_waits_for_one_step_not_the_batch(tmp_path: Path) -> None:
    """A's DeleteObjects of 250 keys and B's job queued behind A's first step: B's runs after
    that step (100 keys), not after all 250 (on 2093c4e: [250, 'b'])."""
    store = LocalStore("w15f3", tmp_path / "store")
    ran: list[object] = []
    _recording(store, ran)

    async def scenario() -> None:
        release, started = threading.Event(), threading.Event()

        def block() -> None:
            started.set()
            release.wait(10)

        async def as_tenant(tenant: str, work: Any) -> Any:
            CURRENT_TENANT.set(tenant)
            return await work()

        first = asyncio.ensure_future(as_tenant("a", lambda: store._run(block)))
        await asyncio.to_thread(started.wait, 10)
        keys = [f"gone/{n}" for n in range(250)]
        batch = asyncio.ensure_future(as_tenant("a", lambda: store.delete_objects(BUCKET, keys)))
        await asyncio.sleep(0)
        other = asyncio.ensure_future(as_tenant("b", lambda: store._run(lambda: ran.append("b"))))
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, other)
        results = await batch
        assert [(r.key, r.error) for r in results] == [(key, None) for key in keys]

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(store.close())
    assert ran == [100, "b", 100, 50]


@pytest.mark.parametrize("step", [2, 100])
def test_answers_in_steps_are_those_of_one_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    """Steps of 2 keys, or one of them all: each entry answered in order; an ``<ETag>``
    checked in its key's step; a key named twice deleted by its first entry, NoSuchKey for
    the second's condition (per entry: on 2093c4e one job answered both NoSuchKey)."""
    monkeypatch.setattr(steps, "STEP_KEYS", step)
    ran: list[object] = []

    async def scenario(store: LocalStore) -> None:
        etags = {key: await put(store, key, key.encode()) for key in ("a", "b", "c", "d")}
        _recording(store, ran)
        keys = ["a", "b", "zzz", "c", "a", "d"]
        conditions = [etags["a"], None, None, '"0123"', etags["a"], "*"]
        results = await store.delete_objects_matching(BUCKET, keys, conditions)
        assert [(r.key, r.error) for r in results] == [
            ("a", None),
            ("b", None),
            ("zzz", None),
            ("c", "PreconditionFailed"),
            ("a", "NoSuchKey"),
            ("d", None),
        ]
        page = await store.list_objects(BUCKET, "", None, None, 1000)
        assert [entry.key for entry in page.entries] == ["c"]

    run(tmp_path / "store", scenario)
    assert ran == ([2, 2, 2] if step == 2 else [6])


def test_a_batch_cancelled_after_its_first_step_began_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while its first step runs, the batch's other steps still run (one job that
    had begun would have finished); cancelled while queued, nothing is deleted."""
    monkeypatch.setattr(steps, "STEP_KEYS", 2)
    ran: list[object] = []

    async def scenario(store: LocalStore) -> None:
        for key in "abcde":
            await put(store, key, key.encode())
        hold = threading.Event()
        _recording(store, ran, hold)
        batch = asyncio.ensure_future(store.delete_objects(BUCKET, list("abcde")))
        for _ in range(1000):  # until the first step runs (held): bounded, no timing
            if ran:
                break
            await asyncio.sleep(0.01)
        assert ran == [2]
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        hold.set()
        while store._background:
            await asyncio.gather(*store._background)
        page = await store.list_objects(BUCKET, "", None, None, 1000)
        assert page.entries == []
        assert ran == [2, 2, 1]

        # Cancelled while its first step waits behind another job: nothing deleted.
        await put(store, "f", b"f")
        release, started = threading.Event(), threading.Event()

        def block() -> None:
            started.set()
            release.wait(10)

        blocker = asyncio.ensure_future(store._run(block))
        await asyncio.to_thread(started.wait, 10)
        queued = asyncio.ensure_future(store.delete_objects(BUCKET, ["f", "g", "h"]))
        await asyncio.sleep(0)
        queued.cancel()
        await asyncio.sleep(0)  # the cancellation delivered while the thread is held
        release.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await queued
        page = await store.list_objects(BUCKET, "", None, None, 1000)
        assert (ran, [entry.key for entry in page.entries]) == ([2, 2, 1], ["f"])

    run(tmp_path / "store", scenario)
