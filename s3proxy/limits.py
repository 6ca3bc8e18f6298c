"""Fair sharing between tenants: request slots per tenant, and the tenant an upstream call is for.

A tenant's requests hold one of its slots from the moment its handler starts until its response
is sent. When all of a tenant's slots are busy, its next request waits up to
``server.limits.max_wait`` seconds for one, then gets 503 SlowDown with ``Retry-After`` (what
S3 answers under pressure). Other tenants' slots are untouched, so a tenant holding stalled
uploads slows only itself. Slots also bound a tenant's memory for request bodies: each request
buffers at most a few socket reads (``server.py``'s ``max_app_queue_size``).

Upstream connections are partitioned by the same key: :data:`CURRENT_TENANT` names the tenant a
request task (and the tasks it starts) works for, and :class:`s3proxy.backends.s3.S3Upstream`
keeps one connection pool per tenant, so one tenant's slow requests cannot take another's
upstream connections.

Limits are per process: with ``server.workers: N`` a tenant may hold N times its limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
from collections import deque
from collections.abc import Mapping

from s3proxy.errors import S3Error, S3ErrorCode

CURRENT_TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("s3proxy_tenant", default="")
"""The tenant the running request serves; "" outside requests (readiness probes)."""


class Gate:
    """One tenant's request slots. Entering is a counter increment while slots are free."""

    __slots__ = ("_waiters", "active", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self, max_wait: float) -> None:
        """Take a slot, waiting at most ``max_wait`` seconds; raise SlowDown after that."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max_wait):
                await waiter  # leave() hands its slot over: ``active`` already counts us
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # handed a slot as we gave up: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):  # leave() may have dropped it already
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                retry = str(max(1, math.ceil(max_wait)))
                raise S3Error(S3ErrorCode.SlowDown, headers={"Retry-After": retry}) from None
            raise

    def leave(self) -> None:
        """Give the slot back, to the longest waiter if there is one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled, its task not yet run
                continue
            if self.active <= self.limit:
                waiter.set_result(None)
                return
            self._waiters.appendleft(waiter)  # over a limit lowered by a reload: shrink first
            break
        self.active -= 1


class Admission:
    """The gates of all tenants of one process; limits change on reload, counts carry over."""

    def __init__(self, limits: Mapping[str, int], max_wait: float) -> None:
        self.gates: dict[str, Gate] = {}
        self.max_wait = max_wait
        self.configure(limits, max_wait)

    def configure(self, limits: Mapping[str, int], max_wait: float) -> None:
        self.max_wait = max_wait
        for tenant, limit in limits.items():
            gate = self.gates.get(tenant)
            if gate is None:
                self.gates[tenant] = Gate(limit)
            else:
                gate.limit = limit
                while gate._waiters and gate.active < gate.limit:  # a raised limit: wake waiters
                    waiter = gate._waiters.popleft()
                    if not waiter.done():
                        gate.active += 1
                        waiter.set_result(None)

    def gate(self, tenant: str) -> Gate:
        return self.gates[tenant]
