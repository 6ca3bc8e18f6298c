"""A copy's bytes charged to its tenant's byte rate (``bytes_per_second``), as a body of that
size would be.

CopyObject and UploadPartCopy carry no body, yet the bytes of their source (or of the range
they name) are read and written again: by the upstream for a server-side copy, by the gateway
when they pass through it. Before wave 15 only request and response bodies were charged, so a
copy cost its tenant nothing: under 2 MB/s a tenant copied 6 x 16 MiB in 2 s and its next
request did not wait, and four concurrent 256 MiB copies on SeaweedFS held another tenant's
small GET at p50 500-580 ms, p99 1.4-1.7 s.

The request's meter (what :func:`s3proxy.limits.TenantRates.wait_admitted` gave it) is set in
:data:`CURRENT` when it is admitted, and the copy paths charge it once they know the size
(:func:`charge_copy`): CopyObject from the source HEAD it makes anyway
(:func:`s3proxy.backends.bound_copy.checked_copy`), UploadPartCopy from its range, or from its
source's size (a HEAD, made only for a tenant with a byte limit when the copy names no range
and no quota HEAD is made: the one upstream request the charge adds). A copy is charged as an
admitted body is: when its tenant is in debt it first waits for the repayment, if that comes
within :data:`~s3proxy.limits.PATIENT_WAITS` x ``max_wait``, else it is refused 503 SlowDown
with nothing copied; its bytes are then taken into debt, so the requests behind it (its other
copies too) wait for them in order. The wait comes before the copy is sent: it holds the
tenant's own request slot, no upstream connection.

A copy refused before any of its work gives its bytes back when its error is answered
(:func:`refund_refused`, since wave 16): a tenant's refused copies of a large source must not
cost it the rate its next requests need (before, under 2,000 B/s one refused 30,000-byte part
copy got its next request 503 SlowDown, Retry-After 15). Only refusals known to come before
any copying are given back. Those of its source (missing, denied, a range past its end), which
no store copies, and of its quota (:data:`UNREAD_REFUSALS`), unless its bytes had begun to be
read meanwhile (:func:`moved`: through the gateway, or by the local store, which copies a
part's whole range before it commits it into the upload) or the copy was made. And the
gateway's own refusals before it hands the copy to the store that copies it
(:data:`GATEWAY_REFUSALS`: a source condition decided on its HEAD, a request malformed;
:func:`handed_over`): the store's own 412 may be its target's, after the work. Every other
answer keeps the charge: a NoSuchUpload (an upload aborted while its part was copied: on the
local store every byte was read and written by then), a 5xx (bytes may have moved: an upstream
failing mid-copy, a copy cut; a 5xx is not the tenant's to repeat at no cost). A copy from
another tenant's granted source (:mod:`s3proxy.granted_reads`, run again after the caller's own
storage refused it) follows the same rule.

A copy is charged the same on every store, the local store included, where a CopyObject only
adds a row naming its source's bytes: what a tenant's rate allows must not depend on which
store holds its bucket (one moved to an S3 upstream would find its copies throttled anew),
and an UploadPartCopy or a copy with a new checksum does read every byte there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import PATIENT_WAITS, Meter, TokenBucket, limited, slow_down
from s3proxy.operations import Operation

T = TypeVar("T")
COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
"""The operations whose requests get a :class:`CopyMeter` (only with a byte limit)."""


@dataclass(slots=True)
class CopyMeter:
    """Where one request's copied bytes go: its meter (the bucket, or a reservation on it),
    the tenant's byte ``bucket`` whose debt a copy waits for, and what it was charged."""

    meter: Meter
    bucket: TokenBucket
    tenant: str
    max_wait: float
    charged_bytes: int = 0
    """What it was charged (0: nothing yet; a copy retried after the gateway's own condition
    failed, .bound_copy, is charged once): given back if the copy is refused
    (:func:`refund_refused`)."""
    handed: bool = False
    """The copy was sent to the store that copies it (:func:`handed_over`)."""
    moved: bool = False
    """Bytes of its source were read for it (:func:`moved`): the charge stays."""


UNREAD_REFUSALS = frozenset(
    {
        S3ErrorCode.AccessDenied,  # a scoped key's, or another tenant's bucket
        S3ErrorCode.NoSuchBucket,
        S3ErrorCode.NoSuchKey,
        S3ErrorCode.NoSuchVersion,
        S3ErrorCode.InvalidRange,
        S3ErrorCode.EntityTooLarge,  # a source (or range) over 5 GiB
        S3ErrorCode.QuotaExceeded,  # the gateway's own check, never an upstream's answer
    }
)
"""Refusals before any byte of the copy is read, wherever decided: its source's, and the
quota's (the gateway's check, or the local store's commit, where a CopyObject copies no byte
and a part copy has read its range by then, :func:`moved`)."""
GATEWAY_REFUSALS = frozenset(
    {
        S3ErrorCode.PreconditionFailed,  # x-amz-copy-source-if-* decided on the gateway's HEAD
        S3ErrorCode.InvalidArgument,
        S3ErrorCode.InvalidRequest,
        S3ErrorCode.InvalidBucketName,
        S3ErrorCode.KeyTooLongError,
        S3ErrorCode.InvalidStorageClass,
        S3ErrorCode.InvalidTag,
        S3ErrorCode.MetadataTooLarge,
        S3ErrorCode.InvalidURI,
    }
)
"""Refusals before the copy's work when the gateway gives them before :func:`handed_over`;
from its store they may be its target's, after it (a 412 of ``If-None-Match: *``)."""

