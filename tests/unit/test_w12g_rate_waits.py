"""Rate limits wait for a token that comes within ``max_wait`` instead of refusing (wave 12 G).

A token bucket at 100 requests a second has a token every 10 ms: a request arriving between two
was answered 503 SlowDown at once, and ``aws s3 cp --recursive`` at 64 requests at once had up
to half its uploads refused and gave some up (aws-cli v2, after three attempts, up to 247 of
1,204 files). Now a request whose token (or whose tenant's byte-debt repayment) comes within
``server.limits.max_wait`` waits for it, holding no slot and reading no body byte; a longer
wait is still 503 with ``Retry-After``.

Expensive-operation slots (s3proxy.expensive) wait on while their queue moves: below.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from s3proxy.app import Gateway, S3App
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import (
    PATIENT_WAITS,
    SETTLING,
    Admission,
    Gate,
    TenantRates,
    TokenBucket,
)
from s3proxy.operations import Operation
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.test_rate_limits_app import ENDPOINT, FREE, LIMITED, call, settings

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def counted(tenant: str, limit: str, answer: str) -> float:
    labels = {"tenant": tenant, "limit": limit, "answer": answer}
    return REGISTRY.get_sample_value("s3proxy_limited_requests_total", labels) or 0.0


def test_a_token_within_max_wait_is_taken_ahead_and_the_next_queues_behind_it() -> None:
    bucket = TokenBucket(rate=10, burst=1)
    now = bucket._stamp
    assert bucket.take(now, 0.55) == 0.0  # the burst
    assert bucket.take(now, 0.55) == pytest.approx(0.1)  # taken ahead: wait 0.1 s for it
    assert bucket.take(now, 0.55) == pytest.approx(0.2)  # behind the first
    waits = [bucket.take(now, 0.55) for _ in range(4)]
    assert waits[:3] == pytest.approx([0.3, 0.4, 0.5])
    assert waits[3] == pytest.approx(0.6)  # past max_wait: refused, nothing taken
    assert bucket.take(now, 0.55) == pytest.approx(0.6)
    assert bucket.take(now + 0.55, 0.0) == pytest.approx(0.05)  # drained at the rate, no faster
    assert bucket.take(now + 0.61, 0.0) == 0.0


def test_admit_waits_within_max_wait_and_refuses_beyond_with_retry_after() -> None:
    rates = TenantRates("w12g-a", TokenBucket(4, 1), None)
    waited = counted("w12g-a", "requests_per_second", "waited")
    assert rates.admit(1.0) == 0.0
    assert [rates.admit(1.0) for _ in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0], abs=0.01)
    assert counted("w12g-a", "requests_per_second", "waited") == waited + 4
    with pytest.raises(S3Error) as caught:
        rates.admit(1.0)
    assert caught.value.code is S3ErrorCode.SlowDown
    assert caught.value.headers == {"Retry-After": "2"}  # 1.25 s until an untaken token


def test_a_debt_repaid_within_max_wait_is_waited_for() -> None:
    bucket = TokenBucket(1000, 1000)
    rates = TenantRates("w12g-b", None, bucket)
    bucket.charge(1500)  # 500 bytes of debt at 1000/s: repaid in 0.5 s
    assert rates.admit(1.0) == pytest.approx(0.5, abs=0.01)
    assert counted("w12g-b", "bytes_per_second", "waited") == 1
    bucket.charge(11_000)  # 11.5 s of debt now: past PATIENT_WAITS x max_wait (wave 13 E)
    with pytest.raises(S3Error) as caught:
        rates.admit(1.0)
    assert caught.value.headers == {"Retry-After": "12"}


def test_a_burst_over_the_rate_is_served_in_turn_through_the_app(tmp_path: Path) -> None:
    """Ten requests a second, 14 PUTs at once after CreateBucket: 9 from the burst, the other
    5 wait at most 0.5 s for theirs and are all stored. Before, those 5 were refused."""

    async def main() -> None:
        gateway = Gateway(settings(tmp_path, {"requests_per_second": 10}))
        try:
            app = S3App(gateway)
            for keys in (LIMITED, FREE):
                assert (await call(app, "PUT", keys)).status == 200  # CreateBucket
            bodies = {f"k{n}": bytes([n]) * 1000 for n in range(14)}
            answers = await asyncio.gather(
                *(call(app, "PUT", LIMITED, key, body) for key, body in bodies.items()),
                call(app, "PUT", FREE, "other", b"o"),  # another tenant, meanwhile
            )
            assert [a.status for a in answers] == [200] * 15, [a.code for a in answers]
            gateway.reload(settings(tmp_path, {}))
            for key, body in bodies.items():
                assert (await call(app, "GET", LIMITED, key)).body == body
        finally:
            await gateway.close()

    asyncio.run(main())


def test_complete_and_abort_are_not_held_back_by_byte_debt() -> None:
    rates = TenantRates("w12g-c", None, TokenBucket(1000, 1000))
    assert rates.bytes is not None
    rates.bytes.charge(10_000)  # 9 s of debt: the parts of an upload, moved at full speed
    assert rates.admit(1.0, settles=True) == 0.0
    with pytest.raises(S3Error):
        rates.admit(0.5)  # any other request waits at most 10 x max_wait for the debt
    assert {Operation.CompleteMultipartUpload, Operation.AbortMultipartUpload} == SETTLING


def test_a_multipart_upload_that_ran_into_byte_debt_still_completes(tmp_path: Path) -> None:
    """1,000 bytes a second, a 20,000-byte part: the part is taken whole (transfers are never
    paused), the tenant is ~19 s in debt, and its Complete is answered 200 (its Abort would be
    too). Before, Complete and then the client's Abort were 503 until the debt was repaid: aws-cli
    gave up and left the parts behind, on every try."""

    async def main() -> None:
        gateway = Gateway(settings(tmp_path, {}))
        try:
            app = S3App(gateway)
            assert (await call(app, "PUT", LIMITED)).status == 200  # CreateBucket
            gateway.reload(settings(tmp_path, {"bytes_per_second": 1000}))
            url = object_url(ENDPOINT, "docs", "big")
            created = await call_app(app, "POST", f"{url}?uploads", LIMITED)
            upload = ET.fromstring(created.body).findtext(f"{NS}UploadId")
            part = await call_app(
                app, "PUT", f"{url}?partNumber=1&uploadId={upload}", LIMITED, b"p" * 20_000
            )
            assert part.status == 200
            assert (await call(app, "HEAD", LIMITED, "big")).status == 503  # in debt
            done = (
                f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
            )
            completed = await call_app(
                app, "POST", f"{url}?uploadId={upload}", LIMITED, done.encode()
            )
            assert completed.status == 200, completed.body
        finally:
            await gateway.close()

    asyncio.run(main())


# -- expensive-operation slots: waiters wait on while the queue moves ---------------------


async def _turnover(gate: Gate, waiters: int, hold: float, max_wait: float) -> list[str]:
    """A held slot, then ``waiters`` requests queued behind it, each holding the slot for
    ``hold`` seconds once it has it: what each of them was answered."""
    await gate.enter(max_wait)

    async def one() -> str:
        try:
            await gate.enter(max_wait)
        except S3Error as error:
            return error.code.name
        await asyncio.sleep(hold)
        gate.leave()
        return "served"

    tasks = [asyncio.ensure_future(one()) for _ in range(waiters)]
    await asyncio.sleep(hold)
    gate.leave()
    return list(await asyncio.gather(*tasks))


def test_an_expensive_waiter_waits_on_while_the_queue_moves() -> None:
    """rclone's ``--checkers 64`` lists 64 directories at once: 4 slots a worker served them
    in turn, but the ones queued longer than ``max_wait`` got 503 and rclone's pacer slowed
    the whole sync (~250 refusals and 39 s instead of 24 s, a 600-directory tree on
    SeaweedFS). A queue that moves now keeps its waiters; the plain request gate, for
    comparison, still refuses whoever waited ``max_wait``."""

    async def main() -> tuple[list[str], list[str]]:
        patient = Gate(1, "w12g-p", "max_concurrent_expensive", patient=True)
        plain = Gate(1, "w12g-q")
        both = await asyncio.gather(
            _turnover(patient, 24, 0.05, 0.6), _turnover(plain, 24, 0.05, 0.6)
        )
        return both[0], both[1]

    patient, plain = asyncio.run(main())
    assert patient == ["served"] * 24
    assert "SlowDown" in plain  # the last ones would have waited ~1.2 s


def test_an_expensive_waiter_behind_a_stuck_queue_is_refused_after_max_wait() -> None:
    async def main() -> None:
        gate = Gate(1, "w12g-s", "max_concurrent_expensive", patient=True)
        await gate.enter(0.05)  # held, never given back
        started = asyncio.get_running_loop().time()
        with pytest.raises(S3Error) as caught:
            await gate.enter(0.05)
        assert caught.value.code is S3ErrorCode.SlowDown
        assert asyncio.get_running_loop().time() - started < 0.05 * PATIENT_WAITS
        assert gate.active == 1 and not gate._waiters

    asyncio.run(main())


def test_the_expensive_gates_are_patient_and_the_request_gates_are_not() -> None:
    admission = Admission({"a": 4}, 1.0, expensive={"a": 2})
    assert admission.expensive["a"].patient and not admission.gate("a").patient
