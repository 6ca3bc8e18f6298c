"""A fair share of the loop's body buffers (wave 17 A).

Wave 16 F2 bounded the 1 MiB body buffers of large upstream reads at MAX_LIVE per loop
(s3proxy.backends.upstream_body_reads), but whoever came first could take them all: a buffer
pinned by a stalled answer cannot be taken back, so one tenant's stalled downloads held all 64
and every tenant's large GETs then went the plain way (+6 % CPU) for as long as they lasted.
Now an owner (the connection pool's CURRENT_TENANT: a tenant, or ``(anonymous):owner`` for
everyone's reads of that owner's public buckets) takes buffers only up to its share: MAX_LIVE
divided among the owners reading a large body and one more. Buffers are counted, not timed;
the upstream runs in a child process (the F2 test's)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
import uvloop

from s3proxy.backends import upstream_body_reads
from s3proxy.backends.upstream_body_reads import ReadBuffers, read_buffers
from s3proxy.backends.upstream_pool import Pool
from s3proxy.backends.upstream_response import Response
from s3proxy.limits import CURRENT_TENANT
from tests.unit.test_w16f2_stalled_reads import _stalled, upstream  # noqa: F401  (fixture)

BOUND = 8
"""The loop's bound in these tests (the product's is 64)."""


async def _stalled_for(tenant: str, pool: Pool, port: int) -> Response:
    """A stalled GET on a connection opened while serving ``tenant`` (as the S3 backend's pool
    for that tenant opens it)."""
    context = contextvars.copy_context()
    context.run(CURRENT_TENANT.set, tenant)
    return await asyncio.create_task(_stalled(pool, port), context=context)


async def _newcomer_after_stalled_owner(port: int) -> tuple[int, bool]:
    """Tenant a stalls more downloads than the bound has buffers; then the anonymous readers of
    a's public buckets (another owner) start one. Answers the buffers a's answers hold and
    whether the newcomer's body is read into body buffers."""
    pool_a = Pool(limit=BOUND + 2, connect_timeout=5.0, read_timeout=10.0, tls=None)
    pool_b = Pool(limit=2, connect_timeout=5.0, read_timeout=10.0, tls=None)
    responses = []
    try:
        for _ in range(BOUND):
            responses.append(await _stalled_for("a", pool_a, port))
        held_by_a = read_buffers(asyncio.get_running_loop()).live
        newcomer = await _stalled_for("(anonymous):a", pool_b, port)
        responses.append(newcomer)
        return held_by_a, newcomer._conn._body_reads is not None
    finally:
        for response in responses:
            response.close()
        await pool_a.close()
        await pool_b.close()


def test_one_owners_stalled_downloads_leave_buffers_to_the_next(
    upstream: int,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: tenant a's 8 stalled downloads held all 8 buffers and the next owner's large
    body (here: anonymous readers of a's public bucket) went the plain way. Now a alone holds
    at most half, and the next owner reads into body buffers."""
    monkeypatch.setattr(upstream_body_reads, "MAX_LIVE", BOUND)
    held_by_a, newcomer_buffered = uvloop.run(
        asyncio.wait_for(_newcomer_after_stalled_owner(upstream), 60)
    )
    assert held_by_a <= BOUND // 2, f"tenant a holds {held_by_a} of {BOUND} buffers"
    assert newcomer_buffered, "the other owner's large body went the plain way"


def test_shares_follow_the_owners_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_LIVE divided among the owners reading a large body, the taker and one more: an
    owner at its share is refused while another still takes; what it holds past a share that
    shrank is not taken back, only not added to; a free buffer it took last stays its own."""
    monkeypatch.setattr(upstream_body_reads, "MAX_LIVE", 12)
    buffers = ReadBuffers()
    buffers.begin("a")
    assert buffers.share("a") == 6  # alone: half
    taken = [buffers.take("a") for _ in range(7)]
    assert None not in taken[:6] and taken[6] is None and buffers.held == {"a": 6}
    buffers.begin("(anonymous):a")  # everyone's reads of a's public buckets: another owner
    buffers.begin("b")
    assert buffers.share("b") == 3 and buffers.share("a") == 3
    more = [buffers.take("b") for _ in range(4)]
    assert None not in more[:3] and more[3] is None
    anonymous = buffers.take("(anonymous):a")
    assert anonymous is not None
    assert buffers.take("a") is None  # holds 6, its share is 3 now
    first = taken.pop(0)
    assert first is not None
    buffers.give(first)
    del first
    assert buffers.can_take("a")  # its own free buffer: holds no more than before
    again = buffers.take("a")
    assert again is not None and buffers.held == {"a": 6, "b": 3, "(anonymous):a": 1}
    for owner in ("a", "(anonymous):a", "b"):
        buffers.end(owner)
    assert not buffers.reading and buffers.share("c") == 6
    del taken, more, anonymous, again
    assert buffers.live == 0 and not buffers.held
