"""Request slots and rate buckets per tenant (s3proxy.limits), stalled bodies
(s3proxy.body.TimedReceive) and client connections (s3proxy.connections)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.body import TimedReceive
from s3proxy.connections import ConnectionCounts, refusal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import CURRENT_TENANT, Admission, Gate, TenantRates, TokenBucket


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- slots ---------------------------------------------------------------------------------


def test_a_full_gate_answers_slowdown_with_retry_after() -> None:
    async def scenario() -> S3Error:
        gate = Gate(2)
        await gate.enter(0.01)
        await gate.enter(0.01)
        with pytest.raises(S3Error) as caught:
            await gate.enter(0.01)
        assert gate.active == 2
        return caught.value

    error = run(scenario())
    assert error.code is S3ErrorCode.SlowDown and error.status == 503
    assert error.headers == {"Retry-After": "1"}


def test_a_waiter_gets_the_slot_that_is_given_back() -> None:
    async def scenario() -> list[str]:
        gate = Gate(1)
        order: list[str] = []
        await gate.enter(1)

        async def second() -> None:
            await gate.enter(5)
            order.append("second in")
            gate.leave()

        task = asyncio.create_task(second())
        await asyncio.sleep(0)  # let it queue
        assert gate.active == 1 and not task.done()
        order.append("first out")
        gate.leave()
        await task
        assert gate.active == 0
        return order

    assert run(scenario()) == ["first out", "second in"]


def test_one_tenant_full_leaves_the_others_free() -> None:
    async def scenario() -> None:
        admission = Admission({"a": 1, "b": 1}, max_wait=0.01)
        await admission.gate("a").enter(admission.max_wait)
        with pytest.raises(S3Error):
            await admission.gate("a").enter(admission.max_wait)
        await admission.gate("b").enter(admission.max_wait)  # not waiting on a's slot
        assert admission.gate("b").active == 1

    run(scenario())


def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def scenario() -> None:
        gate = Gate(1)
        await gate.enter(1)
        task = asyncio.create_task(gate.enter(5))
        await asyncio.sleep(0)
        task.cancel()
        gate.leave()  # the cancelled waiter must not receive it
        with pytest.raises(asyncio.CancelledError):
            await task
        assert gate.active == 0
        await gate.enter(0)
        assert gate.active == 1

    run(scenario())


def test_reload_raises_and_lowers_limits() -> None:
    async def scenario() -> None:
        admission = Admission({"a": 1}, max_wait=5)
        gate = admission.gate("a")
        await gate.enter(5)
        waiter = asyncio.create_task(gate.enter(5))
        await asyncio.sleep(0)
        admission.configure({"a": 2}, max_wait=5)  # a raised limit lets the waiter in
        await waiter
        assert gate.active == 2
        admission.configure({"a": 1}, max_wait=0.01)  # lowered: holders finish, none enter
        gate.leave()
        assert gate.active == 1
        with pytest.raises(S3Error):
            await gate.enter(admission.max_wait)

    run(scenario())


def test_the_current_tenant_is_per_task() -> None:
    async def scenario() -> list[str]:
        async def request(tenant: str) -> str:
            CURRENT_TENANT.set(tenant)
            await asyncio.sleep(0)
            inner = await asyncio.create_task(asyncio.sleep(0, CURRENT_TENANT.get()))
            return inner

        return list(await asyncio.gather(request("a"), request("b")))

    assert run(scenario()) == ["a", "b"]
    assert CURRENT_TENANT.get() == ""


# -- rate buckets ------------------------------------------------------------------------


def test_a_request_bucket_gives_its_burst_then_says_when_the_next_token_comes() -> None:
    bucket = TokenBucket(rate=2, burst=2)
    start = bucket._stamp
    assert bucket.take(start) == 0 and bucket.take(start) == 0
    assert bucket.take(start) == pytest.approx(0.5)  # one token every 1/2 s
    assert bucket.take(start + 0.25) == pytest.approx(0.25)  # refused takes take nothing
    assert bucket.take(start + 0.5) == 0
    assert bucket.take(start + 100) == 0 and bucket.tokens == pytest.approx(1)  # capped at burst


def test_a_byte_bucket_goes_into_debt_and_says_when_it_is_repaid() -> None:
    bucket = TokenBucket(rate=1000, burst=1000)
    start = bucket._stamp
    assert bucket.debt(start) == 0
    bucket.charge(5000, start)  # bytes already moved are charged whole
    assert bucket.debt(start) == pytest.approx(4.0)
    assert bucket.debt(start + 3) == pytest.approx(1.0)
    assert bucket.debt(start + 4) == 0


def test_rates_refuse_with_slowdown_and_retry_after_from_the_bucket() -> None:
    rates = TenantRates("a", TokenBucket(0.1, 1), None)
    rates.admit()
    with pytest.raises(S3Error) as caught:
        rates.admit()
    assert caught.value.code is S3ErrorCode.SlowDown and caught.value.status == 503
    assert caught.value.headers == {"Retry-After": "10"}  # one token in 10 s
    in_debt = TenantRates("b", None, TokenBucket(1000, 1000))
    assert in_debt.bytes is not None
    in_debt.bytes.charge(3500)
    with pytest.raises(S3Error) as caught:
        in_debt.admit()
    assert caught.value.headers == {"Retry-After": "3"}  # 2500 bytes of debt at 1000/s


def test_reload_keeps_a_bucket_whose_rate_stays_and_drops_a_removed_limit() -> None:
    admission = Admission({"a": 1, "b": 1}, 0, {"a": (1, 100), "b": (0, 0)})
    assert set(admission.rates) == {"a"}  # a tenant without rate limits pays one dict miss
    kept = admission.rates["a"]
    assert kept.requests is not None and kept.bytes is not None
    kept.bytes.charge(10_000)
    admission.configure({"a": 1, "b": 1}, 0, {"a": (1, 200), "b": (5, 0)})
    assert admission.rates["a"].requests is kept.requests  # same rate: same tokens
    assert admission.rates["a"].bytes is not kept.bytes  # a new rate starts full
    assert admission.rates["b"].bytes is None and admission.rates["b"].requests is not None
    admission.configure({"a": 1, "b": 1}, 0, {})
    assert admission.rates == {}


# -- stalled bodies --------------------------------------------------------------------------


def stalled(after: list[bytes]) -> Any:
    """A receive that hands out ``after`` (more_body) and then never answers."""
    chunks = iter(after)

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        if chunk is None:
            await asyncio.Event().wait()
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive


def trickle(chunk: bytes, every: float, count: int) -> Any:
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        await asyncio.sleep(every)
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < count}

    return receive


async def drain(body: TimedReceive) -> None:
    while not body.done:
        await body()


class ManualClock(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when the test moves it (``now``)."""

    now = 0.0

    def time(self) -> float:
        return self.now


