"""Per-tenant slots for expensive operations: what one request costs, not only how many run.

A tenant's request slots (s3proxy.limits) bound how many of its requests a worker serves at
once, whatever each costs. Most requests cost the worker a few milliseconds; a few cost tens to
hundreds, in CPU and upstream requests, and a tenant running several of them at once takes the
worker's event loop from every other tenant (BENCHMARKS.md "Fairness by cost": tenant B's 1 KiB
GET p99 went from ~50 ms to 1-2 s while tenant A ran four folding listings). So those parts of a
request also hold one of the tenant's ``max_concurrent_expensive`` slots (per worker) while they
run; over the limit they wait in turn, the request's own slot held. Unlike a request slot's
waiter, which gets 503 SlowDown after ``server.limits.max_wait``, one here waits on as long as
the tenant's expensive operations keep finishing (s3proxy.limits.Gate, ``patient``): refused
only when none finished for ``max_wait``, or after 10 of them in all. A queue of listings
moves (rclone's ``--checkers 64`` lists 64 directories at once), and refusing its tail after
one second made clients back off and slow their whole run; waiting costs the tenant only its
own request slots and nobody else anything.

Expensive, read from the code (each holds the slot for its costly part only):

- a listing: ListObjects V1/V2 and ListObjectVersions merge one upstream listing per shard
  (16 or more requests, and under ``flat`` a fold of common prefixes that may read thousands
  of keys per page), and parse and re-serialise up to 1,000 keys (~25 ms of CPU a plain page);
- ListMultipartUploads: the same merge over shards;
- ListParts: a page of up to 1,000 parts read, parsed and re-serialised (~13 ms of CPU, the cost
  of a listing page; on a local store one index job of the same size);
- DeleteObjects: up to 1,000 keys parsed, deleted and answered (~25 ms), and with a quota one
  HEAD per key first;
- GetObjectAttributes with ObjectParts of a COMPOSITE-checksum object: one HEAD per part of the
  page (up to 1,000); without ObjectParts it is one HEAD and is not held;
- CompleteMultipartUpload: parsing a body of more than one parse slice (more than ~100 parts;
  10,000 parts cost ~150 ms of CPU); on an S3 upstream also the listing and check of the stored
  parts, when the Complete names more than 100 parts or the upload has more than one page of
  them (s3proxy.backends.mapped_completion). The upstream's assembly afterwards is a wait, not
  work of this worker, and is not held: a long Complete must not block the tenant's listings.
- a read of a bucket name the caller does not have, while two or more other tenants' homes
  have their bucket names listed (s3proxy.granted_reads, s3proxy.bucket_index: one upstream
  listing per tenant, once per cache lifetime).
- an XML request body declared over 1 MiB (s3proxy.body.held_body: DeleteObjects takes up to
  6 MiB, CompleteMultipartUpload 4 MiB), from before its first byte is read until it is parsed
  (DeleteObjects: until answered), so a tenant's request slots bound its buffered bodies at
  ~1.5 MiB each and only these slots hold larger ones.

Cheap single-object requests (GET, PUT, HEAD, parts) are never held: their cost is their bytes,
bounded by rate limits and slots. The default limit, 4 per worker, and why: README "Fair
sharing", BENCHMARKS.md "Per-tenant limit on expensive operations". The gate is the request's
tenant's (the signer's, also for a granted read of another tenant's bucket), set per request by
the app (:data:`CURRENT`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator

from s3proxy.limits import Gate

CURRENT: contextvars.ContextVar[tuple[Gate, float] | None] = contextvars.ContextVar(
    "s3proxy_expensive", default=None
)
"""The running request's tenant's expensive-operation gate and ``max_wait`` (an anonymous
request's: its bucket owner's anonymous one, :func:`s3proxy.anonymous.gates_for`); None: no
limit (outside requests, or while the request already holds a slot)."""


@contextlib.asynccontextmanager
async def held() -> AsyncIterator[None]:
    """Hold one of the tenant's expensive-operation slots for the body of the ``with``.

    Raises 503 SlowDown when none is handed over within ``max_wait`` (the gate is patient:
    s3proxy.limits.Gate.enter). A request takes at most one slot:
    a nested ``held()`` inside another passes straight through (no deadlock on a limit of 1)."""
    current = CURRENT.get()
    if current is None:
        yield
        return
    gate, max_wait = current
    await gate.enter(max_wait)
    token = CURRENT.set(None)
    try:
        yield
    finally:
        CURRENT.reset(token)
        gate.leave()


@contextlib.asynccontextmanager
async def held_if(expensive: bool) -> AsyncIterator[None]:
    """:func:`held` when ``expensive``, else nothing."""
    if not expensive:
        yield
        return
    async with held():
        yield
