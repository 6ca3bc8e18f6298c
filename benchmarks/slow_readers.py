"""Steady slow readers past ``server.max_stalled_answers`` (wave 17 R, fixed in R3): none may be
ended, on either engine. A reproduction run by hand, not a CI test (~12 s per engine on real
time; tests/unit/test_w17r3_stall_progress.py pins the same rule without waiting).

Three GETs of a 16 MiB object, each read 4 KiB every 0.25 s (16 KiB/s, a poor mobile link)
through a 4 KiB receive buffer, against a local-store proxy with room for two stalled answers
and a long ``body_idle_timeout``. Wave 17 A counted a write that had waited a second as
stalled: each such reader waits ~3 s at every wait, so one was reset every half second. A stall
is now a wait in which the client took nothing (s3proxy.stalled_answers). Prints each reader's
bytes and whether it was reset; exits 1 if any was. Usage:

    python -m benchmarks.slow_readers [--engine uvicorn|hypercorn] [--seconds 10]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, head_bytes
from tests.support.s3http import object_url, sign

BIG = 16 * 1024 * 1024
KEY = "w17r/big"
READ = 4096
EVERY = 0.25
"""16 KiB a second: a slow but steady reader."""


def slow_get(proxy: Proxy) -> socket.socket:
    ak, sk = proxy.keys("alice")
    headers = sign("GET", object_url(proxy.endpoint, "docs", KEY), ak, sk, {})
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", proxy.port))
    sock.sendall(head_bytes("GET", f"/docs/{KEY}", headers))
    return sock


def run(engine: str, seconds: float) -> bool:
    """True when every reader kept its answer for ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="slow-readers-") as workdir:
        server = {"engine": engine, "body_idle_timeout": 120, "max_stalled_answers": 2}
        proxy = start_proxy(None, None, Path(workdir), server=server)
        try:
            proxy.client("alice").put_object(Bucket="docs", Key=KEY, Body=b"a" * BIG)
            readers = [slow_get(proxy) for _ in range(3)]
            received = [0, 0, 0]
            reset = [False, False, False]
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for index, sock in enumerate(readers):
                    if reset[index]:
                        continue
                    try:
                        chunk = sock.recv(READ)
                    except ConnectionResetError:
                        reset[index] = True
                        continue
                    reset[index] = not chunk
                    received[index] += len(chunk)
                time.sleep(EVERY)
            for sock in readers:
                sock.close()
        finally:
            proxy.process.stop()
    print(f"{engine}: received {received}, reset {reset}")
    return not any(reset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, action="append")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results = [run(engine, args.seconds) for engine in args.engine or ENGINES]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
