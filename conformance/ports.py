"""Free loopback ports for the servers that tests, benchmarks and the Ceph fixture start.

Why this module exists: a port the kernel picks for bind(0) comes from the same range as every
outgoing connection's local port, so in the moment between choosing it and the server binding
it, one of the suite's thousands of client connections could take it ("Address already in use":
seen in two fresh-clone CI runs). Ports are therefore drawn from below the kernel's ephemeral
range, where no outgoing connection is ever given one. One picker serves the tests' proxies and
SeaweedFS (tests/support/processes.py) and the Ceph cluster's monitor and gateway
(conformance/ceph_rgw.py).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections' local ports (0: unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


EPHEMERAL_LOW = _ephemeral_low()
LISTEN_LOW = 10000
"""Servers' ports are drawn from [LISTEN_LOW, EPHEMERAL_LOW) where there is room for it."""
_RANDOM = random.SystemRandom()  # not the global generator, which a test may seed


def bind(port: int = 0, below: int | None = None) -> socket.socket | None:
    """Bind a TCP socket on loopback to ``port``; None if it is taken. ``port`` 0: a free one
    below the ephemeral range (and below ``below``) where there is room, else any the kernel
    picks."""
    if port == 0:
        top = EPHEMERAL_LOW if below is None else min(EPHEMERAL_LOW, below)
        if top - LISTEN_LOW >= 1000:
            for _ in range(100):
                sock = bind(_RANDOM.randrange(LISTEN_LOW, top))
                if sock is not None:
                    return sock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        return None
    return sock


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports.

    All sockets stay bound until every port is chosen, so the same port cannot be handed out
    twice (choosing one port ``n`` times can).
    """
    held: list[socket.socket] = []
    try:
        while len(held) < n:
            sock = bind()
            if sock is None:  # pragma: no cover - port 0 always binds unless out of ports
                raise OSError("no free loopback port")
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()
