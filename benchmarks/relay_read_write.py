"""The large GET's byte path alone, in process: read a socket, hand each read to a consumer
task, write it to another socket — with the read and write levers of wave 10 (issue 18) as
variants, so their CPU per GB can be compared without the proxy, HTTP or the upstream.

A source process sends SIZE MiB of raw bytes on a loopback connection; a sink process reads
and drops what it is sent; this process relays on uvloop, the way the proxy's GET does
(:mod:`s3proxy.backends.upstream_http` reads the upstream socket into a queue, a consumer task
takes each chunk and writes it to the client's transport). Its CPU (user + system, so the
kernel's receive and send count) per GB is reported per variant; the variants run interleaved,
one relay of each per round, in a rotating order::

    python -m benchmarks.relay_read_write [--size-mib 256] [--rounds 6] [--variants a,b]

Variants: ``plain`` (an ``asyncio.Protocol``: uvloop reads up to 256,000 bytes into its own
buffer and copies each read into a new bytes object — the native client before wave 10);
``buffered-fresh-N`` (a ``BufferedProtocol`` reading into the unused tail of an N KiB
bytearray, a new one when the tail is short, each read handed on as a memoryview of it: no copy
out, one zero-fill per byte); ``buffered-copy-N`` (reads into one reused N KiB buffer, copied
out per read); ``buffered-pool-N`` (as ``buffered-fresh-N``, but a full buffer goes to a pool
and is read into again once no chunk refers to it: neither a copy nor a zero-fill — what
:mod:`s3proxy.backends.upstream_http` does since wave 10); ``rcvbuf`` / ``sndbuf`` (``plain``
with SO_RCVBUF / SO_SNDBUF of 4 MiB on the read / written socket); ``writev`` (``plain``, but
the consumer writes every chunk waiting in the queue in one ``writelines``: one ``writev``
instead of one ``write`` each).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import resource
import socket
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar

import uvloop

MiB = 1024 * 1024
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


def _source(port_out: multiprocessing.connection.Connection, size: int) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port_out.send(server.getsockname()[1])
    block = memoryview(b"x" * MiB)
    while True:
        conn, _ = server.accept()
        left = size
        while left:
            n = conn.send(block[: min(left, MiB)])
            left -= n
        conn.close()


def _sink(port_out: multiprocessing.connection.Connection) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port_out.send(server.getsockname()[1])
    buf = bytearray(MiB)
    while True:
        conn, _ = server.accept()
        while conn.recv_into(buf):
            pass
        conn.close()


class _Queue:
    """The upstream response's chunk queue: fed by the reading protocol, drained by a task."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.chunks: collections.deque[bytes | memoryview] = collections.deque()
        self.buffered = 0
        self.done = False
        self.waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.reads = 0
        self.writes = 0

    def feed(self, data: bytes | memoryview) -> None:
        self.reads += 1
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def taken(self, size: int) -> None:
        self.buffered -= size
        if self.paused and self.buffered < LOW_WATER and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    async def wait(self) -> None:
        self.waiter = self.loop.create_future()
        await self.waiter


class _Plain(asyncio.Protocol):
    def __init__(self, queue: _Queue) -> None:
        self.queue = queue

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.queue.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.queue.feed(data)

    def eof_received(self) -> bool:
        self.queue.done = True
        self.queue.wake()
        return False


class _BufferedFresh(asyncio.BufferedProtocol):
    def __init__(self, queue: _Queue, size: int) -> None:
        self.queue = queue
        self.size = size
        self.buf = memoryview(bytearray(size))
        self.at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.queue.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.size - self.at < 64 * 1024:
            self.buf = memoryview(bytearray(self.size))
            self.at = 0
        return self.buf[self.at :]

    def buffer_updated(self, nbytes: int) -> None:
        at = self.at
        self.at = at + nbytes
        self.queue.feed(self.buf[at : at + nbytes])

    def eof_received(self) -> bool:
        self.queue.done = True
        self.queue.wake()
        return False


class _BufferedCopy(_BufferedFresh):
    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buf

    def buffer_updated(self, nbytes: int) -> None:
        self.queue.feed(bytes(self.buf[:nbytes]))


class _BufferedPool(_BufferedFresh):
    """Reads into the tail of a buffer while the tail is at least 64 KiB, then into a free
    buffer of the pool: one no longer referenced by any chunk handed on (refcount), else new."""

    pool: ClassVar[list[bytearray]] = []

    def __init__(self, queue: _Queue, size: int) -> None:
        super().__init__(queue, size)
        self.current = self.buf.obj

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.size - self.at < 64 * 1024:
            pool = self.pool
            fresh = None
            for index in range(len(pool)):
                if sys.getrefcount(pool[index]) == 2:  # the list's, the argument's
                    fresh = pool.pop(index)
                    break
            if fresh is None:
                fresh = bytearray(self.size)
            if len(pool) < 8:
                pool.append(self.current)  # type: ignore[arg-type]
            self.current = fresh
            self.buf = memoryview(fresh)
            self.at = 0
        return self.buf[self.at :]


