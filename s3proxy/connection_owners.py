"""Who holds the S3 port's connections, so that a full process closes an idle one of the
largest holder instead of refusing everyone's new connections.

Connections are counted before anyone is known (:mod:`s3proxy.connections`): past
``server.max_client_connections`` (or ``server.max_connections_per_client`` from one address)
a new connection was answered ``503 SlowDown`` and closed. Idle keep-alive connections cost
their holder nothing, so one tenant that opened that many and left them idle (1,000 from one
address, or from a load balancer's few addresses, where README says to raise the per-address
bound to the total) had every other tenant's new connection refused for as long as it kept
them: measured, all of another tenant's requests 503 while one tenant held 1,000 idle ones.

So each counted connection is noted with its owner: the tenant whose request it last carried
(:func:`used_by`, called by the app once a request is authenticated; an anonymous request names
no owner, so nobody can make a public bucket's owner hold a flood's connections), or, before
any, its client address. At a bound, the new connection is admitted and an *idle* connection is
closed in its place — between requests, nothing of a request read or queued, exactly what the
keep-alive timeout would close later (HTTP lets a server close an idle connection at any time;
clients open another, and SDKs retry a request that met the close) — taken from the owner that
holds the most connections, its oldest first, idle for at least :data:`GRACE`, among the
connections of the new one's address when the per-address bound is the one reached. A tenant
that floods idle connections thus closes its own; another tenant loses an idle one only once it
holds the most. Apache's event MPM likewise closes keep-alive connections when it runs out of
room. A connection whose request head has been arriving for :data:`GRACE` (a client's head
arrives in milliseconds) is taken as an idle one is, nothing of it dispatched to the app: a
client trickling heads (slowloris) held each connection until the keep-alive timeout, 75 s,
and every one up to the bound. With no connection to close (every one is in a request, or
just used, or its head began within the grace; at most :data:`MAX_LOOKS` are looked at) the
new connection is refused as before. A TLS connection is counted before its handshake
(:mod:`s3proxy.tls_front`) and is not idle until that is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Protocol

import h11

__all__ = [
    "BUSY",
    "GRACE",
    "HEAD_BEGAN",
    "MAX_LOOKS",
    "Closable",
    "Held",
    "HypercornConnection",
    "Owners",
    "Ranking",
    "TlsConnection",
    "UvicornConnection",
    "used_by",
]


GRACE = 1.0
"""Seconds a connection is never taken after it opened or its last answer ended: a client
sends its request right after connecting, and its next one right after an answer, so a
connection taken then would meet its request on the way (it would be retried, but needlessly).
Counted from the engine's keep-alive timer, armed at exactly those moments, so a long answer
(a slow reader's download) starts its grace when its last byte is written, not when the
handler returned."""


MAX_LOOKS = 256
"""Connections one admission looks at, busy or within their grace, before it gives up and
refuses (~0.1 ms): with every connection busy (requests, or heads arriving slowly) or just
used, a flood of new connections would otherwise cost a scan of all of them each, where a
refusal costs ~50 us."""

BUSY = -1.0
""":meth:`Closable.idle_for` of a connection that is not idle."""

HEAD_BEGAN = "_s3proxy_head_began"
"""Hypercorn's server's attribute: the loop's time its current request head began to arrive
(s3proxy.hypercorn_closing.note_head_start)."""


class Closable(Protocol):
    """What the engine's connection offers: how long it has been idle, and its keep-alive
    close."""

    def idle_for(self) -> float:
        """Seconds since it became idle (its keep-alive timer was armed: it opened, or its last
        answer ended), or since its request head began to arrive if later; :data:`BUSY` while
        a request is read past its head, handled or answered."""
        ...

    def reclaim(self) -> None: ...


class Held:
    """One counted connection: its client address, peer (address, port), owner and engine
    side. ``released`` once it stopped counting (closed, or taken for a new connection)."""

    __slots__ = ("client", "conn", "owner", "peer", "released")

    def __init__(self, client: str, peer: tuple[str, int], conn: Closable) -> None:
        self.client = client
        self.peer = peer
        self.conn = conn
        self.owner = "@" + client
        self.released = False


class Ranking:
    """Connections grouped by owner, each group's oldest first, and the owners indexed by their
    group's size, so that an admission finds the largest owners without sorting every group:
    groups of distinct sizes add up to at most the connections, so there are at most ~141
    distinct sizes at 10,000 connections, sorted in a few microseconds."""

    __slots__ = ("groups", "sizes")

    def __init__(self) -> None:
        self.groups: dict[str, dict[tuple[str, int], Held]] = {}
        self.sizes: dict[int, dict[str, None]] = {}

    def add(self, held: Held) -> None:
        group = self.groups.setdefault(held.owner, {})
        self._resize(held.owner, len(group), len(group) + 1)
        group[held.peer] = held

    def remove(self, held: Held) -> bool:
        """Remove ``held`` from its owner's group; False if it is not there."""
        group = self.groups.get(held.owner)
        if group is None or group.get(held.peer) is not held:
            return False
        self._resize(held.owner, len(group), len(group) - 1)
        del group[held.peer]
        if not group:
            del self.groups[held.owner]
        return True

    def _resize(self, owner: str, old: int, new: int) -> None:
        if old:
            same = self.sizes[old]
            del same[owner]
            if not same:
                del self.sizes[old]
        if new:
            self.sizes.setdefault(new, {})[owner] = None

    def largest_first(self) -> Iterator[Held]:
        """The connections of the owner holding the most first, each owner's oldest first."""
        for size in sorted(self.sizes, reverse=True):
            for owner in self.sizes[size]:
                yield from self.groups[owner].values()


class Owners:
    """The process's counted S3 connections by owner (module docstring), each owner's in the
    order they became its: all of them, and those of each client address (for the
    per-address bound, which looks only among the new connection's address's)."""

    def __init__(self) -> None:
        self.all = Ranking()
        self.by_client: dict[str, Ranking] = {}
        self.by_peer: dict[tuple[str, int], Held] = {}

    @property
    def groups(self) -> dict[str, dict[tuple[str, int], Held]]:
        """Every owner's connections, each owner's oldest first."""
        return self.all.groups

    def add(self, held: Held) -> None:
        self.by_peer[held.peer] = held
        self.all.add(held)
        ranking = self.by_client.get(held.client)
        if ranking is None:
            ranking = self.by_client[held.client] = Ranking()
        ranking.add(held)

    def remove(self, held: Held) -> None:
        if self.by_peer.get(held.peer) is held:
            del self.by_peer[held.peer]
        if self.all.remove(held):
            ranking = self.by_client[held.client]
            ranking.remove(held)
            if not ranking.groups:
                del self.by_client[held.client]

    def used_by(self, peer: tuple[str, int], tenant: str | None) -> None:
        """The connection of ``peer`` carried a request of ``tenant``: its owner now. ``None``
        (anonymous, or refused before authentication) keeps the owner: an anonymous read of
        a public bucket must not make the connection its owner's, or anyone could make a
        tenant the largest holder and have its own connections closed. Every request pays a
        look-up (~0.1 us); a connection changes hands only at its owner's first request."""
        if tenant is None:
            return
        held = self.by_peer.get(peer)
        if held is None or held.owner == tenant:
            return
        self.remove(held)
        held.owner = tenant
        self.add(held)

    def idle_one(self, client: str | None) -> Held | None:
        """An idle connection to close (module docstring): of the owner holding the most, the
        first one idle for :data:`GRACE` (the owner's oldest first); only ``client``'s
        connections when it is given. Looked for only at a bound, and at most
        :data:`MAX_LOOKS` connections are looked at, whatever they are."""
        ranking = self.all if client is None else self.by_client.get(client)
        if ranking is None:
            return None
        looks = MAX_LOOKS
        for held in ranking.largest_first():
            if held.conn.idle_for() >= GRACE:
                return held
            looks -= 1
            if not looks:
                return None
        return None


class UvicornConnection:
    """The uvicorn engine's connection (s3proxy.uvicorn_protocol.S3Protocol) as
    :class:`Owners` sees it: idle while its keep-alive timer runs between requests (none kept
    unparsed, no answer pending), since uvicorn armed that timer (at the start, or when an
    answer's last byte was written) or a head began to arrive; taken by that timer's close."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def idle_for(self) -> float:
        p = self.protocol
        timer = p.timeout_keep_alive_task  # armed at the start and at each answer's end
        cycle = p.cycle
        if (
            timer is None
            or (p.in_message and not p.in_head)  # a request dispatched, its body or trailers
            or p.stash
            or p.pipeline
            or not (cycle is None or cycle.response_complete)
            or p.transport.is_closing()
        ):
            return BUSY
        since = timer.when() - p.timeout_keep_alive
        if p.in_message:  # a head arriving, nothing dispatched: takeable once it stalls
            since = max(since, p.head_began)
        return float(p.loop.time() - since)

    def reclaim(self) -> None:
        self.protocol.timeout_keep_alive_handler()


class HypercornConnection:
    """Hypercorn's per-connection server as connection_owners sees it: idle while its
    keep-alive timer runs (s3proxy.hypercorn_closing.IdleTimer, which every S3 connection has)
    and h11 has no request, since that timer was armed (at the start, or when an answer ended)
    or a head began to arrive; taken by that timer's own close."""

    __slots__ = ("server",)

    def __init__(self, server: Any) -> None:
        self.server = server

    def idle_for(self) -> float:
        server = self.server
        timer = getattr(server.idle_task, "_timer", None)  # armed at the start, each answer's end
        if timer is None:
            return BUSY
        wrapper = getattr(server, "protocol", None)
        h11_connection = getattr(getattr(wrapper, "protocol", None), "connection", None)
        if not (
            isinstance(h11_connection, h11.Connection)
            and h11_connection.their_state is h11.IDLE
            and h11_connection.our_state is h11.IDLE
        ):
            return BUSY
        since = timer.when() - server.config.keep_alive_timeout
        if h11_connection.trailing_data[0]:  # a head arriving, no Request for the app yet
            since = max(since, getattr(server, HEAD_BEGAN, since))
        return float(asyncio.get_running_loop().time() - since)

    def reclaim(self) -> None:
        self.server.idle_task.fire()


class TlsConnection:
    """A TLS connection (s3proxy.tls_front.TlsFront, counted before its handshake): never idle
    while its handshake runs; then as its HTTP side, uvicorn's protocol or Hypercorn's server."""

    __slots__ = ("front",)

    def __init__(self, front: Any) -> None:
        self.front = front

    def _http(self) -> Closable | None:
        front = self.front
        if not front.connected:
            return None
        if front.server is not None:
            return HypercornConnection(front.server)
        if hasattr(front.inner, "timeout_keep_alive_task"):
            return UvicornConnection(front.inner)
        return None

    def idle_for(self) -> float:
        http = self._http()
        return BUSY if http is None else http.idle_for()

    def reclaim(self) -> None:
        http = self._http()
        if http is not None:
            http.reclaim()


ACTIVE: list[Owners] = []
"""The S3 port's owners in this process (set when its counts are installed), for
:func:`used_by`."""


def used_by(client: object, tenant: str | None) -> None:
    """Note that the connection ``client`` (the ASGI scope's ``(host, port)``) carried a request
    of ``tenant`` (an authenticated requester; ``None`` for anyone else: the owner is kept).
    Nothing when no S3 connections are counted here (tests, the admin port)."""
    if ACTIVE and type(client) is tuple:  # both engines give (host, port)
        ACTIVE[0].used_by(client, tenant)
