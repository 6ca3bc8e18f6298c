"""Which refused copies give their byte-rate charge back (wave 16, R2; s3proxy.copy_charge).

Wave 16 A gave back the charge of any copy answered 4xx unless its bytes had passed through the
gateway; R found the local store's UploadPartCopy refused NoSuchUpload (an abort meanwhile)
after it had read and written the whole range, and given back. Now only refusals known to come
before any copying are: its source's (missing, denied, a range past its end) until a byte of it
is read, and the gateway's own (a source condition on its HEAD, its quota check, a malformed
request) until the copy is handed to its store. A granted copy (another tenant's source, tried
again) follows the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from s3proxy import copy_charge
from s3proxy.app import S3App
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.test_rate_limits_app import ENDPOINT, FREE, LIMITED, call
from tests.unit.test_w15f2_copy_charge import always_reread, charged, copied, copy, metered, upload

__all__ = ["always_reread"]
RANGE = "bytes=0-29999"


async def nothing() -> None:
    pass


async def handed_over() -> None:
    """The copy sent to its store, which refuses it (its answer raised by the caller)."""

    async def refused() -> None:
        raise S3Error(S3ErrorCode.InternalError)

    with contextlib.suppress(S3Error):
        await copy_charge.handed_over(refused())


async def moved() -> None:
    copy_charge.moved()


def given_back(code: S3ErrorCode, step: Callable[[], Awaitable[None]] = nothing) -> bool:
    """Whether a copy charged 1500 B, after ``step``, refused with ``code`` is refunded."""
    meter = metered(1000)
    charged(meter, 1500)

    async def refused() -> None:
        copy_charge.CURRENT.set(meter)
        await step()
        copy_charge.refund_refused(S3Error(code))

    asyncio.run(refused())
    return meter.bucket.tokens >= 0


@pytest.mark.parametrize(
    "code",
    [
        S3ErrorCode.NoSuchKey,
        S3ErrorCode.InvalidRange,
        S3ErrorCode.AccessDenied,
        S3ErrorCode.QuotaExceeded,  # (the local store's CopyObject checks it at its commit)
    ],
)
def test_a_refusal_before_any_byte_is_given_back_even_from_the_store(code: S3ErrorCode) -> None:
    assert given_back(code)
    assert given_back(code, handed_over)  # a ranged part copy's missing source
    assert not given_back(code, moved)  # bytes read: not a refusal before the work


@pytest.mark.parametrize("code", [S3ErrorCode.PreconditionFailed, S3ErrorCode.InvalidArgument])
def test_the_gateways_own_refusal_is_given_back_only_before_the_copy_is_sent(
    code: S3ErrorCode,
) -> None:
    assert given_back(code)  # decided on the gateway's HEAD, or the request's form
    assert not given_back(code, handed_over)  # the target's If-None-Match: * ...


@pytest.mark.parametrize(
    "code",
    [S3ErrorCode.NoSuchUpload, S3ErrorCode.ConditionalRequestConflict, S3ErrorCode.BadDigest],
)
def test_an_upload_aborted_meanwhile_and_other_answers_keep_the_charge(code: S3ErrorCode) -> None:
    assert not given_back(code)


def test_nothing_after_the_copy_is_made_gives_its_charge_back() -> None:
    """A DeleteBucket of the target meanwhile: the copy made, undone, then NoSuchBucket."""

    async def made() -> None:
        async def copied() -> None:
            pass

        await copy_charge.handed_over(copied())

    assert not given_back(S3ErrorCode.NoSuchBucket, made)


def test_a_granted_copys_refusal_is_given_back_too() -> None:
    """granted_reads runs the copy again (charged anew) after the caller's own storage
    refused it: that second try's refusal was kept before."""
    meter = metered(1000)

    async def granted_try() -> None:
        copy_charge.CURRENT.set(meter)
        with pytest.raises(S3Error), copy_charge.refunding():
            await copy_charge.charge_copy(1500)
            raise S3Error(S3ErrorCode.InvalidRange)

    asyncio.run(granted_try())
    assert meter.bucket.tokens >= 0 and not meter.charged_bytes


# -- in process, in front of a local store (tests.unit.test_w15f2_copy_charge) --------------


def test_a_copy_its_target_refuses_after_the_copy_is_sent_stays_charged(tmp_path: Path) -> None:
    """CopyObject onto an existing key under ``If-None-Match: *``: the store's 412 is its
    target's (S3 decides it at the write), after the copy was sent. Before: given back."""

    async def scenario(app: S3App) -> None:
        assert (await call(app, "PUT", LIMITED, "dst", b"d" * 10)).status == 200
        refused = await copy(app, "dst", **{"if-none-match": "*"})
        assert refused.status == 412, refused.body
        assert (await call(app, "HEAD", LIMITED, "src")).status == 503  # 40,000 B of debt

    copied(scenario, tmp_path=tmp_path)


def test_a_granted_part_copy_of_a_range_past_its_source_is_given_back(tmp_path: Path) -> None:
    """Another tenant's public-read bucket as the source, copied again after the caller's own
    storage refused it: its range refusal kept the 30,000 bytes charged. Now as the caller's own."""

    async def scenario(app: S3App) -> None:
        bucket = object_url(ENDPOINT, "w16r2-pub")
        made = await call_app(app, "PUT", bucket, FREE, headers={"x-amz-acl": "public-read"})
        assert made.status == 200, made.body
        assert (await call_app(app, "PUT", bucket + "/small", FREE, b"p" * 10)).status == 200
        upload_id = await upload(app, "mp")
        part = await copy(
            app, "mp", f"?partNumber=1&uploadId={upload_id}",
            **{"x-amz-copy-source": "/w16r2-pub/small", "x-amz-copy-source-range": RANGE},
        )  # fmt: skip
        assert part.status == 400, part.body  # S3's InvalidArgument: the source has 10 bytes
        assert b"<Code>InvalidArgument</Code>" in part.body
        assert (await call(app, "HEAD", LIMITED, "src")).status == 200  # not in debt

    copied(scenario, tmp_path=tmp_path)
