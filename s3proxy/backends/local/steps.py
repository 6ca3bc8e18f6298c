"""A DeleteObjects of many keys run on the database thread as bounded steps, not one long job.

The local store's database thread takes the tenants' jobs in turn (:mod:`.fair_jobs`), but a
job, once taken, runs whole: a DeleteObjects of 1,000 keys was one job of 80-440 ms (rows
deleted, blob files unlinked), and every other tenant's lookup waited for all of it. Here the
batch goes as steps of :data:`STEP_KEYS` keys, each its own job and transaction, so another
tenant's job waits for at most one step. S3 answers DeleteObjects per key and never promises the
batch is deleted at once (a concurrent GET may see some keys gone and others not), so the
answers are exactly those of one job: each key's result in the order sent, an ``<ETag>``
condition checked in its key's step, and a key named twice deleted by the first and found gone
by the second, as in one transaction.

Once begun, a batch is finished: a request cancelled while its first step waits in the queue
deletes nothing (as a queued job never runs); cancelled later (a client gone, the shutdown
timeout's 503), its remaining steps still run, in the background, as one job that had begun
would have finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

log = logging.getLogger("s3proxy.local")

STEP_KEYS = 100
"""Keys per step: a step of 100 keys is a few to ~40 ms of the database thread."""

R = TypeVar("R")
E = TypeVar("E")

Step = Callable[[list[str], list[E], Callable[[], None]], Awaitable[list[R]]]
"""One step: (its keys, their conditions, called if the job never ran) -> its per-key results."""


async def in_steps(
    step: Step[E, R],
    keys: Sequence[str],
    conditions: Sequence[E],
    background: set[asyncio.Task[None]],
) -> list[R]:
    """``step`` over ``keys`` (and ``conditions``, empty or one per key) in slices of
    :data:`STEP_KEYS`, one after another; every slice's results, in order. ``background``
    keeps the task finishing the steps of a cancelled batch."""
    keys, conditions = list(keys), list(conditions)
    dropped: list[bool] = []
    try:
        results = await step(keys[:STEP_KEYS], conditions[:STEP_KEYS], lambda: dropped.append(True))
    except asyncio.CancelledError:
        if not dropped and len(keys) > STEP_KEYS:  # the first step ran: finish the batch
            _finish(step, keys, conditions, background)
        raise
    if len(keys) <= STEP_KEYS:
        return results
    rest = asyncio.ensure_future(_rest(step, keys, conditions))
    return results + await asyncio.shield(rest)


async def _rest(step: Step[E, R], keys: list[str], conditions: list[E]) -> list[R]:
    """The steps after the first."""
    results: list[R] = []
    for start in range(STEP_KEYS, len(keys), STEP_KEYS):
        end = start + STEP_KEYS
        results += await step(keys[start:end], conditions[start:end], _nothing)
    return results


def _finish(
    step: Step[E, R],
    keys: list[str],
    conditions: list[E],
    background: set[asyncio.Task[None]],
) -> None:
    async def finish() -> None:
        try:
            await _rest(step, keys, conditions)
        except Exception as exc:  # a store closing meanwhile: nobody waits for an answer
            log.warning("a cancelled DeleteObjects' last steps failed: %r", exc)

    task = asyncio.ensure_future(finish())
    background.add(task)
    task.add_done_callback(background.discard)


def _nothing() -> None:
    """A later step never cancelled while queued: nothing to drop."""
