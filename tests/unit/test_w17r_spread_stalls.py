"""Review reproduction (wave 17 R): anonymous stalled answers spread over many client addresses
make a tenant the "largest holder" (s3proxy.stalled_answers, wave 17 A).

An anonymous connection is owned by its client address, so stalled answers opened from many
addresses (an IPv6 /64 gives a client 2^64 of them; any botnet, or simply many readers of a
public bucket) each hold one. A tenant whose own downloads stall twice (two slow clients) then
holds the most, and its answers are the ones ended first, ahead of the flood that passed the
bound. README: "a tenant's stalled downloads end its own first" holds only for a flood from
one address."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from s3proxy import connection_owners
from s3proxy.connection_owners import Owners
from s3proxy.stalled_answers import MIN_STALL, Stalls
from tests.unit.test_w17a_stalled_answers import answer, connected, ended, pause


@pytest.fixture
def owners() -> Iterator[Owners]:
    saved = list(connection_owners.ACTIVE)
    owners = Owners()
    connection_owners.ACTIVE[:] = [owners]
    yield owners
    connection_owners.ACTIVE[:] = saved


def test_a_flood_from_many_addresses_ends_no_tenants_answer(owners: Owners) -> None:
    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 32
        alice = [answer("192.0.2.1", port) for port in (1, 2)]
        for waiter in alice:
            connected(owners, waiter, "alice")
        flood = [answer(f"2001:db8::{n:x}", 1) for n in range(40)]
        for waiter in flood:
            connected(owners, waiter, None)  # anonymous: each its own address
        for waiter in alice:
            pause(stalls, waiter, 5.0)  # alice's two slow clients, stalled after the flood
        for n, waiter in enumerate(flood):
            pause(stalls, waiter, 0.01 * n)
        stalls.check(10.0 + MIN_STALL)
        assert not any(ended(w) for w in alice), "alice's answers ended for the flood"
        assert sum(ended(w) for w in flood) == 10
        stalls.clear()

    asyncio.run(run())
