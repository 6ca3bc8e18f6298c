"""A stall is a wait in which the client took less than MIN_RATE bytes a second (wave 17 R3,
s3proxy.stalled_answers).

Wave 17 A counted a write that had waited a second as stalled. A client steadily taking 16 KiB/s
waits ~3 s at every wait (the proxy's 48 KiB between the water marks, and the kernel's send
queue draining by a third first), so past the bound such live downloads were ended one every
half second, while README and the config promise only answers whose client "has taken nothing
for a second or more". Now a waiter is measured at each look once its wait passed MIN_STALL
(its unsent bytes: the transport's buffer and the kernel's send queue); if its client took
MIN_RATE a second since, its stall counts from that look. A trickle still counts: it holds
what a stalled answer holds. Driven with the loop's time given, so nothing here waits (the
last test polls a real socket's send queue until it drains)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from s3proxy.stalled_answers import MIN_RATE, MIN_STALL, Stalls, Waiter, unsent
from tests.unit.test_w17a_stalled_answers import SocketTransport

LOOK = MIN_STALL / 2
"""How often the bound looks while more than it are held."""


class Draining:
    """An answer's transport whose client takes ``rate`` bytes a second (0: nothing) from
    ``began``."""

    def __init__(self, rate: float, began: float) -> None:
        self.rate = rate
        self.began = began
        self.buffered = 1 << 20
        self.ended = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def abort(self) -> None:
        self.ended = True

    def at(self, now: float) -> None:
        """What waits to go at ``now``."""
        self.buffered = (1 << 20) - int(self.rate * (now - self.began))


def waiting(stalls: Stalls, port: int, rate: float, now: float) -> tuple[Waiter, Draining]:
    transport = Draining(rate, now)
    waiter = Waiter(("10.0.0.1", port), transport)
    waiter.since = now  # what the engine does when the answer's write starts to wait
    stalls.note(waiter)
    return waiter, transport


def test_clients_that_keep_reading_are_never_ended() -> None:
    """Two answers whose clients take 16 KiB/s (a poor mobile link) and 1.5 MIN_RATE, one
    whose client trickles a quarter of MIN_RATE and one whose client takes nothing, all waiting
    from the start (one wait each, as a slow reader's lasts seconds), room for one: of the two
    stalled (the trickle holds what a silent answer holds), the longer-stalled is ended; the
    readers never, however long their wait lasts. Before, all but one were ended at the first
    look, the readers first."""

    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 1
        rates = [16384, 1.5 * MIN_RATE, MIN_RATE / 4, 0]
        answers = [waiting(stalls, n, rate, 0.1 * n) for n, rate in enumerate(rates)]
        transports = [transport for _, transport in answers]  # the waiters held while alive
        now = MIN_STALL + 0.3
        while now < 10:
            for transport in transports:
                transport.at(now)
            stalls.check(now)
            now += LOOK
        assert [transport.ended for transport in transports] == [False, False, True, False]
        stalls.clear()

    asyncio.run(run())


def test_a_wait_begun_again_since_its_measure_is_measured_afresh() -> None:
    """An answer held from an earlier wait whose write waits again (the engine moved its
    ``since``: its client took the last wait's bytes) is measured anew at its first look,
    not compared with the earlier wait's bytes (the proxy wrote more between the two waits),
    and ended only once silent for MIN_STALL after that."""

    async def run() -> None:
        stalls = Stalls()
        stalls.limit = 1
        held, transport = waiting(stalls, 1, 0, 0.0)
        _other, other_transport = waiting(stalls, 2, 0, 0.0)  # held while alive
        held.since = 0.5  # resumed and waits again, more written: its unsent bytes grew
        transport.buffered += 65536
        stalls.check(0.5 + MIN_STALL)  # other is silent since 0: it alone counts, within room
        assert not transport.ended and not other_transport.ended
        assert held.since == 0.5 + MIN_STALL  # its stall counts from this look
        stalls.check(0.5 + 2 * MIN_STALL)  # now both silent for MIN_STALL: the older one goes
        assert other_transport.ended and not transport.ended
        stalls.clear()

    asyncio.run(run())


def test_unsent_bytes_count_the_kernels_send_queue() -> None:
    """What the proxy handed the kernel and the client has not taken counts as unsent, and it
    drops once the client reads: the measure of a client taking something while the proxy's
    own buffer stays the same."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server, _ = listener.accept()
        with client, server:
            server.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    server.send(b"x" * 65536)
            transport = SocketTransport(server)
            before = unsent(transport)
            assert before > 0
            client.settimeout(5)
            deadline = time.monotonic() + 5
            while unsent(transport) >= before and time.monotonic() < deadline:
                client.recv(65536)
            assert unsent(transport) < before
