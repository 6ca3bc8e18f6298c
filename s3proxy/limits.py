"""Fair sharing between tenants: request slots per tenant, and the tenant an upstream call is for.

A tenant's requests hold one of its slots from the moment its handler starts until its response
is sent. When all of a tenant's slots are busy, its next request waits up to
``server.limits.max_wait`` seconds for one, then gets 503 SlowDown with ``Retry-After`` (what
S3 answers under pressure). Other tenants' slots are untouched, so a tenant holding stalled
uploads slows only itself. Slots also bound a tenant's memory for request bodies: each request
buffers at most a few socket reads (``server.py``'s ``max_app_queue_size``).

A second gate per tenant counts expensive operations (listings, DeleteObjects, ...) instead of
requests, with the same answer (``Admission.expensive``; s3proxy.expensive says which operations
and why); its waiters are patient: they wait on while the queue moves (:meth:`Gate.enter`).

Upstream connections are partitioned by the same key: :data:`CURRENT_TENANT` names the tenant a
request task (and the tasks it starts) works for, and :class:`s3proxy.backends.s3.S3Upstream`
keeps one connection pool per tenant, so one tenant's slow requests cannot take another's
upstream connections.

Rate limits are token buckets per tenant (:class:`TokenBucket`), checked when a request is
admitted, before its slot and before any body byte is read or any upstream call is made:

- ``requests_per_second``: each request takes a token; with none left it waits for the next one
  when that comes within ``server.limits.max_wait`` (the token is taken ahead, so the requests
  behind it queue in order), else gets 503 SlowDown with ``Retry-After`` saying when it comes.
- ``bytes_per_second``: request and response body bytes are charged, and the bucket may go into
  debt. A request that declares its bytes (a body's ``Content-Length``, a GET's closed
  ``Range``) takes them when it is admitted, so the requests behind it queue for them in
  order, as for request tokens (:class:`Reservation`: what it did not move is given back at its
  end); other bytes are charged as they move. While the bucket is in debt a new request waits
  for the repayment when that comes within :data:`PATIENT_WAITS` x ``max_wait``, else gets 503
  SlowDown with ``Retry-After`` saying when. Transfers in progress are never paused: pausing a
  body would hold its slot and upstream connection, and an upstream ends a body that stalls
  (S3 after about 20 s, with RequestTimeout), so throttling large uploads would break them.
  Holding new requests back instead keeps the tenant's average at its rate (over any period
  longer than its largest transfer) without holding anything in memory. A copy's bytes, which
  pass in no body, are charged as a body's would be once its size is known (s3proxy.copy_charge).

Why bytes wait longer than tokens: a multipart client runs several parts at once, each taken
whole at full speed. With debt counted only after the bytes moved and waited for at most
``max_wait``, aws-cli v2 (three attempts) uploading 100 MiB under 10 MB/s ran all 13 parts at
once, 10 s ahead of the rate, and its next upload's CreateMultipartUpload was refused three
times and failed (2 runs of 3). Reserved ahead, the parts queue at the rate, and a queue of
bytes always moves (as the expensive gates' queues do while they move), so its waiters are as
patient as theirs: 3 runs of 3 took 11-14 s with no 503. A client with more bytes in flight
than that wait covers still has some refused (README, "Rate limits").

Why wait at all: a token bucket refuses whatever arrives between two tokens, and at 100 requests
a second those are 10 ms apart. With ``aws s3 cp --recursive`` of 1,204 files at 64 requests at
once, 4 to 612 requests a run were refused, and aws-cli v2 (three attempts) gave up on 0, 5 and
247 files in three runs (v1, five attempts, on 1 in one). Waiting for a token that comes within
``max_wait`` (as a request waits for a slot) stored all of them with no 503 in each run; a
request waiting holds no slot, reads no body byte and sends nothing upstream, and at most
``rate x max_wait`` of them wait at once.

A bucket holds one second of its rate (at least one request), so a tenant may burst that much.

Limits are per process: with ``server.workers: N`` a tenant may hold N times its limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from s3proxy import metrics
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation

PATIENT_WAITS = 10
"""A patient gate's waiter gives up after this many ``max_wait`` in all (10 s by default, well
under the 60 s SDKs wait for an answer), even while the queue moves; a request waits this long
at most for its tenant's byte debt to be repaid (module docstring)."""

