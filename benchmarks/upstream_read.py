"""CPU of reading one large upstream body with aiohttp, by read style, in one process.

The upstream half of a large GET without the proxy's server half: a loopback socket server (a
child process, sending one 1 MiB block over and over) answers every GET with SIZE bytes, and
this process, on uvloop as the proxy runs, reads the body with each style in turn, rounds
interleaved, measuring its own CPU per GB (``time.process_time``):

- ``chunked``: ``content.iter_chunked(256 KiB)`` (joins buffered reads to exactly 256 KiB);
- ``chunks``: ``content.iter_chunks()`` (each read as received; what backends/s3.py uses);
- ``*-256k``: the same with ``read_bufsize=256 KiB`` on the session (aiohttp's default: 64 KiB);
- ``native``: the native client's ``iter_chunks()`` (:mod:`s3proxy.backends.upstream_pool`).

Usage: ``python -m benchmarks.upstream_read [--rounds 8] [--size-mib 256]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import uvloop

from s3proxy.backends.upstream_pool import Pool

SERVER = """
import socket, sys, threading
size = int(sys.argv[1]); block = memoryview(b"x" * (1 << 20))
def serve(conn):
    with conn:
        while True:
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % size)
            for _ in range(size >> 20):
                conn.sendall(block)
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

STYLES = ("chunked", "chunks", "chunked-256k", "chunks-256k", "native")


async def _body(response: aiohttp.ClientResponse, style: str) -> AsyncIterator[bytes]:
    if style.startswith("chunks"):
        async for chunk, _ in response.content.iter_chunks():
            yield chunk
    else:
        async for chunk in response.content.iter_chunked(256 * 1024):
            yield chunk


async def _read(session: aiohttp.ClientSession, url: str, style: str, size: int) -> float:
    started = time.process_time()
    received = 0
    async with session.get(url) as response:
        async for chunk in _body(response, style):
            received += len(chunk)
    if received != size:
        raise RuntimeError(f"{style}: {received} bytes, wanted {size}")
    return (time.process_time() - started) / (size / 1e9)


async def _read_native(pool: Pool, port: int, size: int) -> float:
    started = time.process_time()
    received = 0
    headers = {"host": f"127.0.0.1:{port}"}
    response = await pool.request("GET", "127.0.0.1", port, "/object", headers)
    async for chunk, _ in response.content.iter_chunks():
        received += len(chunk)
    response.release()
    if received != size:
        raise RuntimeError(f"native: {received} bytes, wanted {size}")
    return (time.process_time() - started) / (size / 1e9)


async def _run(port: int, rounds: int, size: int) -> dict[str, list[float]]:
    pool = Pool(limit=4, connect_timeout=10, read_timeout=60, tls=None)
    plain = aiohttp.ClientSession(auto_decompress=False)
    larger = aiohttp.ClientSession(auto_decompress=False, read_bufsize=256 * 1024)
    results: dict[str, list[float]] = {style: [] for style in STYLES}
    try:
        for number in range(rounds):
            for style in STYLES if number % 2 == 0 else tuple(reversed(STYLES)):
                if style == "native":
                    results[style].append(await _read_native(pool, port, size))
                    continue
                session = larger if style.endswith("256k") else plain
                url = f"http://127.0.0.1:{port}/object"
                results[style].append(await _read(session, url, style, size))
    finally:
        await plain.close()
        await larger.close()
        await pool.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(size)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        socket.create_connection(("127.0.0.1", port)).close()
        results = uvloop.run(_run(port, args.rounds, size))
    finally:
        server.terminate()
        server.wait(10)
    base = results["chunked"]
    for style, values in results.items():
        lower = sum(v < b for v, b in zip(values, base, strict=True))
        print(
            f"{style:13} CPU {statistics.median(values):.2f} s/GB "
            f"({min(values):.2f}–{max(values):.2f}), lower than chunked in {lower} of {len(base)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
