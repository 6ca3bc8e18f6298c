"""A copy refused 4xx gives its bytes back to its tenant's byte rate (wave 16, A).

Since wave 15 a CopyObject or UploadPartCopy is charged its source's (or range's) size before it
is sent (s3proxy.copy_charge); one then refused (the source missing, a range past its end, a
quota exceeded) kept its charge, so a tenant's refused copies of a large source cost it the
rate its next requests needed: under 2000 B/s one refused 30,000-byte ranged part copy got its
next request 503 SlowDown, Retry-After 15. S3 refuses a copy before it copies, so now a 4xx
gives the charge back; a 5xx keeps it (bytes may have moved). In process, on a local store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from s3proxy import copy_charge
from s3proxy.app import S3App
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.test_rate_limits_app import LIMITED, call
from tests.unit.test_w15f2_copy_charge import always_reread, charged, copied, copy, metered, upload

__all__ = ["always_reread"]
RANGE = "bytes=0-29999"


def test_a_part_copy_of_a_missing_source_leaves_its_tenant_out_of_debt(tmp_path: Path) -> None:
    """Before: 404, then the tenant's next request 503 SlowDown, Retry-After 15."""

    async def scenario(app: S3App) -> None:
        upload_id = await upload(app, "mp")
        for _ in range(3):
            part = await copy(
                app, "mp", f"?partNumber=1&uploadId={upload_id}",
                **{"x-amz-copy-source": "/docs/missing", "x-amz-copy-source-range": RANGE},
            )  # fmt: skip
            assert part.status == 404, part.body
        assert (await call(app, "HEAD", LIMITED, "src")).status == 200  # not in debt

    copied(scenario, tmp_path=tmp_path)


def test_a_refused_copy_gives_back_what_it_was_charged_and_a_failed_one_keeps_it() -> None:
    for error, kept in (
        (S3Error(S3ErrorCode.QuotaExceeded), False),
        (S3Error(S3ErrorCode.InvalidRange), False),
        (S3Error(S3ErrorCode.InternalError), True),  # bytes may have moved
        (S3Error(S3ErrorCode.ServiceUnavailable), True),
    ):
        meter = metered(1000)
        charged(meter, 1500)

        async def refused(meter: copy_charge.CopyMeter = meter, error: S3Error = error) -> None:
            copy_charge.CURRENT.set(meter)
            copy_charge.refund_refused(error)

        asyncio.run(refused())
        assert (meter.bucket.tokens < 0) is kept, error.code
        assert (meter.charged_bytes > 0) is kept  # a second try (a grant's) is charged anew


def test_a_request_charged_nothing_gets_nothing_back() -> None:
    meter = metered(-500)  # another request's debt

    async def refused() -> None:
        copy_charge.CURRENT.set(meter)
        copy_charge.refund_refused(S3Error(S3ErrorCode.NoSuchKey))

    asyncio.run(refused())
    assert meter.bucket.tokens < -400


def test_a_copy_whose_bytes_passed_through_the_gateway_keeps_its_charge() -> None:
    """A copy through the gateway (across upstreams, summed on the way) refused at its end by
    its target (its own If-None-Match: *, an upload aborted meanwhile) did the work."""
    meter = metered(1000)
    charged(meter, 1500)

    async def refused() -> None:
        copy_charge.CURRENT.set(meter)
        copy_charge.moved()  # the source's first bytes read (backends.part_copy)
        copy_charge.refund_refused(S3Error(S3ErrorCode.PreconditionFailed))

    asyncio.run(refused())
    assert meter.bucket.tokens < 0
