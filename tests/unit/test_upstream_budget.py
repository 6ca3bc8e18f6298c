"""An upstream's connections per process, all tenants together (``max_connections_total``,
s3proxy.backends.upstream_budget): the cap holds under concurrency, an idle connection of
another tenant makes room, a spent budget is 503 SlowDown with nothing sent, every closed
connection gives its place back, and configuration keeps each tenant's share below the cap.
Servers are real asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from s3proxy.backends.s3 import S3Upstream
from s3proxy.backends.upstream_budget import ConnectionBudget, budget_size
from s3proxy.backends.upstream_pool import Pool
from s3proxy.backends.upstream_response import Response
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import CURRENT_TENANT
from tests.unit.test_upstream_http import Server, read_request, run
from tests.unit.test_upstream_http_limits import Holding

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


@asynccontextmanager
async def pools(
    script: Holding, count: int, *, total: int, limit: int = 2, connect_timeout: float = 5.0
) -> AsyncIterator[tuple[Server, ConnectionBudget, list[Pool]]]:
    """``count`` tenants' pools of ``limit`` sharing one budget of ``total``."""
    server = Server(script)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    budget = ConnectionBudget(total)
    made = [
        Pool(
            limit=limit,
            connect_timeout=connect_timeout,
            read_timeout=5.0,
            tls=None,
            budget=budget,
        )
        for _ in range(count)
    ]
    try:
        yield server, budget, made
    finally:
        for pool in made:
            await pool.close()
        listener.close()


async def get(pool: Pool, port: int) -> Response:
    return await pool.request("GET", "127.0.0.1", port, "/b/k", {"host": "h"})


async def done(response: Response) -> None:
    assert await response.read() == b"a"
    response.release()


