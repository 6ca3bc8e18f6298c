"""Stalled answers bounded per worker (wave 17 A, s3proxy.stalled_answers): past the bound the
longest-stalled answer of whoever holds the most stalled answers is ended; a write that waited
less than MIN_STALL is not a stall; the anonymous readers of a public bucket are never counted
as its owner. Driven with the loop's time given, so nothing here waits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Iterator

import pytest

from s3proxy import connection_owners
from s3proxy.connection_owners import Held, Owners
from s3proxy.stalled_answers import MIN_STALL, Stalls, Waiter, reset


class Transport:
    """An answer's connection: whether it was ended."""

    def __init__(self) -> None:
        self.ended = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def get_write_buffer_size(self) -> int:
        return 65536  # its client takes nothing: what waits to go never drops

    def abort(self) -> None:
        self.ended = True


def answer(host: str, port: int) -> Waiter:
    return Waiter((host, port), Transport())


def ended(waiter: Waiter) -> bool:
    transport = waiter.transport
    assert isinstance(transport, Transport)
    return transport.ended


class Idle:
    def idle_for(self) -> float:
        return connection_owners.BUSY

    def reclaim(self) -> None:
        pass


@pytest.fixture
def owners() -> Iterator[Owners]:
    saved = list(connection_owners.ACTIVE)
    owners = Owners()
    connection_owners.ACTIVE[:] = [owners]
    yield owners
    connection_owners.ACTIVE[:] = saved


def connected(owners: Owners, waiter: Waiter, tenant: str | None) -> None:
    peer = waiter.peer
    assert isinstance(peer, tuple)
    owners.add(Held(peer[0], peer, Idle()))
    owners.used_by(peer, tenant)


def pause(stalls: Stalls, waiter: Waiter, now: float) -> None:
    """What an engine does when an answer's write starts to wait for its client."""
    waiter.since = now
    if not waiter.noted:
        stalls.note(waiter)


async def _shed_in_turn(owners: Owners) -> None:
    stalls = Stalls()
    stalls.limit = 2
    alice = [answer("10.0.0.1", port) for port in (1, 2, 3)]
    bob = answer("10.0.0.2", 1)
    for waiter in alice:
        connected(owners, waiter, "alice")
    connected(owners, bob, "bob")
    for n, waiter in enumerate(alice):
        pause(stalls, waiter, now=0.1 * n)
    pause(stalls, bob, now=0.5)
    stalls.check(0.5)
    assert not any(ended(w) for w in [*alice, bob])  # none waited MIN_STALL yet
    stalls.check(0.2 + MIN_STALL)  # alice's three count: one too many, her oldest goes
    assert [ended(w) for w in alice] == [True, False, False] and not ended(bob)
    stalls.check(0.5 + MIN_STALL)  # bob's counts too: alice still holds the most
    assert [ended(w) for w in alice] == [True, True, False] and not ended(bob)
    assert set(stalls.noted) == {alice[2], bob}
    stalls.clear()


def test_the_largest_holders_longest_stalled_answer_is_ended(owners: Owners) -> None:
    asyncio.run(_shed_in_turn(owners))


def test_a_write_that_resumes_is_no_stall(owners: Owners) -> None:
    """A client that reads (the write stops waiting) is let go at the next look and counts no
    more; with no bound (0) nothing is held."""

    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 1
        first, second, third = (answer("10.0.0.1", port) for port in (1, 2, 3))
        pause(stalls, first, 0.0)
        first.since = None  # its client read
        pause(stalls, second, 10.0)
        pause(stalls, third, 10.5)
        stalls.check(10.2)
        assert first not in stalls.noted and not first.noted  # let go
        stalls.check(11.0 + MIN_STALL)
        assert ended(second) and not ended(third) and not ended(first)  # the longer-stalled
        stalls.clear()
        off = Stalls()
        pause(off, first, 0.0)
        assert not off.noted

    asyncio.run(run())


def test_anonymous_readers_are_not_counted_as_the_bucket_owner(owners: Owners) -> None:
    """Anonymous readers of alice's public bucket (their connections name no tenant: their
    address owns them) stall many answers; alice stalls two. Past the bound the readers'
    answers are ended, never alice's: they are not hers."""

    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 4
        alice = [answer("10.0.0.1", port) for port in (1, 2)]
        readers = [answer("10.0.0.9", port) for port in (1, 2, 3, 4)]
        for waiter in alice:
            connected(owners, waiter, "alice")
        for waiter in readers:
            connected(owners, waiter, None)  # anonymous: the owner stays the address
        for n, waiter in enumerate(alice + readers):
            pause(stalls, waiter, 0.1 * n)
        stalls.check(1.0 + MIN_STALL)
        assert not any(ended(w) for w in alice)
        assert [ended(w) for w in readers] == [True, True, False, False]
        stalls.clear()

    asyncio.run(run())


def test_waits_over_the_bound_are_looked_at_once_they_count() -> None:
    """More writes wait than the bound, none for MIN_STALL yet: nothing is ended, and they are
    looked at when the newest would count (one timer); none is looked at below the bound."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stalls = Stalls()
        stalls.limit = 1
        waiters = [answer("10.0.0.1", port) for port in (1, 2)]
        pause(stalls, waiters[0], loop.time())
        assert stalls._timer is None
        pause(stalls, waiters[1], loop.time())
        assert not any(ended(w) for w in waiters)
        timer = stalls._timer
        assert timer is not None and timer.when() == pytest.approx(loop.time() + MIN_STALL, abs=0.1)
        stalls.clear()

    asyncio.run(run())


class SocketTransport:
    """A connected socket as an answer's transport."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.sock if name == "socket" else default

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.sock.close()


def test_an_ended_answer_is_reset_and_its_unsent_bytes_dropped() -> None:
    """A stalled answer ended by a plain close kept its unsent bytes in the kernel (an orphan
    socket, sending them behind a FIN at the client's pace, up to 4 MiB each); a reset drops
    them: the client's next read fails at once instead of receiving the rest."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        with client:
            server.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    server.send(b"x" * 65536)
            reset(SocketTransport(server))
            client.settimeout(5)
            with pytest.raises(ConnectionResetError):
                while client.recv(1 << 20):
                    pass


def test_a_closed_connections_answer_is_not_held() -> None:
    """Below the bound no look comes: a closed connection's waiter must not stay held (with
    its transport and protocol) until one does."""

    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 4
        waiter = answer("10.0.0.1", 1)
        pause(stalls, waiter, 0.0)
        assert len(stalls.noted) == 1
        del waiter
        gc.collect()
        assert len(stalls.noted) == 0

    asyncio.run(run())