CURRENT_TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("s3proxy_tenant", default="")
"""The tenant the running request serves; "" outside requests (readiness probes)."""


class Gate:
    """One tenant's request slots. Entering is a counter increment while slots are free."""

    __slots__ = ("_turns", "_waiters", "active", "limit", "name", "patient", "tenant")

    def __init__(
        self,
        limit: int,
        tenant: str = "",
        name: str = "max_concurrent_requests",
        *,
        patient: bool = False,
    ) -> None:
        self.limit = limit
        self.tenant = tenant
        self.name = name
        """The limit's name in metrics (``s3proxy_limited_total``'s ``limit`` label)."""
        self.patient = patient
        """Waiters wait on while the queue moves (:meth:`enter`): the expensive gates."""
        self.active = 0
        self._turns = 0
        """Slots handed to waiters so far: how a patient waiter sees the queue move."""
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self, max_wait: float) -> None:
        """Take a slot, waiting at most ``max_wait`` seconds; raise SlowDown after that. A
        patient gate's waiter waits on as long as a slot was handed over within each
        ``max_wait``, up to :data:`PATIENT_WAITS` of them in all."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            for _ in range(PATIENT_WAITS if self.patient else 1):
                turns = self._turns
                try:
                    async with asyncio.timeout(max_wait):
                        # leave() hands its slot over: ``active`` already counts us
                        await asyncio.shield(waiter)
                    break
                except TimeoutError:
                    if self._turns == turns:  # nothing moved: the queue is stuck
                        raise
            else:
                raise TimeoutError
            limited(self.tenant, self.name, "waited")
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # handed a slot as we gave up: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):  # leave() may have dropped it already
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                limited(self.tenant, self.name, "SlowDown")
                raise slow_down(max_wait) from None
            raise

    def leave(self) -> None:
        """Give the slot back, to the longest waiter if there is one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled, its task not yet run
                continue
            if self.active <= self.limit:
                waiter.set_result(None)
                self._turns += 1
                return
            self._waiters.appendleft(waiter)  # over a limit lowered by a reload: shrink first
            break
        self.active -= 1


class Admission:
    """The gates and rate buckets of all tenants of one process; limits change on reload, counts
    (busy slots, tokens, debt) carry over while a limit stays the same."""

    def __init__(
        self,
        limits: Mapping[str, int],
        max_wait: float,
        rates: Mapping[str, tuple[float, float]] | None = None,
        expensive: Mapping[str, int] | None = None,
    ) -> None:
        self.gates: dict[str, Gate] = {}
        self.expensive: dict[str, Gate] = {}
        """Each tenant's slots for expensive operations (s3proxy.expensive); none: no limit."""
        self.rates: dict[str, TenantRates] = {}
        """Only tenants with a rate limit: the others pay one dict miss a request."""
        self.max_wait = max_wait
        self.configure(limits, max_wait, rates, expensive)

    def configure(
        self,
        limits: Mapping[str, int],
        max_wait: float,
        rates: Mapping[str, tuple[float, float]] | None = None,
        expensive: Mapping[str, int] | None = None,
    ) -> None:
        """``rates``: tenant → (requests_per_second, bytes_per_second), 0 for no limit;
        ``expensive``: tenant → its ``max_concurrent_expensive``."""
        self.max_wait = max_wait
        _set_limits(self.gates, limits, "max_concurrent_requests")
        _set_limits(self.expensive, expensive or {}, "max_concurrent_expensive", patient=True)
        configured: dict[str, TenantRates] = {}
        for tenant, (per_request, per_byte) in (rates or {}).items():
            if per_request <= 0 and per_byte <= 0:
                continue
            old = self.rates.get(tenant)
            configured[tenant] = TenantRates(
                tenant,
                _same_or_new(old.requests if old else None, per_request, max(1.0, per_request)),
                _same_or_new(old.bytes if old else None, per_byte, per_byte),
            )
        self.rates = configured

    def gate(self, tenant: str) -> Gate:
        return self.gates[tenant]


