"""The free-port picker the tests, benchmarks and the Ceph fixture share (conformance/ports.py)."""

from __future__ import annotations

import socket

import pytest

from conformance import ports


def test_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    """A port from the kernel's ephemeral range may be taken by any outgoing connection before
    the server binds it; the picker keeps below that range when it has room."""
    chosen = ports.free_ports(20)
    assert len(set(chosen)) == 20
    if ports.EPHEMERAL_LOW - ports.LISTEN_LOW >= 1000:
        assert all(ports.LISTEN_LOW <= port < ports.EPHEMERAL_LOW for port in chosen)


def test_a_taken_port_is_not_handed_out() -> None:
    held = ports.bind()
    assert held is not None
    try:
        taken = held.getsockname()[1]
        held.listen()
        assert ports.bind(taken) is None
    finally:
        held.close()


def test_without_room_below_the_range_the_kernel_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "EPHEMERAL_LOW", ports.LISTEN_LOW + 10)
    sock = ports.bind()
    assert isinstance(sock, socket.socket)
    sock.close()