class _Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.drained: asyncio.Future[None] | None = None

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None


async def _relay(
    source: int, sink: int, make: Callable[[_Queue], asyncio.BaseProtocol], variant: str
) -> tuple[int, int]:
    """Relay one transfer; (reads, writes) it took."""
    loop = asyncio.get_running_loop()
    queue = _Queue(loop)
    out_sock = socket.create_connection(("127.0.0.1", sink))
    if variant == "sndbuf":
        out_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MiB)
    out, sink_protocol = await loop.create_connection(_Sink, sock=out_sock)
    in_sock = socket.socket()
    if variant == "rcvbuf":
        in_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
    in_sock.connect(("127.0.0.1", source))
    await loop.create_connection(lambda: make(queue), sock=in_sock)
    gather = variant == "writev"
    while True:
        while not queue.chunks:
            if queue.done:
                out.close()
                return queue.reads, queue.writes
            await queue.wait()
        if gather and len(queue.chunks) > 1:
            chunks = list(queue.chunks)
            queue.chunks.clear()
            queue.taken(sum(len(c) for c in chunks))
            out.writelines(chunks)
            queue.writes += 1
        else:
            chunk = queue.chunks.popleft()
            queue.taken(len(chunk))
            out.write(chunk)
            queue.writes += 1
        if sink_protocol.drained is not None:
            await sink_protocol.drained


def _factory(variant: str) -> Callable[[_Queue], asyncio.BaseProtocol]:
    if variant.startswith("buffered-fresh-"):
        size = int(variant.rsplit("-", 1)[1]) * 1024
        return lambda queue: _BufferedFresh(queue, size)
    if variant.startswith("buffered-pool-"):
        size = int(variant.rsplit("-", 1)[1]) * 1024
        return lambda queue: _BufferedPool(queue, size)
    if variant.startswith("buffered-copy-"):
        size = int(variant.rsplit("-", 1)[1]) * 1024
        return lambda queue: _BufferedCopy(queue, size)
    return _Plain


def _one(variant: str, source: int, sink: int, size: int, out: Any) -> None:
    uvloop.install()
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    reads, writes = asyncio.run(_relay(source, sink, _factory(variant), variant))
    after = resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    out.put((user + system, system, time.perf_counter() - wall, reads, writes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", default="plain,buffered-fresh-1024,writev,rcvbuf")
    args = parser.parse_args()
    size = args.size_mib * MiB
    variants = args.variants.split(",")
    ctx = multiprocessing.get_context("spawn")
    procs = []
    ports = []
    for target, extra in ((_source, (size,)), (_sink, ())):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=target, args=(there, *extra), daemon=True)
        proc.start()
        procs.append(proc)
        ports.append(here.recv())
    results: dict[str, list[float]] = {v: [] for v in variants}
    walls: dict[str, list[float]] = {v: [] for v in variants}
    systems: dict[str, list[float]] = {v: [] for v in variants}
    calls: dict[str, tuple[int, int]] = {}
    out = ctx.Queue()
    for round_ in range(args.rounds):
        order = variants[round_ % len(variants) :] + variants[: round_ % len(variants)]
        for variant in order:
            proc = ctx.Process(target=_one, args=(variant, ports[0], ports[1], size, out))
            proc.start()
            cpu, system, wall, reads, writes = out.get()
            calls[variant] = (reads, writes)
            systems[variant].append(system / (size / 1e9))
            proc.join()
            results[variant].append(cpu / (size / 1e9))
            walls[variant].append(size / wall / 1e6)
        print(
            f"round {round_ + 1}: " + ", ".join(f"{v} {results[v][-1]:.3f}" for v in variants),
            flush=True,
        )
    base = variants[0]
    print(f"\nCPU s/GB (median; rounds lower than {base}), of it system, MB/s median")
    for variant in variants:
        lower = sum(1 for a, b in zip(results[base], results[variant], strict=True) if b < a)
        print(
            f"  {variant:22s} {statistics.median(results[variant]):.3f}"
            f"  ({lower} of {args.rounds})  system {statistics.median(systems[variant]):.3f}"
            f"  {statistics.median(walls[variant]):.0f} MB/s"
            f"  reads/writes {calls[variant][0]}/{calls[variant][1]} (last round)"
        )
    for proc in procs:
        proc.terminate()


if __name__ == "__main__":
    main()
