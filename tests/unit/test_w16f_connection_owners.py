"""A full process closes an idle connection of the largest holder instead of refusing a new
one (wave 16 F; s3proxy.connection_owners): before, one tenant's idle keep-alive connections
at ``server.max_client_connections`` had every other tenant's new connection refused 503."""

from __future__ import annotations

import pytest

from s3proxy import connection_owners
from s3proxy.connection_owners import Held, Owners, used_by
from s3proxy.connections import ConnectionCounts


class Conn:
    """A connection as the engines offer it: idle (for ``quiet`` seconds) or not; ``taken``
    once reclaimed."""

    def __init__(self, idle: bool = True, quiet: float = 0.0) -> None:
        self.is_idle = idle
        self.quiet = quiet
        self.taken = False

    def idle_for(self) -> float:
        return self.quiet if self.is_idle and not self.taken else connection_owners.BUSY

    def reclaim(self) -> None:
        self.taken = True


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """No grace: every connection may be taken at once (one test puts it back)."""
    monkeypatch.setattr(connection_owners, "GRACE", 0.0)


def fill(counts: ConnectionCounts, owner: str, n: int, client: str = "10.0.0.1") -> list[Conn]:
    conns = []
    for port in range(len(counts.owners.by_peer) + 1, len(counts.owners.by_peer) + n + 1):
        conn = Conn()
        held = counts.admit_held(client, (client, port), conn)
        assert held is not None
        counts.owners.used_by((client, port), owner)
        conns.append(conn)
    return conns


def test_at_the_bound_the_largest_owners_least_recent_idle_connection_is_taken() -> None:
    counts = ConnectionCounts(total=5, per_client=5)
    alice = fill(counts, "alice", 4)
    bob = fill(counts, "bob", 1)
    newcomer = Conn()
    held = counts.admit_held("10.0.0.1", ("10.0.0.1", 99), newcomer)
    assert held is not None  # refused before (the bound is 5)
    assert [c.taken for c in alice] == [True, False, False, False]  # the oldest of the largest
    assert not bob[0].taken
    assert counts.open == 5
    assert counts.by_client == {"10.0.0.1": 5}


def test_a_busy_connection_is_never_taken_and_then_the_next_owner_gives_one() -> None:
    counts = ConnectionCounts(total=4, per_client=4)
    alice = fill(counts, "alice", 3)
    bob = fill(counts, "bob", 1)
    for conn in alice:
        conn.is_idle = False  # in a request, or its head arriving
    assert counts.admit_held("10.0.0.9", ("10.0.0.9", 1), Conn()) is not None
    assert [c.taken for c in alice] == [False, False, False]
    assert bob[0].taken


def test_nothing_idle_is_refused_as_before() -> None:
    counts = ConnectionCounts(total=2, per_client=2)
    for conn in fill(counts, "alice", 2):
        conn.is_idle = False
    assert counts.admit_held("10.0.0.2", ("10.0.0.2", 1), Conn()) is None
    assert counts.open == 2


def test_at_the_per_address_bound_only_that_addresss_connections_are_taken() -> None:
    counts = ConnectionCounts(total=10, per_client=3)
    other = fill(counts, "alice", 3, client="10.0.0.7")  # the largest owner, elsewhere
    mine = fill(counts, "bob", 3, client="10.0.0.1")
    assert counts.admit_held("10.0.0.1", ("10.0.0.1", 50), Conn()) is not None
    assert not any(c.taken for c in other)
    assert [c.taken for c in mine] == [True, False, False]
    assert counts.by_client == {"10.0.0.7": 3, "10.0.0.1": 3}


def test_a_connection_is_released_once_though_taken_and_then_closed() -> None:
    counts = ConnectionCounts(total=1, per_client=1)
    first = counts.admit_held("a", ("a", 1), Conn())
    assert first is not None
    second = counts.admit_held("a", ("a", 2), Conn())  # takes the first
    assert second is not None
    counts.release_held(first)  # its engine closes it later: counted once only
    assert (counts.open, counts.by_client) == (1, {"a": 1})
    counts.release_held(second)
    assert (counts.open, counts.by_client, counts.owners.groups) == (0, {}, {})


def test_a_connection_used_within_the_grace_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_owners, "GRACE", 60.0)
    counts = ConnectionCounts(total=1, per_client=1)
    fill(counts, "alice", 1)
    assert counts.admit_held("a", ("a", 7), Conn()) is None


def test_a_request_moves_its_connection_to_its_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its owner is the tenant of its last request; one used within the grace is passed over
    for an older one."""
    owners = Owners()
    old, new = Conn(), Conn()
    first, second = Held("h", ("h", 1), old), Held("h", ("h", 2), new)
    owners.add(first)
    owners.add(second)
    assert list(owners.groups) == ["@h"]  # not yet anyone's: its address
    owners.used_by(("h", 1), "alice")
    owners.used_by(("h", 2), "alice")
    assert list(owners.groups) == ["alice"]
    assert owners.idle_one(None) is first
    monkeypatch.setattr(connection_owners, "GRACE", 60.0)
    old.quiet = 120  # idle for two minutes; second just now
    assert owners.idle_one(None) is first
    owners.used_by(("h", 1), "bob")  # used again, by bob: his now
    assert list(owners.groups) == ["alice", "bob"]
    old.quiet = 0  # its answer just ended
    assert owners.idle_one(None) is None
    owners.remove(first)
    owners.remove(second)
    assert owners.groups == {} and owners.by_peer == {}


def test_used_by_notes_the_scope_client_of_the_active_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = ConnectionCounts(total=3, per_client=3)
    monkeypatch.setattr(connection_owners, "ACTIVE", [counts.owners])
    held = counts.admit_held("127.0.0.1", ("127.0.0.1", 4242), Conn())
    assert held is not None
    used_by(("127.0.0.1", 4242), "bob")  # the scope's client, on both engines
    used_by(("127.0.0.1", 1), "bob")  # no such connection: nothing
    used_by(None, "bob")
    assert held.owner == "bob"
    assert list(counts.owners.groups) == ["bob"]


def test_an_admission_looks_at_a_bounded_number_of_busy_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every connection busy, a new one is refused after MAX_LOOKS of them, not after a
    scan of all (a flood of new connections at a full process must cost what a refusal does)."""
    monkeypatch.setattr(connection_owners, "MAX_LOOKS", 5)
    looked: list[int] = []

    class Busy(Conn):
        def idle_for(self) -> float:
            looked.append(1)
            return connection_owners.BUSY

    counts = ConnectionCounts(total=20, per_client=20)
    for port in range(20):
        assert counts.admit_held("b", ("b", port), Busy()) is not None
    assert counts.admit_held("b", ("b", 99), Conn()) is None
    assert len(looked) == 5
