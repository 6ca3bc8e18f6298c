"""Answers whose clients stopped reading, bounded per worker: past ``server.max_stalled_answers``
the longest-stalled answer of whoever holds the most is ended with a reset.

An answer whose client takes nothing keeps what is on its way: the worker's read-ahead and
unsent bytes (~1.1-1.8 MiB of RSS each, measured), the kernel's send queue to the client (up
to 4 MiB: the send buffer grows with the connection's speed before the stall) and its receive
queue from the upstream (1-3 MiB measured; both charged to the pod's memory), its request slot
and its upstream connection. ``body_idle_timeout`` ends one whose every wait lasts 20 s, but a
client that takes a little now and then keeps it, each tenant has 64 slots per worker, and the
anonymous readers of each owner's public buckets another 64: four tenants' 256 stalled
downloads held a worker's RSS at 370 MiB and its sockets at ~750 MiB, past the chart's 1 GiB
for two workers, so the pod would be killed for every tenant (BENCHMARKS.md "Wave 17 A").

Each engine notes when an answer's write starts to wait for its client (:class:`Waiter`:
uvicorn's ``pause_writing``, Hypercorn's ``drain``) and when it stops; :class:`Stalls` looks at
them only while more than the bound waited lately (:meth:`Stalls.check`).

A stall is a wait of :data:`MIN_STALL` seconds or more during which the client took less than
:data:`MIN_RATE` bytes a second: nothing, or a trickle. One wait's length is no measure of that:
a wait lasts until the proxy's 48 KiB between the transport's water marks have gone, and the
kernel takes more only once its send queue drained by a third, so a client steadily taking
16 KiB/s waited ~3 s at every wait and counted as stalled almost always (past the bound such
live downloads were ended one every half second). So a waiter looked at once its wait passed
:data:`MIN_STALL` is measured (:func:`unsent`: the transport's buffer and the kernel's send
queue, the bytes its client has not acknowledged, which drop only as it takes them while the
write waits): if its client took :data:`MIN_RATE` a second since the wait began (or since it
last did), its stall counts from this look. A trickle is not spared: a client taking 4 KiB/s
holds as much as one taking nothing (what the benchmark of "Wave 17 A" measured), and one
tenant's 64 such downloads per worker pass the chart's memory limit. One ``ioctl`` per
such waiter per look, and one when a waiter is first held.

While more answers than the bound are stalled, the longest-stalled one of the holder with the
most stalled answers is ended: its connection is reset (:func:`reset`), as S3 drops a client too
slow to take its data and as ``body_idle_timeout`` ends one (an answer begun cannot be ended
cleanly; the request's next send fails, freeing its slot and upstream connection; logged 499).
The holder is the connection's owner (:mod:`s3proxy.connection_owners`) when a tenant signed a
request on it; every other connection (anonymous readers, whatever their address) is one holder,
:data:`ANONYMOUS`. Owned by its address, 40 stalled anonymous answers from 40 addresses (an IPv6
/64 gives a client 2^64) made a tenant with two stalled downloads the largest holder, ended
first; and an anonymous reader of a public bucket is never counted as its owner. One tenant's
stalled downloads, or the anonymous ones, thus end their own first; another tenant loses one
only once it holds the most. Counted in ``s3proxy_limited_requests_total`` with
``limit="max_stalled_answers"``, ``answer="ended"`` (``tenant="(anonymous)"``: the same label).
A burst of new answers is not a stall for its first second: what they hold then is bounded by
the request slots, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
import weakref
from typing import Any, Protocol

from s3proxy.connection_owners import ACTIVE
from s3proxy.limits import limited

__all__ = ["ANONYMOUS", "MIN_RATE", "MIN_STALL", "STALLS", "Stalls", "Waiter", "reset", "unsent"]

MIN_STALL = 1.0
"""Seconds an answer's write must have waited, its client taking less than :data:`MIN_RATE`,
before it counts as stalled."""
MIN_RATE = 8192
"""Bytes a second a waiting answer's client must take for the wait not to count as a stall:
half the 16 KiB/s of a poor mobile link, twice the 4 KiB/s trickle of the benchmark (which
holds an 8 MiB answer's memory for half an hour)."""
ANONYMOUS = "(anonymous)"
"""The one holder of every connection no tenant signed a request on (no tenant name has
parentheses), and its ``tenant`` label."""
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)
"""Linux's SIOCOUTQ: a TCP socket's send queue, the bytes its peer has not acknowledged."""
_RESET = struct.pack("ii", 1, 0)
"""SO_LINGER on, 0 s: close() sends RST and drops the send queue."""


