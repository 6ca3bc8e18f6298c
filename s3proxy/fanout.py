"""Several upstream reads at once, for one answer: the first failure stops the rest.

``asyncio.gather`` raises the first exception but lets the other awaitables run on: a listing
over 16 shards whose first page request fails answered the client its 500 while 15 more
requests (and their refills) kept going, each holding an upstream connection and a pool slot.
A failing upstream then cost a listing's full fan-out per client retry. :func:`all_or_none`
cancels what is still running once one fails, and waits for it to be gone (a cancelled
request closes its connection, :mod:`s3proxy.backends.upstream_pool`), so nothing of the
request outlives its answer. Only for reads: a write that was sent is left to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def all_or_none(*awaitables: Awaitable[T]) -> list[T]:
    """The results of ``awaitables`` in order, run at once; when one raises, the others are
    cancelled and awaited before its exception is raised (as when this call is cancelled)."""
    tasks = [asyncio.ensure_future(each) for each in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