def _set_limits(
    gates: dict[str, Gate], limits: Mapping[str, int], name: str, *, patient: bool = False
) -> None:
    """Give each tenant's gate its (new) limit; busy slots and waiters carry over a reload."""
    for tenant, limit in limits.items():
        gate = gates.get(tenant)
        if gate is None:
            gates[tenant] = Gate(limit, tenant, name, patient=patient)
        else:
            gate.limit = limit
            while gate._waiters and gate.active < gate.limit:  # a raised limit: wake waiters
                waiter = gate._waiters.popleft()
                if not waiter.done():
                    gate.active += 1
                    waiter.set_result(None)


class TokenBucket:
    """``rate`` tokens a second, up to ``burst`` held; refilled lazily when used."""

    __slots__ = ("_stamp", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self._stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def take(self, now: float, max_wait: float = 0.0) -> float:
        """Take one token: 0.0 if one was there, else the seconds until one is. When those are
        at most ``max_wait`` the token is taken ahead (the bucket goes below zero, so the next
        request's wait counts from after it) and the caller waits them out; beyond, nothing is
        taken and the request is refused."""
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.rate
        if wait <= max_wait:
            self.tokens -= 1
        return wait

    def debt(self, now: float) -> float:
        """Seconds until the bucket is out of debt; 0.0 when it is not in debt."""
        self._refill(now)
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def charge(self, amount: int, now: float | None = None) -> None:
        """Take ``amount`` tokens, into debt if need be (bytes that have already moved)."""
        self._refill(time.monotonic() if now is None else now)
        self.tokens -= amount

    def refund(self, amount: int) -> None:
        """Give back ``amount`` tokens taken ahead and not used (up to the burst)."""
        self._refill(time.monotonic())
        self.tokens = min(self.burst, self.tokens + amount)


class Meter(Protocol):
    """What a request's body bytes are charged to: its tenant's byte bucket, or a
    :class:`Reservation` on it."""

    def charge(self, amount: int, now: float | None = None) -> None: ...


class Reservation:
    """Bytes a request took from its tenant's byte bucket when it was admitted (what it
    declared it would move): its bytes are charged to them first, and only what goes past them
    to the bucket; :meth:`release` gives back what it did not move (a body refused unread, a
    range past the object's end)."""

    __slots__ = ("bucket", "left")

    def __init__(self, bucket: TokenBucket, amount: int) -> None:
        self.bucket = bucket
        self.left = amount

    def charge(self, amount: int, now: float | None = None) -> None:
        left = self.left
        if amount <= left:
            self.left = left - amount
            return
        self.left = 0
        self.bucket.charge(amount - left, now)

    def release(self) -> None:
        """The request is over: give back the bytes it reserved and did not move."""
        if self.left:
            self.bucket.refund(self.left)
            self.left = 0


def declared_bytes(method: str, length: str | None, byte_range: str | None) -> int:
    """The bytes a request says it will move, taken ahead when it is admitted: a PUT's or
    POST's ``Content-Length``, a GET's closed ``Range`` (``bytes=a-b``, what parallel
    downloaders send); 0 when unknown, whose bytes are charged as they move."""
    if method in ("PUT", "POST"):
        return (decimal(length) or 0) if length is not None else 0
    if method == "GET" and byte_range is not None and byte_range.startswith("bytes="):
        first_text, dash, last_text = byte_range[6:].partition("-")
        first, last = decimal(first_text), decimal(last_text)
        if dash and first is not None and last is not None and last >= first:
            return last - first + 1
    return 0


def _same_or_new(bucket: TokenBucket | None, rate: float, burst: float) -> TokenBucket | None:
    if rate <= 0:
        return None
    if bucket is not None and bucket.rate == rate:
        return bucket  # a reload that keeps the rate keeps the tokens (and the debt)
    return TokenBucket(rate, burst)


SETTLING = frozenset({Operation.CompleteMultipartUpload, Operation.AbortMultipartUpload})
"""Requests that finish or cancel an upload whose parts were charged as they moved: byte debt
does not refuse them. Parts move at full speed (transfers are never paused), so the debt at a
Complete is the upload's size less what the rate repaid meanwhile: ``aws s3 cp`` of 100 MiB
under 10 MB/s met ~9 s of it, had Complete and then its Abort refused 503 three times each,
and failed with the parts left behind, on every try. They still take a request token."""


@dataclass(frozen=True, slots=True)
class TenantRates:
    """One tenant's rate buckets; None where that limit is off."""

    tenant: str
    requests: TokenBucket | None
    bytes: TokenBucket | None

    def admit(self, max_wait: float = 0.0, *, settles: bool = False, reserve: int = 0) -> float:
        """Let a request in: the seconds it must wait first (0.0: none; at most ``max_wait``
        for its request token, then taken already, and at most :data:`PATIENT_WAITS` x
        ``max_wait`` for its tenant's byte debt), or raise 503 SlowDown with the
        ``Retry-After`` its bucket says when the wait would be longer. A request that
        ``settles`` transfers already charged (:data:`SETTLING`) is not held back by byte debt.
        An admitted request takes the ``reserve`` bytes it declared (into debt: the requests
        behind it wait for them)."""
        now = time.monotonic()
        debt = 0.0
        if self.bytes is not None and not settles:
            debt = self.bytes.debt(now)
            if debt > max_wait * PATIENT_WAITS:
                limited(self.tenant, "bytes_per_second", "SlowDown")
                raise slow_down(debt)
        wait = 0.0
        if self.requests is not None:
            wait = self.requests.take(now, max_wait)
            if wait > max_wait:
                limited(self.tenant, "requests_per_second", "SlowDown")
                raise slow_down(wait)
        if reserve and self.bytes is not None:
            self.bytes.charge(reserve, now)
        if debt > 0 or wait > 0:
            longer = "bytes_per_second" if debt > wait else "requests_per_second"
            limited(self.tenant, longer, "waited")
        return max(debt, wait)

    async def wait_admitted(
        self, max_wait: float, operation: Operation, declared: int = 0
    ) -> Meter | None:
        """:meth:`admit`, then the wait it asks for (before the request's slot and body). What
        the request's bytes are charged to: None without a byte limit, else the bucket, or a
        :class:`Reservation` of the ``declared`` bytes (:func:`declared_bytes`) taken ahead."""
        bucket = self.bytes
        reserve = declared if bucket is not None and operation not in SETTLING else 0
        wait = self.admit(max_wait, settles=operation in SETTLING, reserve=reserve)
        meter: Meter | None = (
            bucket if not reserve or bucket is None else Reservation(bucket, reserve)
        )
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except BaseException:
                if isinstance(meter, Reservation):
                    meter.release()
                raise
        return meter


class Metered:
    """A response body iterator whose chunks are charged to a byte bucket as they are sent."""

    __slots__ = ("_bucket", "_inner")

    def __init__(self, inner: AsyncIterator[bytes], bucket: Meter) -> None:
        self._inner = inner
        self._bucket = bucket

    def __aiter__(self) -> Metered:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._inner.__anext__()
        self._bucket.charge(len(chunk))
        return chunk


def slow_down(wait: float) -> S3Error:
    """503 SlowDown; ``Retry-After`` in whole seconds (at least 1), as S3 and HTTP want it."""
    return S3Error(S3ErrorCode.SlowDown, headers={"Retry-After": str(max(1, math.ceil(wait)))})


def limited(tenant: str, limit: str, answer: str) -> None:
    """Count a request a limit acted on (only then: the common path counts nothing)."""
    metrics.labelled(metrics.LIMITED, tenant, limit, answer).inc()