class Transport(Protocol):
    """What an answer's connection offers here (an asyncio transport, or uvicorn's writer)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def get_write_buffer_size(self) -> int: ...

    def abort(self) -> None: ...


def unsent(transport: Transport) -> int:
    """Bytes written for the answer that its client has not taken: the transport's buffer and
    the kernel's send queue (without SIOCOUTQ, or once the socket is gone, the buffer only).
    They drop only as the client acknowledges, so while the proxy writes nothing (its write
    waits) a drop means the client took something."""
    held = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None and _OUTQ is not None:
        with contextlib.suppress(OSError, ValueError):
            held += struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    return held


def reset(transport: Transport) -> None:
    """End a connection whose answer cannot go (its client stopped reading) with a reset.
    A plain abort closes the socket with a FIN queued behind the unsent bytes: the kernel then
    keeps the socket, orphaned, with its send queue (up to 4 MiB, charged to the pod's memory)
    for as long as the client keeps its window shut or reads slowly; 20 such sockets held
    80 MiB until their clients closed, none with a reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()


class Waiter:
    """A connection's answer as the bound sees it, made at the connection's first wait for its
    client: since when its write waits (None while it does not; the engine sets it at each
    wait, a plain attribute, so a download that waits at every write pays no more; a look
    that finds its client took :data:`MIN_RATE` a second moves it to that look), its peer and
    transport, whether :class:`Stalls` holds it, and its :func:`unsent` bytes at ``since``
    (``measured``: the ``since`` they were measured at)."""

    __slots__ = ("__weakref__", "measured", "noted", "peer", "since", "transport", "untaken")

    def __init__(self, peer: object, transport: Transport) -> None:
        self.peer = peer
        self.transport = transport
        self.since: float | None = None
        self.noted = False
        self.untaken = 0
        self.measured: float | None = None


class Stalls:
    """This process's answers that waited for their clients lately (module docstring)."""

    def __init__(self) -> None:
        self.limit = 0
        """``server.max_stalled_answers``; 0: not bounded (tests, the admin port)."""
        self.noted: weakref.WeakSet[Waiter] = weakref.WeakSet()
        """Waiters that waited since the last :meth:`check` (or still wait); a closed
        connection's goes with it, whether or not a check comes."""
        self._timer: asyncio.TimerHandle | None = None

    def note(self, waiter: Waiter) -> None:
        """``waiter`` waits (its ``since`` is set) and is not held yet: hold it. Once more are
        held than the bound, :meth:`check` looks when the newest would count as stalled."""
        if not self.limit:
            return
        waiter.noted = True
        waiter.measured = waiter.since
        waiter.untaken = unsent(waiter.transport)
        self.noted.add(waiter)
        if len(self.noted) > self.limit and self._timer is None:
            self._arm(MIN_STALL)

    def configure(self, limit: int) -> None:
        """``server.max_stalled_answers``, at start and at each reload: a lowered bound ends
        the answers past it at the next look, a bound of 0 lets every held answer go (those
        waiting are held again at their next wait once a bound is set)."""
        self.limit = limit
        if not limit:
            self.clear()
        elif len(self.noted) > limit and self._timer is None:
            self._arm(MIN_STALL / 2)

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self.check)

    def check(self, now: float | None = None) -> None:
        """Let go of the waiters that no longer wait; measure those that waited
        :data:`MIN_STALL` (if their client took :data:`MIN_RATE` a second since their wait
        began, or a wait began again since they were measured, their stall counts from now);
        end stalled answers while more than the bound are; look again every half
        :data:`MIN_STALL` while more than the bound are held (one scan: ~0.2 us each)."""
        self._timer = None
        if now is None:
            now = asyncio.get_running_loop().time()
        noted = self.noted
        stalled = []
        for waiter in list(noted):
            since = waiter.since
            if since is None:
                noted.discard(waiter)
                waiter.noted = False
            elif now - since >= MIN_STALL:
                left = unsent(waiter.transport)
                if waiter.measured != since or waiter.untaken - left >= MIN_RATE * (now - since):
                    waiter.since = waiter.measured = now
                    waiter.untaken = left
                else:
                    stalled.append(waiter)
        for waiter in _victims(stalled, len(stalled) - self.limit):
            noted.discard(waiter)
            waiter.noted = False
            waiter.since = None
            limited(_holder(waiter.peer), "max_stalled_answers", "ended")
            reset(waiter.transport)
        if len(noted) > self.limit:
            self._arm(MIN_STALL / 2)

    def clear(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for waiter in self.noted:
            waiter.noted = False
        self.noted.clear()


def _holder(peer: object) -> str:
    """The tenant that owns the connection (:mod:`s3proxy.connection_owners`: it signed a
    request on it), else :data:`ANONYMOUS`, whatever the connection's address."""
    held = ACTIVE[0].by_peer.get(peer) if ACTIVE and type(peer) is tuple else None
    if held is None or held.owner.startswith("@"):  # owned by its address: nobody signed
        return ANONYMOUS
    return held.owner


def _victims(stalled: list[Waiter], count: int) -> list[Waiter]:
    """``count`` stalled answers to end, one at a time the longest-stalled answer of the holder
    holding the most (of several holding as many, the one whose answer stalled first)."""
    if count <= 0:
        return []
    by_owner: dict[str, list[Waiter]] = {}
    for waiter in sorted(stalled, key=lambda w: w.since or 0.0):
        by_owner.setdefault(_holder(waiter.peer), []).append(waiter)
    chosen = []
    for _ in range(count):
        largest = max(by_owner.values(), key=lambda ws: (len(ws), -(ws[0].since or 0.0)))
        chosen.append(largest.pop(0))
        if not largest:
            by_owner = {owner: ws for owner, ws in by_owner.items() if ws}
    return chosen


STALLS = Stalls()
"""The S3 port's waiting answers in this process; its ``limit`` is set when the S3 port is
served (s3proxy.server)."""


def peer_of(transport: Any) -> object:
    """A transport's (host, port), as connection_owners names a connection."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return (str(peer[0]), int(peer[1]))
    return ("", 0)
