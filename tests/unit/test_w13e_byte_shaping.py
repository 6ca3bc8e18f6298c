"""``bytes_per_second`` shapes a client's parallel transfers instead of failing them (wave 13 E).

Bytes were charged only as they moved and the debt was waited for at most ``max_wait``, so a
client running several parts at once took them all at full speed and its next requests were
refused for as long as the rate needed to catch up: aws-cli v2 (three attempts) uploading 100
MiB under 10 MB/s ran ~10 s ahead of the rate, and its next upload's CreateMultipartUpload was
refused three times and failed. Now a request that declares its bytes (Content-Length, a GET's
closed Range) takes them when admitted, so the requests behind it queue for them in order, and a
byte debt is waited for up to ``PATIENT_WAITS`` x ``max_wait``; what a request reserved and did
not move is given back at its end.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from s3proxy.errors import S3Error
from s3proxy.limits import PATIENT_WAITS, Reservation, TenantRates, TokenBucket, declared_bytes
from s3proxy.operations import Operation
from tests.unit.test_rate_limits_app import FREE, LIMITED, call, settings

RATE = 20_000
"""The limited tenant's bytes a second (and its burst)."""


def shaped(root: Path, max_wait: float) -> Settings:
    made = settings(root, {"bytes_per_second": RATE}).model_dump()
    made["server"]["limits"]["max_wait"] = max_wait
    return Settings.model_validate(made)


def test_declared_bytes_are_a_bodys_length_or_a_closed_range() -> None:
    assert declared_bytes("PUT", "8388608", None) == 8_388_608
    assert declared_bytes("POST", "12", None) == 12
    assert declared_bytes("PUT", None, None) == 0  # chunked: charged as it moves
    assert declared_bytes("PUT", "-1", None) == 0
    assert declared_bytes("GET", None, "bytes=0-8388607") == 8_388_608
    assert declared_bytes("GET", None, "bytes=100-") == 0  # open: its size is the object's
    assert declared_bytes("GET", None, "bytes=-100") == 0
    assert declared_bytes("GET", None, "bytes=5-4") == 0
    assert declared_bytes("GET", None, "bytes=0-1,5-9") == 0
    assert declared_bytes("HEAD", "10", "bytes=0-9") == 0


def test_a_reservation_is_spent_first_then_the_bucket_and_gives_back_what_it_kept() -> None:
    bucket = TokenBucket(0.001, 1000)  # refilled by next to nothing while the test runs
    start = bucket._stamp
    bucket.charge(600, start)
    held = Reservation(bucket, 600)
    held.charge(250)
    held.charge(250)
    assert held.left == 100 and bucket.tokens == pytest.approx(400, abs=0.5)
    held.release()  # 100 not moved: back
    assert held.left == 0 and bucket.tokens == pytest.approx(500, abs=0.5)
    held.charge(300)  # past what it reserved: charged to the bucket as it moves
    assert bucket.tokens == pytest.approx(200, abs=0.5)
    bucket.refund(10_000)
    assert bucket.tokens == 1000  # never past the burst


def test_admitted_requests_take_their_bytes_ahead_and_queue_behind_each_other() -> None:
    rates = TenantRates("w13e-a", None, TokenBucket(1, 1))  # a byte a second: seconds apart
    waits = [rates.admit(0.5, reserve=1) for _ in range(7)]
    # the burst, then each behind the bytes of those before it
    assert waits == pytest.approx([0, 0, 1, 2, 3, 4, 5], abs=0.1)
    with pytest.raises(S3Error) as caught:
        rates.admit(0.5, reserve=1)  # 6 s ahead: past PATIENT_WAITS x max_wait
    assert PATIENT_WAITS * 0.5 < 6
    assert caught.value.headers == {"Retry-After": "6"}
    assert rates.bytes is not None and rates.bytes.debt(time.monotonic()) == pytest.approx(6, 0.1)


def test_a_reservation_cancelled_in_its_wait_is_given_back() -> None:
    async def main() -> None:
        rates = TenantRates("w13e-b", None, TokenBucket(1000, 1000))
        assert rates.bytes is not None
        rates.bytes.charge(1500)  # 0.5 s of debt
        waiting = asyncio.ensure_future(rates.wait_admitted(1.0, Operation.PutObject, 4000))
        await asyncio.sleep(0.01)
        assert rates.bytes.debt(time.monotonic()) == pytest.approx(4.5, abs=0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert rates.bytes.debt(time.monotonic()) == pytest.approx(0.5, abs=0.3)

    asyncio.run(main())


def test_parallel_uploads_over_the_byte_rate_queue_instead_of_being_refused(
    tmp_path: Path,
) -> None:
    """Two clients' worth of uploads at once (two "threads", two 15 KB PUTs each) against 20
    KB/s with a 20 KB burst and ``max_wait`` 0.15 s: the first two run 10 KB into debt, 0.5 s.
    Before, both second PUTs met that debt, more than ``max_wait``, and were refused 503. Now
    each takes its bytes as it is admitted and the later ones wait their turn (0.5 s, 1.25 s):
    all four are stored, and the four took at least as long as the rate allows."""

    async def main() -> None:
        gateway = Gateway(shaped(tmp_path, 0.15))
        try:
            app = S3App(gateway)
            for keys in (LIMITED, FREE):
                assert (await call(app, "PUT", keys)).status == 200  # CreateBucket
            started = time.monotonic()

            async def thread(name: str) -> list[int]:
                statuses = []
                for n in range(2):
                    answer = await call(app, "PUT", LIMITED, f"{name}{n}", b"b" * 15_000)
                    statuses.append(answer.status)
                return statuses

            results = await asyncio.gather(thread("a"), thread("b"))
            assert results == [[200, 200], [200, 200]], results
            assert time.monotonic() - started >= (4 * 15_000 - RATE - 15_000) / RATE
            assert (await call(app, "PUT", FREE, "other", b"o" * 15_000)).status == 200
        finally:
            await gateway.close()

    asyncio.run(main())


def test_a_body_refused_unread_gives_its_reserved_bytes_back(tmp_path: Path) -> None:
    """A PUT into a bucket that does not exist is refused before its body is read: its 15 KB,
    taken when it was admitted, are given back, so the tenant's next request does not wait
    for bytes that never moved."""

    async def main() -> None:
        gateway = Gateway(shaped(tmp_path, 1.0))
        try:
            app = S3App(gateway)
            assert (await call(app, "PUT", LIMITED)).status == 200  # CreateBucket
            bucket = gateway.admission.rates["limited"].bytes
            assert bucket is not None
            missing = await call_missing(app)
            assert missing == 404
            assert bucket.debt(time.monotonic()) == 0
            assert bucket.tokens == pytest.approx(RATE, rel=0.01)
        finally:
            await gateway.close()

    asyncio.run(main())


async def call_missing(app: S3App) -> int:
    from tests.support.asgi import call_app
    from tests.support.s3http import object_url

    url = object_url("http://127.0.0.1:9000", "w13e-no-such-bucket", "k")
    return (await call_app(app, "PUT", url, LIMITED, b"x" * 15_000)).status
