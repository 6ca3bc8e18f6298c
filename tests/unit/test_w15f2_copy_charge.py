"""A copy's bytes charged to its tenant's byte rate (wave 15, F2; s3proxy.copy_charge).

CopyObject and UploadPartCopy carry no body, so before wave 15 a tenant under
``bytes_per_second`` copied at any rate. In process, in front of a local store: a copy puts
its tenant in debt by its source's (or range's) size, so its next request is refused with the
Retry-After that debt says, while another tenant is served; and the charge itself, counted on a
token bucket.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from s3proxy import copy_charge
from s3proxy.app import Gateway, S3App
from s3proxy.copy_charge import CopyMeter, charge_copy, charging
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import Reservation, TokenBucket
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.test_quotas_upstream import always_reread
from tests.unit.test_rate_limits_app import ENDPOINT, FREE, LIMITED, call, settings

__all__ = ["always_reread"]  # the fixture: usage records fresh for each fake upstream

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
SOURCE = 40_000
RATE = 2000


def copied(scenario: Any, *, limited: dict[str, float] | None = None, tmp_path: Path) -> None:
    """A 40,000-byte source ``docs/src`` written with no limit, then the limited tenant held to
    2000 B/s (a new rate starts with a full one-second bucket), then ``scenario``."""

    async def main() -> None:
        gateway = Gateway(settings(tmp_path, {}))
        try:
            app = S3App(gateway)
            for keys in (LIMITED, FREE):
                assert (await call(app, "PUT", keys)).status == 200  # CreateBucket
            assert (await call(app, "PUT", LIMITED, "src", b"s" * SOURCE)).status == 200
            assert (await call(app, "PUT", FREE, "src", b"f" * 10)).status == 200
            gateway.reload(settings(tmp_path, limited or {"bytes_per_second": RATE}))
            await scenario(app)
        finally:
            await gateway.close()

    asyncio.run(main())


async def copy(app: S3App, key: str, extra: str = "", **headers: str) -> Any:
    url = object_url(ENDPOINT, "docs", key) + extra
    return await call_app(
        app, "PUT", url, LIMITED, headers={"x-amz-copy-source": "/docs/src", **headers}
    )


async def upload(app: S3App, key: str) -> str:
    created = await call_app(app, "POST", object_url(ENDPOINT, "docs", key) + "?uploads", LIMITED)
    assert created.status == 200, created.body
    upload_id = ET.fromstring(created.body).findtext(f"{NS}UploadId")
    assert upload_id
    return upload_id


def test_a_copy_puts_its_tenant_in_debt_by_its_source_size(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        done = await copy(app, "dst")
        assert done.status == 200, done.body  # a copy admitted is made whole
        refused = await call(app, "HEAD", LIMITED, "dst")
        assert refused.status == 503, "the copy was not charged"
        # 40,000 B charged against a 2000 B burst: 19 s of debt (was: none, HEAD 200)
        assert refused.headers["retry-after"] in ("19", "20")
        assert (await call(app, "HEAD", FREE, "src")).status == 200  # another tenant served

    copied(scenario, tmp_path=tmp_path)


def test_a_ranged_part_copy_is_charged_its_range(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        upload_id = await upload(app, "mp")
        part = await copy(
            app, "mp", f"?partNumber=1&uploadId={upload_id}",
            **{"x-amz-copy-source-range": "bytes=0-29999"},
        )  # fmt: skip
        assert part.status == 200, part.body
        refused = await call(app, "HEAD", LIMITED, "src")
        assert refused.status == 503, "the part copy was not charged"
        assert refused.headers["retry-after"] in ("14", "15")  # 30,000 B less a 2000 B burst

    copied(scenario, tmp_path=tmp_path)


def test_a_whole_source_part_copy_is_charged_its_source_size(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        upload_id = await upload(app, "mp")
        part = await copy(app, "mp", f"?partNumber=1&uploadId={upload_id}")
        assert part.status == 200, part.body
        refused = await call(app, "HEAD", LIMITED, "src")
        assert refused.status == 503, "the part copy was not charged"
        assert refused.headers["retry-after"] in ("19", "20")

    copied(scenario, tmp_path=tmp_path)


def test_a_tenant_without_a_byte_limit_copies_freely(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        for n in range(3):
            assert (await copy(app, f"dst{n}")).status == 200
        assert (await call(app, "HEAD", LIMITED, "dst2")).status == 200

    copied(scenario, limited={"requests_per_second": 100}, tmp_path=tmp_path)


# -- the charge itself ---------------------------------------------------------------------


def metered(tokens: float, *, rate: float = 1000, max_wait: float = 0.1) -> CopyMeter:
    bucket = TokenBucket(rate, rate)
    bucket.tokens = tokens
    return CopyMeter(bucket, bucket, "t", max_wait)


def charged(meter: CopyMeter | None, *sizes: int, wait: bool = True) -> None:
    async def main() -> None:
        copy_charge.CURRENT.set(meter)
        for size in sizes:
            await charge_copy(size, wait=wait)

    asyncio.run(main())


def test_a_copy_is_charged_once_per_request() -> None:
    meter = metered(1000)
    charged(meter, 1500, 1500)  # a copy sent again after its own condition failed
    assert meter.charged_bytes and -501 < meter.bucket.tokens <= -499


def test_without_a_meter_nothing_is_charged() -> None:
    charged(None, 10**9)  # no byte limit, or not a copy: nothing to do

    async def main() -> bool:
        return charging()

    assert asyncio.run(main()) is False


def test_a_copy_in_debt_waits_for_it_then_takes_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(copy_charge.asyncio, "sleep", sleep)
    meter = metered(-500)  # 0.5 s of debt: within 10 x max_wait (1 s)
    charged(meter, 2000)
    assert len(slept) == 1 and 0.45 < slept[0] <= 0.5  # the debt before it, as admission waits
    assert -2501 < meter.bucket.tokens < -2450  # then its bytes, so the next one queues behind


def test_a_copy_deep_in_debt_is_refused_uncharged() -> None:
    meter = metered(-5000)  # 5 s of debt: past 10 x max_wait

    async def main() -> None:
        copy_charge.CURRENT.set(meter)
        with pytest.raises(S3Error) as caught:
            await charge_copy(100)
        assert caught.value.code is S3ErrorCode.SlowDown
        assert caught.value.headers["Retry-After"] == "5"

    asyncio.run(main())
    assert not meter.charged_bytes and meter.bucket.tokens < -4990 and meter.bucket.tokens > -5000


def test_without_waiting_the_bytes_only_go_into_debt() -> None:
    meter = metered(-5000)
    charged(meter, 1000, wait=False)  # an upstream answer already open: never held
    assert meter.charged_bytes and meter.bucket.tokens < -5990


def test_a_reservation_is_charged_first() -> None:
    bucket = TokenBucket(1000, 1000)
    reservation = Reservation(bucket, 300)
    meter = CopyMeter(reservation, bucket, "t", 0.1)
    charged(meter, 500)
    assert reservation.left == 0 and 799 < bucket.tokens <= 801


# -- on an S3 upstream: a quota tenant's bound copies, a range-less part copy -------------


def charging_run(run_one: Any, *args: Any) -> TokenBucket:
    """``run_one(*args)`` (a copy through a fake S3 upstream) with a byte meter of 1000 B."""
    bucket = TokenBucket(1000, 1000)
    token = copy_charge.CURRENT.set(CopyMeter(bucket, bucket, "t", 0.1))
    try:
        run_one(*args)
    finally:
        copy_charge.CURRENT.reset(token)
    bucket.tokens = round(bucket.tokens)  # the refill of the run's few milliseconds
    return bucket


def test_a_bound_copy_sent_again_is_charged_once_its_first_heads_size() -> None:
    from tests.unit import test_w14f3_bound_copies as copies

    upstream = copies.Overwritten(grown=20)  # 412 on the first copy, copied on the second
    bucket = charging_run(copies.run, upstream, copies.copy(), copies.Limit(max_bytes=100))
    assert len(upstream.copies) == 2
    assert 989 <= bucket.tokens <= 991  # 10 bytes, once


def test_a_bound_part_copy_sent_again_is_charged_once() -> None:
    from tests.unit import test_w14f4_bound_part_copies as parts

    upstream = parts.Overwritten(grown=20)
    bucket = charging_run(parts.run, upstream, parts.part_copy(), parts.Limit(max_bytes=100))
    assert len(upstream.copies) == 2
    assert 989 <= bucket.tokens <= 991


def test_a_range_less_part_copy_without_a_quota_is_charged_its_sources_size() -> None:
    from tests.unit import test_w14f4_bound_part_copies as parts

    upstream = parts.Overwritten(grown=None)
    bucket = charging_run(parts.run, upstream, parts.part_copy(), None)
    assert upstream.copies == [None]  # copied as asked, unbound
    assert 989 <= bucket.tokens <= 991  # its source's 10 bytes, from a HEAD


def test_a_quota_copy_in_debt_waits_before_it_takes_its_keys_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A quota tenant's CopyObject and range-less UploadPartCopy charge under their key's turn
    (the target's, the part's); a tenant in debt waits for it before taking that turn, so its
    other writes of the key (and a Complete of the upload) never wait out the debt behind it.
    Before, the wait came inside the turn, after the copy's HEADs."""
    from s3proxy.backends import usage_records
    from tests.unit import test_w14f3_bound_copies as copies
    from tests.unit import test_w14f4_bound_part_copies as parts
    from tests.unit.test_quotas_upstream import put, storage

    heads: list[str] = []
    heads_at_sleep: list[int] = []

    async def sleep(seconds: float) -> None:
        heads_at_sleep.append(len(heads))

    monkeypatch.setattr(copy_charge.asyncio, "sleep", sleep)

    def counting(upstream: Any) -> Any:
        head = upstream.head_object

        async def head_object(bucket: str, key: str, *args: Any) -> Any:
            heads.append(key)
            return await head(bucket, key, *args)

        upstream.head_object = head_object
        return upstream

    async def scenario(upstream: Any, copy_one: Any) -> None:
        tenant = storage(upstream, copies.Limit(max_bytes=100))
        try:
            await tenant.put_object(put("src", 10, []))
            heads.clear()
            copy_charge.CURRENT.set(metered(-500))  # 0.5 s of debt: waited, then charged
            await copy_one(tenant)
        finally:
            await usage_records.close_all()
            usage_records._books.clear()  # each scenario its own upstream

    copy = counting(copies.Overwritten(grown=None))
    asyncio.run(scenario(copy, lambda tenant: tenant.copy_object(copies.copy())))
    part = counting(parts.Overwritten(grown=None))
    asyncio.run(scenario(part, lambda tenant: tenant.uploads.upload_part_copy(parts.part_copy())))
    assert heads_at_sleep == [0, 0]  # before the turn's first HEAD, for either copy