def test_an_idle_body_ends_with_request_timeout() -> None:
    async def scenario() -> TimedReceive:
        body = TimedReceive(stalled([b"x" * 10]), idle=0.05, min_rate=0)
        with pytest.raises(S3Error) as caught:
            await asyncio.wait_for(drain(body), 5)
        assert caught.value.code is S3ErrorCode.RequestTimeout and caught.value.status == 400
        with pytest.raises(S3Error):  # and every later read says so too
            await body()
        return body

    body = run(scenario())
    assert body.bytes_in == 10 and not body.done


def test_a_body_below_the_minimum_rate_ends_with_request_timeout() -> None:
    async def scenario() -> None:
        body = TimedReceive(trickle(b"x", 0.01, 1000), idle=0.1, min_rate=10_000)
        with pytest.raises(S3Error) as caught:
            await asyncio.wait_for(drain(body), 5)
        assert caught.value.code is S3ErrorCode.RequestTimeout
        assert 0 < body.bytes_in < 1000

    run(scenario())


def test_a_body_above_the_minimum_rate_completes() -> None:
    async def scenario() -> TimedReceive:
        # 100 KB/s against a 1 KB/s minimum over three 0.3-s windows: a loaded CI box may
        # delay one 10-ms read thirtyfold before the window would see it as idle
        body = TimedReceive(trickle(b"x" * 1000, 0.01, 100), idle=0.3, min_rate=1000)
        await asyncio.wait_for(drain(body), 10)
        return body

    body = run(scenario())
    assert body.done and body.bytes_in == 100_000


def test_time_the_proxy_spends_elsewhere_is_not_the_clients() -> None:
    """The reader pauses longer than the idle timeout between reads: the client is not late.
    The loop's clock moves only in those pauses: on a real one, a loaded box could spend the
    whole 0.05 s within a read (the client's time) and fail the test."""

    async def scenario() -> TimedReceive:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, ManualClock)
        body = TimedReceive(trickle(b"x" * 100, 0, 4), idle=0.05, min_rate=1_000_000)
        while not body.done:
            await body()
            loop.now += 0.12  # the proxy busy upstream, past the idle timeout
            await asyncio.sleep(0)  # the sweeper's timer is due: it looks
        return body

    with asyncio.Runner(loop_factory=ManualClock) as runner:
        assert runner.run(scenario()).bytes_in == 400


def test_a_timeout_cancels_only_the_read_and_other_cancels_pass_through() -> None:
    async def scenario() -> None:
        body = TimedReceive(stalled([]), idle=5, min_rate=0)
        task = asyncio.create_task(body())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())


def test_no_deadline_once_the_body_has_ended() -> None:
    async def scenario() -> None:
        messages = iter([{"type": "http.request", "body": b"ab", "more_body": False}])

        async def receive() -> dict[str, Any]:
            message = next(messages, None)
            if message is None:
                await asyncio.sleep(0.1)  # waiting for a disconnect: no RequestTimeout
                return {"type": "http.disconnect"}
            return message

        body = TimedReceive(receive, idle=0.02, min_rate=0)
        await body()
        assert body.done
        assert (await body())["type"] == "http.disconnect"

    run(scenario())


def test_a_finished_request_is_no_longer_watched() -> None:
    """A request that ends with its body unread (refused, failed) must not stay watched."""

    async def scenario() -> None:
        body = TimedReceive(stalled([b"x"]), idle=20, min_rate=0)
        await body()  # one chunk, more to come: watched
        sweeper = body._watched
        assert sweeper is not None and body in sweeper.bodies
        body.finish()
        sweeper._tick()
        assert body not in sweeper.bodies and sweeper._timer is None

    run(scenario())


def test_connections_are_counted_per_address_and_in_total() -> None:
    counts = ConnectionCounts(total=3, per_client=2)
    assert counts.admit("10.0.0.1") and counts.admit("10.0.0.1")
    assert not counts.admit("10.0.0.1")  # its own bound
    assert counts.admit("10.0.0.2")
    assert not counts.admit("10.0.0.3")  # the process's bound
    counts.release("10.0.0.1")
    assert counts.admit("10.0.0.3")
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        counts.release(client)
    assert counts.open == 0 and counts.by_client == {}


def test_a_refused_connection_gets_an_s3_slowdown() -> None:
    answer = refusal()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nRetry-After: 1\r\n" in head and b"\r\nConnection: close\r\n" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"<Code>SlowDown</Code>" in body
