"""The native upstream client's CPU per small response, two checkouts compared in process.

Why: the wave-10 read path (:mod:`s3proxy.backends.upstream_http` as a ``BufferedProtocol``)
adds two Python calls per socket read; a 1 KiB GET is one or two reads, so its cost there is
too small for an end-to-end run on a shared box to see. Here a server process answers every
request at once with a fixed 1 KiB response (keep-alive), and a client process per tree sends
REQUESTS GETs through ``upstream_pool.Pool`` with CONCURRENCY in flight, reading each body;
its CPU (user + system) per request is reported, the two trees' processes alternating per
round::

    python -m benchmarks.native_small_reads --a-tree /tmp/base --b-tree . [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nETag: "x"\r\n\r\n' + b"b" * 1024


async def _serve_forever(sock: socket.socket) -> None:
    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(one, sock=sock)
    await server.serve_forever()


def _server(port_file: str) -> None:
    import uvloop

    sock = socket.create_server(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    uvloop.run(_serve_forever(sock))


def _client(port: int, requests: int, concurrency: int) -> None:
    import uvloop

    from s3proxy.backends.upstream_pool import Pool

    async def main() -> float:
        pool = Pool(limit=concurrency, connect_timeout=5.0, read_timeout=5.0, tls=None)
        headers = {"host": f"127.0.0.1:{port}"}
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                response = await pool.request("GET", "127.0.0.1", port, "/b/k", headers)
                body = await response.read()
                assert len(body) == 1024
                response.release()

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm the pool
        left = requests
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        after = resource.getrusage(resource.RUSAGE_SELF)
        await pool.close()
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return used / requests * 1e6

    print(json.dumps(uvloop.run(main())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    here = Path(__file__).resolve()
    port_file = Path("/tmp") / f"native_small_reads.{time.time_ns()}.port"
    server = subprocess.Popen([sys.executable, str(here), "--serve", str(port_file)])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        port = int(port_file.read_text())
        results: dict[str, list[float]] = {"A": [], "B": []}
        for round_ in range(args.rounds):
            order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
            for name in order:
                tree = args.a_tree if name == "A" else args.b_tree
                out = subprocess.run(
                    [
                        sys.executable,
                        str(here),
                        "--child",
                        str(port),
                        str(args.requests),
                        str(args.concurrency),
                    ],
                    cwd=tree,
                    env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[name].append(float(out.stdout.strip().splitlines()[-1]))
            print(
                f"round {round_ + 1}: A {results['A'][-1]:.1f} µs, B {results['B'][-1]:.1f} µs",
                flush=True,
            )
        lower = sum(1 for a, b in zip(results["A"], results["B"], strict=True) if b < a)
        a, b = statistics.median(results["A"]), statistics.median(results["B"])
        print(
            f"client CPU per 1 KiB GET: A {a:.1f} µs, B {b:.1f} µs "
            f"(B/A {b / a:.3f}, B lower in {lower} of {args.rounds})"
        )
    finally:
        server.terminate()
        port_file.unlink(missing_ok=True)


if __name__ == "__main__":
    if "--serve" in sys.argv:
        _server(sys.argv[sys.argv.index("--serve") + 1])
    elif "--child" in sys.argv:
        at = sys.argv.index("--child")
        _client(int(sys.argv[at + 1]), int(sys.argv[at + 2]), int(sys.argv[at + 3]))
    else:
        main()
