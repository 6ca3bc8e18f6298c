"""The native upstream client's bounded waits: a full pool's queue, a closing pool, a connect
that never completes, an answer that comes before a bytes body went out, and the TCP options
that find a silent peer (s3proxy.backends.upstream_pool). Servers are real asyncio servers on
127.0.0.1 (helpers from test_upstream_http)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from prometheus_client import REGISTRY

from s3proxy.backends.s3 import S3Upstream
from s3proxy.backends.upstream_http import UpstreamClosed
from s3proxy.backends.upstream_pool import (
    KEEPALIVE_IDLE,
    KEEPALIVE_INTERVAL,
    KEEPALIVE_PROBES,
)
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.test_upstream_http import (
    Script,
    Server,
    answer,
    get,
    read_request,
    run,
    serving,
)

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


class Holding:
    """An upstream that answers the head of each request at once and its one body byte only
    once ``finish`` is set: each request holds its connection until then. It counts the
    connections open at once on its side."""

    def __init__(self) -> None:
        self.finish = asyncio.Event()
        self.requests = 0
        self.open = 0
        self.most_open = 0
        self.ended = 0

    async def __call__(self, n: int, reader: Reader, writer: Writer) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                await read_request(reader)
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")
                await writer.drain()
                await self.finish.wait()
                writer.write(b"a")
                await writer.drain()
        finally:
            self.open -= 1
            self.ended += 1


@asynccontextmanager
async def upstream_backend(script: Holding, **settings: float) -> AsyncIterator[S3Upstream]:
    """The S3 backend with the native client, one connection per tenant, on ``script``."""
    listener = await asyncio.start_server(Server(script)._serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    config = UpstreamConfig(
        endpoint=f"http://127.0.0.1:{port}",
        access_key="ak",
        secret_key="sk",
        max_connections=1,
        **settings,  # type: ignore[arg-type]
    )
    backend = S3Upstream("limits", config)
    try:
        yield backend
    finally:
        await backend.close()
        listener.close()


def refused(answer: str) -> float:
    labels = {"tenant": "", "limit": "upstream_connections", "answer": answer}
    return REGISTRY.get_sample_value("s3proxy_limited_requests_total", labels) or 0.0


# -- the wait for a connection of a full pool --------------------------------------------------


def test_a_request_waiting_for_a_full_pool_gets_slowdown_and_nothing_goes_upstream() -> None:
    async def go() -> None:
        script = Holding()
        before = refused("SlowDown")
        async with upstream_backend(script, connect_timeout=0.3) as backend:
            first = await backend._send("GET", "ub", "k", {})
            started = time.monotonic()
            with pytest.raises(S3Error) as info:
                await backend._send("GET", "ub", "k2", {})
            assert time.monotonic() - started < 5
            assert info.value.code is S3ErrorCode.SlowDown
            assert info.value.status == 503
            assert info.value.headers["Retry-After"] == "1"
            assert script.requests == 1  # the refused request never went upstream
            assert refused("SlowDown") == before + 1
            script.finish.set()
            assert await first.read() == b"a"
            first.release()
            # The expired waiter left the queue: the freed connection serves the next request.
            async with asyncio.timeout(5):
                again = await backend._send("GET", "ub", "k3", {})
            assert await again.read() == b"a"
            again.release()
            assert script.requests == 2

    run(go())


def test_expired_waiters_leave_the_queue_and_the_count_of_connections_in_use_stays_exact() -> None:
    async def go() -> None:
        script = Holding()
        async with serving(script, limit=1, connect_timeout=0.2) as (server, pool):
            first = await get(pool, server.port)
            waiting = [asyncio.ensure_future(get(pool, server.port)) for _ in range(3)]
            for task in waiting:
                with pytest.raises(S3Error) as info:
                    await task
                assert info.value.code is S3ErrorCode.SlowDown
            assert not pool._waiters
            script.finish.set()
            assert await first.read() == b"a"
            assert pool._in_use == 0
            again = await get(pool, server.port)  # at once: no waiter left to hand it to
            assert await again.read() == b"a"
            again.release()
            assert pool._in_use == 0
            assert server.connections == 1
            assert script.requests == 2

    run(go())


def test_a_waiter_that_gives_up_leaves_the_queue_and_the_slot_goes_to_a_live_one() -> None:
    async def go() -> None:
        script = Holding()
        async with serving(script, limit=1, connect_timeout=60) as (server, pool):
            first = await get(pool, server.port)
            gone = asyncio.ensure_future(get(pool, server.port))
            live = asyncio.ensure_future(get(pool, server.port))
            await asyncio.sleep(0)  # both queue
            gone.cancel()  # its client went away
            with pytest.raises(asyncio.CancelledError):
                await gone
            assert len(pool._waiters) == 1
            script.finish.set()
            assert await first.read() == b"a"
            async with asyncio.timeout(5):
                second = await live
            assert await second.read() == b"a"
            second.release()
            assert not pool._waiters
            assert server.connections == 1

    run(go())


def test_closing_the_pool_fails_its_waiters_at_once() -> None:
    async def go() -> None:
        script = Holding()
        async with serving(script, limit=1, connect_timeout=60) as (server, pool):
            first = await get(pool, server.port)
            waiting = asyncio.ensure_future(get(pool, server.port))
            await asyncio.sleep(0)
            await pool.close()
            async with asyncio.timeout(5):
                with pytest.raises(S3Error) as info:
                    await waiting
            assert info.value.code is S3ErrorCode.ServiceUnavailable
            assert not pool._waiters
            with pytest.raises(S3Error) as late:
                await get(pool, server.port)
            assert late.value.code is S3ErrorCode.ServiceUnavailable
            assert script.requests == 1
            first.close()

    run(go())


# -- connecting ----------------------------------------------------------------------------


def test_a_connect_that_never_completes_is_503_within_connect_timeout() -> None:
    """A listener whose accept queue is full: Linux drops further SYNs, so the connect hangs
    (the kernel alone would retry for about two minutes)."""

    async def go() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", port))  # fills the queue of one
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            connect_timeout=0.3,
        )
        backend = S3Upstream("limits", config)
        try:
            started = time.monotonic()
            with pytest.raises(S3Error) as info:
                await backend._send("GET", "ub", "k", {})
            assert time.monotonic() - started < 5
            assert info.value.code is S3ErrorCode.ServiceUnavailable
        finally:
            await backend.close()
            filler.close()
            listener.close()

    run(go())


# -- an answer before a bytes body went out ----------------------------------------------------

BIG = 32 * 1024 * 1024
"""A bytes body larger than the loopback socket buffers on both sides together."""


def stops_reading(status: str, body: bytes = b"") -> Script:
    """Reads the head of a PUT, answers at once, never reads its body."""

    async def script(n: int, reader: Reader, writer: Writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer(body, status=status))
        await writer.drain()
        await asyncio.Event().wait()

    return script


def test_success_before_a_bytes_body_went_out_is_a_failure() -> None:
    async def go() -> None:
        async with serving(stops_reading("200 OK"), read_timeout=60) as (server, pool):
            headers = {"host": "h"}
            with pytest.raises(UpstreamClosed):
                async with asyncio.timeout(10):
                    await pool.request("PUT", "127.0.0.1", server.port, "/k", headers, b"x" * BIG)

    run(go())


def test_error_before_a_bytes_body_went_out_is_the_answer_and_not_pooled() -> None:
    error = b"<Error><Code>AccessDenied</Code></Error>"

    async def go() -> None:
        script = stops_reading("403 Forbidden", error)
        async with serving(script, read_timeout=60) as (server, pool):
            headers = {"host": "h"}
            async with asyncio.timeout(10):
                response = await pool.request(
                    "PUT", "127.0.0.1", server.port, "/k", headers, b"x" * BIG
                )
                assert response.status == 403
                assert await response.read() == error
            response.release()
            assert not pool._idle.get(("127.0.0.1", server.port))  # its body's rest is unsent

    run(go())


def test_a_small_bytes_body_answered_after_it_arrived_is_kept() -> None:
    async def go() -> None:
        async def script(n: int, reader: Reader, writer: Writer) -> None:
            while True:
                _, body = await read_request(reader)
                writer.write(answer(str(len(body)).encode()))
                await writer.drain()

        async with serving(script) as (server, pool):
            for _ in range(2):
                response = await pool.request(
                    "PUT", "127.0.0.1", server.port, "/k", {"host": "h"}, b"y" * 100_000
                )
                assert response.status == 200
                assert await response.read() == b"100000"
                response.release()
            assert server.connections == 1

    run(go())


# -- a peer gone silent --------------------------------------------------------------------


def test_new_connections_have_tcp_keepalive_and_a_user_timeout() -> None:
    async def go() -> None:
        async def script(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(answer(b"k"))
            await reader.read()

        async with serving(script, read_timeout=7.5) as (server, pool):
            response = await get(pool, server.port)
            transport = response._conn.transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
            expected = {
                "TCP_KEEPIDLE": KEEPALIVE_IDLE,
                "TCP_KEEPINTVL": KEEPALIVE_INTERVAL,
                "TCP_KEEPCNT": KEEPALIVE_PROBES,
                "TCP_USER_TIMEOUT": 7500,
            }
            for name, value in expected.items():
                if hasattr(socket, name):
                    assert sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)) == value
            assert await response.read() == b"k"
            response.release()

    run(go())
