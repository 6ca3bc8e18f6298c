"""Review proof (wave 16 R3) for ec056ff: an admission at the bound is meant to look at no more
than ``connection_owners.MAX_LOOKS`` connections ("~0.1 ms", where a refusal costs ~50 us), but
``Owners.idle_one`` counts only the busy connections whose idleness it asked. Connections used
within ``GRACE`` (1 s: every connection carrying requests, or just opened) and, at the
per-address bound, every other address's connections are skipped without being counted, and the
owners are sorted by size on every admission. At the default bound (10,000) of a busy process,
each new connection refused there walks all of them: measured 0.8 ms per refusal with one
address (a balancer), 4.3 ms with distinct client addresses (every owner still ``@address``),
on the event loop every tenant shares, exactly when the process is full; a flood of connection
attempts then takes the worker's CPU. Fails on ec056ff..HEAD.

Proposed fix: count every connection visited against MAX_LOOKS (skipped ones too), and find
the largest owners without sorting every group per admission (keep the groups' sizes ordered,
or look only at the few largest); at the per-address bound look only among that address's
connections (an index by client address).

Wave 16 R4 fixed it (connection_owners.Ranking, Owners.by_client) and moved this proof to the
new Closable interface (``idle_for``, which the admission now asks of every connection it looks
at): each look is counted here by the connection's ``idle_for``.
"""

from __future__ import annotations

from s3proxy import connection_owners
from s3proxy.connection_owners import Held
from s3proxy.connections import ConnectionCounts

VISITS = [0]


class Busy:
    """A connection in a request, or just used (within GRACE): counts the looks at it."""

    def __init__(self, quiet: float = connection_owners.BUSY) -> None:
        self.quiet = quiet

    def idle_for(self) -> float:
        VISITS[0] += 1
        return self.quiet

    def reclaim(self) -> None:  # pragma: no cover - never taken
        raise AssertionError


def fill(counts: ConnectionCounts, n: int, distinct: bool, quiet: float) -> None:
    for i in range(n):
        client = f"10.{i // 62500}.{i // 250 % 250}.{i % 250}" if distinct else "10.0.0.1"
        held = Held(client, (client, 1024 + i), Busy(quiet))
        assert counts.admit(client)
        counts.owners.add(held)


def test_a_refusal_at_the_bound_looks_at_most_max_looks_connections() -> None:
    n = 10_000
    for distinct in (False, True):
        for quiet in (connection_owners.BUSY, 0.0):  # busy, or used within GRACE
            counts = ConnectionCounts(total=n, per_client=n)
            fill(counts, n, distinct, quiet)  # a full, working process
            VISITS[0] = 0
            assert counts.admit_held("10.200.0.1", ("10.200.0.1", 1), Busy()) is None
            assert VISITS[0] <= connection_owners.MAX_LOOKS, (distinct, quiet, VISITS[0])


def test_at_the_per_address_bound_only_that_address_is_looked_at() -> None:
    """Other addresses' connections are not walked past (they were, uncounted, one by one)."""
    counts = ConnectionCounts(total=20_000, per_client=2)
    fill(counts, 9_998, True, connection_owners.BUSY)
    for port in (1, 2):
        assert counts.admit_held("10.99.0.1", ("10.99.0.1", port), Busy()) is not None
    VISITS[0] = 0
    assert counts.admit_held("10.99.0.1", ("10.99.0.1", 3), Busy()) is None
    assert VISITS[0] == 2
