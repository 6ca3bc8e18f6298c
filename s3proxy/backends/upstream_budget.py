"""The bound on one upstream's connections in a process, all tenants together
(``max_connections_total``), shared by the tenants' pools of :mod:`s3proxy.backends.upstream_pool`.

Each tenant's pool bounds that tenant (``max_connections``); this bounds them together, so many
tenants cannot exhaust the process's file descriptors. Counted: connections being opened, in use
and idle. A pool asks the budget only for a new connection (a reused one is already counted),
and a connection uncounts itself once when it closes, by either side
(:attr:`~s3proxy.backends.upstream_http.Connection.on_gone`): the common path pays nothing.
When the budget is spent, the oldest idle connection of any tenant is closed to make room; when
none is idle, the request waits at most ``connect_timeout`` for a connection to close (a
connection returned while someone waits is closed rather than pooled, so the place goes to the
waiter), then gets 503 SlowDown with nothing sent upstream. Configuration validation keeps
``max_connections`` below ``max_connections_total``, so one tenant whose requests stall holds
at most its own share and the others are still served.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from s3proxy.limits import CURRENT_TENANT, limited, slow_down

if TYPE_CHECKING:
    from s3proxy.backends.upstream_http import Connection
    from s3proxy.backends.upstream_pool import Pool


class WaitExpired(Exception):
    """A request waited ``connect_timeout`` for its tenant's full pool, or for the budget."""


def expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(WaitExpired())


async def wait_in_line(
    waiters: deque[asyncio.Future[None]], seconds: float, give_back: Callable[[], None], limit: str
) -> None:
    """Queue in ``waiters`` for a place for at most ``seconds`` (one timer handle, no task),
    the place handed over by :func:`hand_over`; 503 SlowDown after that, counted under
    ``limit``. A waiter that gives up leaves the queue; a place handed to it just as it was
    cancelled goes back through ``give_back``."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    waiters.append(waiter)
    timer = loop.call_later(seconds, expire, waiter)
    try:
        await waiter
    except BaseException as exc:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            give_back()
        else:
            with contextlib.suppress(ValueError):  # handed over, or failed, meanwhile
                waiters.remove(waiter)
        if isinstance(exc, WaitExpired):
            limited(CURRENT_TENANT.get(), limit, "SlowDown")
            raise slow_down(seconds) from None
        raise
    finally:
        timer.cancel()


def hand_over(waiters: deque[asyncio.Future[None]]) -> bool:
    """Give a freed place to the oldest live waiter; False when none waits (then the caller
    frees it)."""
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return True
    return False


def budget_size(configured: int | None, per_tenant: int) -> int:
    """``max_connections_total``, or when unset half the process's open-file limit (the rest
    is left to client connections and files), at least twice ``per_tenant``."""
    if configured is not None:
        return configured
    import resource  # POSIX only, and only here

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        soft = 1 << 20
    return max(soft // 2, 2 * per_tenant)


class ConnectionBudget:
    """One upstream's open connections in this process, across all tenants' pools: at most
    ``total``. Counted when a connection is being opened, uncounted when it closes
    (:attr:`Connection.on_gone`)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.open = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self._pools: set[Pool] = set()

    def add(self, pool: Pool) -> None:
        self._pools.add(pool)

    def discard(self, pool: Pool) -> None:
        self._pools.discard(pool)

    async def acquire(self, wait: float) -> None:
        """Count one more connection: at once while under ``total``; else after closing the
        oldest idle connection of any pool; else after waiting at most ``wait`` seconds for
        one to close (503 SlowDown then)."""
        if self.open < self.total and not self.waiters:
            self.open += 1
            return
        while self.open >= self.total and self._close_oldest_idle():
            pass  # each close hands its place to the oldest waiter, or frees it
        if self.open < self.total and not self.waiters:
            self.open += 1
            return
        await wait_in_line(self.waiters, wait, self.release, "upstream_connections_total")

    def release(self) -> None:
        """A counted connection closed (or was never opened): its place goes to the oldest
        live waiter, else is freed."""
        if not hand_over(self.waiters):  # handed over: ``open`` unchanged
            self.open -= 1

    def _close_oldest_idle(self) -> bool:
        """Close the idle connection unused longest, of any pool; False when none is idle.
        Only when the budget is spent: the common path never scans."""
        oldest: list[Connection] | None = None
        for pool in self._pools:
            idle = pool.oldest_idle()
            if idle is not None and (oldest is None or idle[0].idle_since < oldest[0].idle_since):
                oldest = idle
        if oldest is None:
            return False
        oldest.pop(0).close()
        return True
