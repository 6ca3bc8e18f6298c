"""Stalled downloads and the worker's memory (wave 16, F2).

A large upstream body is read into 1 MiB body buffers handed on without a copy
(s3proxy.backends.upstream_body_reads); a response whose consumer stops reading (a client that
reads a download at 1 KiB/s) keeps its read-ahead, and every chunk of it pins a whole buffer.
Each such answer held ~1-2 MiB of the upstream side alone (~4.3 MiB with the client's unsent
bytes, BENCHMARKS.md "Wave 16 F"), with no bound over tenants: stalled downloads could take the
pod's memory. Now a loop allocates at most MAX_LIVE body buffers; past it a body goes on in
plain reads with a 64 KiB read-ahead. Memory is measured in this process (tracemalloc: the
body buffers and the reads' bytes); the upstream runs in a child process, so its own send
buffers are not counted."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest
import uvloop

from s3proxy.backends import upstream_body_reads
from s3proxy.backends.upstream_pool import Pool
from s3proxy.backends.upstream_response import Response

BODY = 8 * 1024 * 1024
STALLED = 24
BOUND = 8
"""The loop's bound on body buffers in these tests (the product's is 64): 24 stalled answers
in ~1.1 MiB each take ~27 MiB unbounded, 8 MiB plus ~0.25 MiB for each past it now."""
MIB = 1024 * 1024

_UPSTREAM = r"""
import socket, sys, threading
body = (b"0123456789abcdef" * 65536) * 8
head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)
def serve(conn):
    with conn:
        try:
            while True:
                seen = b""
                while b"\r\n\r\n" not in seen:
                    data = conn.recv(65536)
                    if not data:
                        return
                    seen += data
                conn.sendall(head + body)
        except OSError:
            pass
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""
EXPECTED = hashlib.sha256((b"0123456789abcdef" * 65536) * 8).hexdigest()


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", _UPSTREAM], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.kill()
        process.wait()


async def _stalled(pool: Pool, port: int) -> Response:
    """A GET whose consumer reads nothing until the connection stops reading the socket."""
    response = await pool.request("GET", "127.0.0.1", port, "/b/k", {"host": "upstream"})
    for _ in range(2000):
        if response._conn._read_paused:
            return response
        await asyncio.sleep(0.005)
    raise AssertionError("the connection never paused its reads")


async def _held_by_stalled_answers(port: int) -> tuple[int, list[str]]:
    """Bytes the stalled answers hold here, and each body's digest once read after all."""
    pool = Pool(limit=STALLED + 2, connect_timeout=5.0, read_timeout=10.0, tls=None)
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        responses = [await _stalled(pool, port) for _ in range(STALLED)]
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        digests = []
        for response in responses:  # the bodies are whole and in order after the switch
            digest = hashlib.sha256()
            async for chunk, _ in response.content.iter_chunks():
                digest.update(chunk)
            digests.append(digest.hexdigest())
            response.release()
        return held, digests
    finally:
        await pool.close()


def test_stalled_answers_hold_a_bounded_share_of_memory(
    upstream: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 24 stalled answers held ~27 MiB of body buffers (~1.1 MiB each, whatever their
    number). Now the first take buffers up to the loop's bound and the rest hold their plain
    reads (~0.25 MiB each): 11.5 MiB measured, under 8 MiB + 24 × 0.5 MiB."""
    monkeypatch.setattr(upstream_body_reads, "MAX_LIVE", BOUND, raising=False)
    held, digests = uvloop.run(asyncio.wait_for(_held_by_stalled_answers(upstream), 60))
    assert digests == [EXPECTED] * STALLED
    assert held < (BOUND + STALLED // 2) * MIB, f"{held / MIB:.1f} MiB held"


def test_below_the_bound_bodies_are_read_into_body_buffers(upstream: int) -> None:
    """The bound does not touch the fast path: with buffers to spare each stalled answer reads
    ahead in body buffers (~1.1 MiB held each here), as before (plain reads hold ~0.25)."""
    held, digests = uvloop.run(asyncio.wait_for(_held_by_stalled_answers(upstream), 60))
    assert digests == [EXPECTED] * STALLED
    assert held > STALLED * MIB * 3 // 4, f"{held / MIB:.1f} MiB held"


def test_a_loop_allocates_body_buffers_up_to_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound no buffer is made: a free one is reused once nothing refers to it. (Two
    owners: one alone takes at most half, wave 17 A.)"""
    monkeypatch.setattr(upstream_body_reads, "MAX_LIVE", 2)
    buffers = upstream_body_reads.ReadBuffers()
    first, second = buffers.take("a"), buffers.take("b")
    assert first is not None and second is not None and buffers.live == 2
    assert not buffers.can_take("c") and buffers.take("c") is None
    view = memoryview(first)  # a chunk still waiting somewhere pins its buffer
    buffers.give(first)
    del first
    assert not buffers.can_take("c") and buffers.take("c") is None
    view.release()
    assert buffers.can_take("c")
    reused = buffers.take("c")
    assert reused is not None and buffers.live == 2
    del second, reused
    assert buffers.live == 0 and not buffers.held
