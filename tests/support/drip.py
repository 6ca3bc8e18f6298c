"""Stalled uploads kept alive for as long as a test needs them, then let stall.

A stalled upload (a PUT that announced its body and sent one byte) holds its tenant's request
slot and upstream connection until ``server.body_idle_timeout`` ends it. A test that does work
while stalls hold (a refusal, a neighbour served) raced that timeout: a loaded box spent the
few seconds before the work was done, the stalls ended early, and an assertion that they still
held failed (wave 18, E3). Here a thread sends each stall a little of its body every
:data:`EVERY` seconds, enough to pass the idle timeout and the minimum body rate, until the test
stops it; from then on the stalls stall, and end as the proxy ends them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

EVERY = 0.25
"""Seconds between two drips: the proxy's idle timeout must be many times this."""
CHUNK = b"d" * 1000
"""Bytes per drip: 4 kB/s, eight times ``server.body_min_rate``'s default (500 B/s)."""


@contextlib.contextmanager
def dripping(stalls: list[socket.socket]) -> Iterator[None]:
    """Drip into every socket of ``stalls`` (the list may grow meanwhile) until the block ends;
    a socket the proxy has closed (a refused stall) is skipped."""
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(EVERY):
            for sock in list(stalls):
                with contextlib.suppress(OSError):
                    sock.sendall(CHUNK)

    thread = threading.Thread(target=drip, name="drip", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
