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
(:func:`used_by`, called by the app once a request is authenticated), or, before any, its
client address. At a bound, the new connection is admitted and an *idle* connection is closed
in its place — between requests, nothing of a request read or queued, exactly what the
keep-alive timeout would close later (HTTP lets a server close an idle connection at any time;
clients open another, and SDKs retry a request that met the close) — taken from the owner that
holds the most connections, its oldest first, unused for at least :data:`GRACE`, among the
connections of the new one's address when the per-address bound is the one reached. A tenant
that floods idle connections thus closes its own; another tenant loses an idle one only once
it holds the most. Apache's event MPM likewise closes keep-alive connections when it runs out
of room. With no idle connection to close (every one is in a request, or its head is still
arriving; at most :data:`MAX_LOOKS` busy ones are looked at) the new connection is refused as
before. A TLS connection is counted before its handshake (:mod:`s3proxy.tls_front`) and is not
idle until that is over.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import h11

__all__ = [
    "Closable",
    "Held",
    "HypercornConnection",
    "Owners",
    "TlsConnection",
    "UvicornConnection",
    "used_by",
]


GRACE = 1.0
"""Seconds a connection is never taken after it opened or carried a request: a client sends
its request right after connecting, and its next one right after an answer, so a connection
taken then would meet its request on the way (it would be retried, but needlessly)."""


MAX_LOOKS = 256
"""Busy connections one admission looks at before it gives up and refuses (~0.1 ms): with
every connection busy (requests, or heads arriving slowly), a flood of new connections would
otherwise cost a scan of all of them each, where a refusal costs ~50 us."""


class Closable(Protocol):
    """What the engine's connection offers: whether it is idle, and its keep-alive close."""

    def idle(self) -> bool: ...

    def reclaim(self) -> None: ...


class Held:
    """One counted connection: its client address, peer (address, port), owner and engine
    side. ``released`` once it stopped counting (closed, or taken for a new connection)."""

    __slots__ = ("client", "conn", "owner", "peer", "released", "since")

    def __init__(self, client: str, peer: tuple[str, int], conn: Closable) -> None:
        self.client = client
        self.peer = peer
        self.conn = conn
        self.owner = "@" + client
        self.released = False
        self.since = time.monotonic()
        """When it was opened or last carried a request: see :data:`GRACE`."""


class Owners:
    """The process's counted S3 connections by owner (module docstring), each owner's in the
    order they became its."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[tuple[str, int], Held]] = {}
        self.by_peer: dict[tuple[str, int], Held] = {}

    def add(self, held: Held) -> None:
        self.by_peer[held.peer] = held
        self.groups.setdefault(held.owner, {})[held.peer] = held

    def remove(self, held: Held) -> None:
        if self.by_peer.get(held.peer) is held:
            del self.by_peer[held.peer]
        group = self.groups.get(held.owner)
        if group is not None and group.get(held.peer) is held:
            del group[held.peer]
            if not group:
                del self.groups[held.owner]

    def used_by(self, peer: tuple[str, int], tenant: str) -> None:
        """The connection of ``peer`` carried a request of ``tenant``: its owner now, and its
        latest use. Every request pays this (~0.2 us): nothing is reordered."""
        held = self.by_peer.get(peer)
        if held is None:
            return
        held.since = time.monotonic()
        if held.owner != tenant:
            group = self.groups[held.owner]
            del group[peer]
            if not group:
                del self.groups[held.owner]
            held.owner = tenant
            self.groups.setdefault(tenant, {})[peer] = held

    def idle_one(self, client: str | None) -> Held | None:
        """An idle connection to close (module docstring): of the owner holding the most, the
        first idle one unused for :data:`GRACE` (the owner's oldest first); only ``client``'s
        connections when it is given. Looked for only at a bound."""
        settled = time.monotonic() - GRACE
        looks = MAX_LOOKS
        for group in sorted(self.groups.values(), key=len, reverse=True):
            for held in group.values():
                if held.since > settled or (client is not None and held.client != client):
                    continue
                if held.conn.idle():
                    return held
                looks -= 1
                if not looks:
                    return None
        return None


class UvicornConnection:
    """The uvicorn engine's connection (s3proxy.uvicorn_protocol.S3Protocol) as
    :class:`Owners` sees it: idle while its keep-alive timer runs between requests (no byte of
    a next request read, none kept unparsed, no answer pending); taken by that timer's close."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def idle(self) -> bool:
        p = self.protocol
        cycle = p.cycle
        return bool(
            p.timeout_keep_alive_task is not None
            and not p.in_message
            and not p.stash
            and not p.pipeline
            and (cycle is None or cycle.response_complete)
            and not p.transport.is_closing()
        )

    def reclaim(self) -> None:
        self.protocol.timeout_keep_alive_handler()


class HypercornConnection:
    """Hypercorn's per-connection server as connection_owners sees it: idle while its
    keep-alive timer runs (s3proxy.hypercorn_closing.IdleTimer, which every S3 connection has)
    and h11 holds no byte of a next request; taken by that timer's own close."""

    __slots__ = ("server",)

    def __init__(self, server: Any) -> None:
        self.server = server

    def idle(self) -> bool:
        server = self.server
        if getattr(server.idle_task, "_timer", None) is None:
            return False
        wrapper = getattr(server, "protocol", None)
        h11_connection = getattr(getattr(wrapper, "protocol", None), "connection", None)
        return (
            isinstance(h11_connection, h11.Connection)
            and h11_connection.their_state is h11.IDLE
            and not h11_connection.trailing_data[0]
        )

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

    def idle(self) -> bool:
        http = self._http()
        return http is not None and http.idle()

    def reclaim(self) -> None:
        http = self._http()
        if http is not None:
            http.reclaim()


ACTIVE: list[Owners] = []
"""The S3 port's owners in this process (set when its counts are installed), for
:func:`used_by`."""


def used_by(client: object, tenant: str) -> None:
    """Note that the connection ``client`` (the ASGI scope's ``(host, port)``) carried a request
    of ``tenant``. Nothing when no S3 connections are counted here (tests, the admin port)."""
    if ACTIVE and type(client) is tuple:  # both engines give (host, port)
        ACTIVE[0].used_by(client, tenant)