async def settle(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (event-driven, bounded) until ``check()`` holds."""
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.01)


def refused(tenant: str) -> float:
    labels = {"tenant": tenant, "limit": "upstream_connections_total", "answer": "SlowDown"}
    return REGISTRY.get_sample_value("s3proxy_limited_requests_total", labels) or 0.0


def test_the_cap_holds_across_tenants_under_concurrency_and_waiters_are_served() -> None:
    async def go() -> None:
        script = Holding()
        async with pools(script, 3, total=3) as (server, budget, (a, b, c)):
            tasks = [asyncio.ensure_future(get(pool, server.port)) for pool in (a, a, b, b, c, c)]
            await settle(lambda: script.requests == 3 and len(budget.waiters) == 3)
            assert budget.open == 3
            assert script.most_open == 3  # three tenants, six requests: three connections
            script.finish.set()
            for task in tasks:
                async with asyncio.timeout(5):
                    await done(await task)
            assert script.requests == 6
            assert budget.open <= 3
            assert not budget.waiters

    run(go())


def test_an_idle_connection_of_another_tenant_is_closed_to_make_room() -> None:
    async def go() -> None:
        script = Holding()
        script.finish.set()
        async with pools(script, 3, total=2, connect_timeout=60) as (server, budget, (a, b, c)):
            await done(await get(a, server.port))  # a's connection is now idle
            await asyncio.sleep(0.01)  # a later idle_since for b's
            await done(await get(b, server.port))
            assert budget.open == 2
            async with asyncio.timeout(5):  # at once, not after connect_timeout
                await done(await get(c, server.port))
            assert budget.open == 2
            assert not a.oldest_idle()  # the oldest idle connection (a's) made room
            assert b.oldest_idle()
            await settle(lambda: script.ended == 1)
            assert server.connections == 3

    run(go())


def test_a_spent_budget_with_nothing_idle_is_slowdown_and_nothing_goes_upstream() -> None:
    async def go() -> None:
        script = Holding()
        async with pools(script, 2, total=2, connect_timeout=0.3) as (server, budget, (a, b)):
            held = [await get(a, server.port), await get(a, server.port)]
            before = refused("carol")
            token = CURRENT_TENANT.set("carol")
            started = time.monotonic()
            try:
                with pytest.raises(S3Error) as info:
                    await get(b, server.port)
            finally:
                CURRENT_TENANT.reset(token)
            assert time.monotonic() - started < 5
            assert info.value.code is S3ErrorCode.SlowDown
            assert info.value.headers["Retry-After"] == "1"
            assert script.requests == 2  # nothing went upstream
            assert refused("carol") == before + 1
            assert not budget.waiters  # the expired waiter left the queue
            assert b._in_use == 0  # and its tenant slot was given back
            script.finish.set()
            for response in held:
                await done(response)
            async with asyncio.timeout(5):
                await done(await get(b, server.port))  # a's idle connection makes room
            assert budget.open == 2

    run(go())


def test_a_waiter_that_gives_up_leaves_the_queue_and_the_place_goes_to_a_live_one() -> None:
    async def go() -> None:
        script = Holding()
        async with pools(script, 3, total=1, connect_timeout=60) as (server, budget, (a, b, c)):
            first = await get(a, server.port)
            gone = asyncio.ensure_future(get(b, server.port))
            live = asyncio.ensure_future(get(c, server.port))
            await settle(lambda: len(budget.waiters) == 2)
            gone.cancel()  # its client went away
            with pytest.raises(asyncio.CancelledError):
                await gone
            assert len(budget.waiters) == 1
            script.finish.set()
            await done(first)  # returned while c waits: closed, its place handed to c
            async with asyncio.timeout(5):
                await done(await live)
            assert budget.open == 1
            assert not budget.waiters
            assert not a.oldest_idle()

    run(go())


def test_every_closed_connection_gives_its_place_back() -> None:
    async def go() -> None:
        async def closes(n: int, reader: Reader, writer: Writer) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
            await writer.drain()  # then the script ends: the upstream closes it while idle

        server = Server(closes)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        closed_port = socket.socket()  # bound, not listening: connects are refused
        closed_port.bind(("127.0.0.1", 0))
        refused_port = closed_port.getsockname()[1]
        budget = ConnectionBudget(2)
        pool = Pool(limit=2, connect_timeout=5, read_timeout=5, tls=None, budget=budget)
        try:
            response = await get(pool, port)
            assert await response.read() == b"a"
            response.release()
            await settle(lambda: budget.open == 0)  # closed by the upstream while idle
            for _ in range(3):  # refused connects give their places back
                with pytest.raises(OSError):
                    await get(pool, refused_port)
            assert budget.open == 0
            with pytest.raises(TimeoutError):  # a connect cut short by its timeout too
                async with asyncio.timeout(0):
                    await get(pool, port)
            assert budget.open == 0
            assert pool._in_use == 0
        finally:
            await pool.close()
            listener.close()
            closed_port.close()

    run(go())


# -- configuration -------------------------------------------------------------------------


def test_each_tenants_share_must_be_below_the_cap() -> None:
    base = {"endpoint": "http://127.0.0.1:9000", "max_connections": 8}
    for total in (8, 4):
        with pytest.raises(ValidationError, match="must be above max_connections"):
            UpstreamConfig(**base, max_connections_total=total)  # type: ignore[arg-type]
    assert UpstreamConfig(**base, max_connections_total=9).max_connections_total == 9  # type: ignore[arg-type]


def test_unset_the_cap_is_half_the_open_file_limit_and_at_least_twice_a_tenants_share() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert budget_size(None, 1) == max(soft // 2, 2)
    assert budget_size(None, soft) == 2 * soft
    assert budget_size(300, 128) == 300


# -- the S3 backend ------------------------------------------------------------------------


def test_tenants_of_one_upstream_share_the_cap_and_a_spent_one_is_slowdown() -> None:
    """Two tenants each hold one connection of a cap of two: a third tenant's request is told
    SlowDown without reaching the upstream, though its own pool is empty."""

    async def go() -> None:
        script = Holding()
        server = Server(script)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            max_connections=1,
            max_connections_total=2,
            connect_timeout=0.3,
        )
        backend = S3Upstream("budget", config)

        async def as_tenant(tenant: str, key: str) -> Response:
            CURRENT_TENANT.set(tenant)  # this task's own context
            response = await backend._send("GET", "ub", key, {})
            assert isinstance(response, Response)
            return response

        try:
            held = [await asyncio.ensure_future(as_tenant(t, t)) for t in ("t1", "t2")]
            before = refused("t3")
            with pytest.raises(S3Error) as info:
                await asyncio.ensure_future(as_tenant("t3", "k"))
            assert info.value.code is S3ErrorCode.SlowDown
            assert refused("t3") == before + 1
            assert script.requests == 2
            script.finish.set()
            for response in held:
                await done(response)
            async with asyncio.timeout(5):
                await done(await asyncio.ensure_future(as_tenant("t3", "k")))
            await settle(lambda: script.ended == 1)  # t1's idle connection made room
            assert server.connections == 3
        finally:
            await backend.close()
            listener.close()

    run(go())


def test_the_aiohttp_clients_wait_for_a_full_pool_is_bounded_by_connect_timeout() -> None:
    async def go() -> None:
        script = Holding()
        server = Server(script)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            max_connections=1,
            connect_timeout=0.3,
            client="aiohttp",
        )
        backend = S3Upstream("budget-aiohttp", config)
        try:
            first = await backend._send("GET", "ub", "k", {})
            with pytest.raises(S3Error) as info:
                async with asyncio.timeout(5):
                    await backend._send("GET", "ub", "k2", {})
            assert info.value.code is S3ErrorCode.ServiceUnavailable
            assert script.requests == 1
            script.finish.set()
            assert await first.read() == b"a"
            first.release()
        finally:
            await backend.close()
            listener.close()

    run(go())