CURRENT: contextvars.ContextVar[CopyMeter | None] = contextvars.ContextVar(
    "s3proxy_copy_meter", default=None
)
"""The running request's meter for copied bytes; None without a byte limit."""


def charging() -> bool:
    """Whether a copy made now is charged (its tenant has a byte limit, nothing charged yet):
    only then is a HEAD made for a size the copy does not otherwise learn."""
    meter = CURRENT.get()
    return meter is not None and not meter.charged_bytes


async def charge_copy(size: int | None, *, wait: bool = True) -> None:
    """Charge ``size`` copied bytes to the request's meter, once per request; with ``wait``,
    first wait for the tenant's byte debt as admission does (503 SlowDown, nothing charged,
    beyond :data:`~s3proxy.limits.PATIENT_WAITS` x ``max_wait``). Without it (an upstream
    answer already open) the bytes only go into debt, for the tenant's next requests."""
    meter = CURRENT.get()
    if meter is None or meter.charged_bytes or not size or size < 0:
        return
    now = time.monotonic()
    debt = meter.bucket.debt(now) if wait else 0.0
    if debt > meter.max_wait * PATIENT_WAITS:
        limited(meter.tenant, "bytes_per_second", "SlowDown")
        raise slow_down(debt)
    meter.charged_bytes = size
    meter.meter.charge(size, now)
    if debt > 0:
        limited(meter.tenant, "bytes_per_second", "waited")
        await asyncio.sleep(debt)


async def debt_paid() -> None:
    """Wait for the tenant's byte debt as :func:`charge_copy` does, charging nothing. A quota
    tenant's copy charges under its key's turn (:mod:`s3proxy.backends.bound_copy`, with
    ``wait=False``), so it waits here first, before taking the turn: waiting inside it would
    hold every other write of that key (and a Complete of that upload) for the whole debt."""
    meter = CURRENT.get()
    if meter is None or meter.charged_bytes:
        return
    debt = meter.bucket.debt(time.monotonic())
    if debt > meter.max_wait * PATIENT_WAITS:
        limited(meter.tenant, "bytes_per_second", "SlowDown")
        raise slow_down(debt)
    if debt > 0:
        limited(meter.tenant, "bytes_per_second", "waited")
        await asyncio.sleep(debt)


async def handed_over(copying: Awaitable[T]) -> T:
    """Await ``copying``, the running copy sent to the upstream (or local store) that copies
    it (:mod:`.backends.bound_copy`, :mod:`.backends.mapped_multipart`): a refusal from there
    may come after its work, unless it comes before any byte is read
    (:data:`UNREAD_REFUSALS`); once it returns, the copy is made, and nothing after it (a
    DeleteBucket meanwhile undoing it, NoSuchBucket) gives the charge back."""
    meter = CURRENT.get()
    if meter is None:
        return await copying
    meter.handed = True
    copied = await copying
    meter.moved = True
    return copied


def moved() -> None:
    """The running copy's source bytes began to be read: passing through the gateway
    (:mod:`.backends.part_copy`) or by the local store (:mod:`.backends.local.multipart`). Its
    charge is no longer given back, whatever its answer."""
    meter = CURRENT.get()
    if meter is not None:
        meter.moved = True


def refund_refused(error: S3Error) -> None:
    """The running copy request failed with ``error``: what it was charged is given back for
    a refusal known to come before its work (its source's before a byte was read, the
    gateway's before the copy was handed over); any other error keeps it. The request may
    then be charged again (a grant's second try, :mod:`.granted_reads`: :func:`refunding`)."""
    meter = CURRENT.get()
    if meter is None or not meter.charged_bytes or meter.moved:
        return
    code = error.code
    if code in UNREAD_REFUSALS or (code in GATEWAY_REFUSALS and not meter.handed):
        meter.bucket.refund(meter.charged_bytes)
        meter.charged_bytes, meter.handed = 0, False  # a new try's own


@contextlib.contextmanager
def refunding() -> Iterator[None]:
    """Run a copy's second try (another tenant's granted source) under :func:`refund_refused`:
    its refusal is answered as the first try's would be."""
    try:
        yield
    except S3Error as error:
        refund_refused(error)
        raise
