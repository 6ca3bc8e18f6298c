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

A copy refused with a 4xx (the source missing, a range past its end, a quota exceeded, a
condition failed) gives its bytes back when its error is answered (:func:`refund_refused`,
since wave 16): S3 refuses a copy before it copies, so nothing moved, and a tenant's refused
copies of a large source must not cost it the rate its next requests need (before, under
2,000 B/s one refused 30,000-byte part copy got its next request 503 SlowDown, Retry-After
15). A copy that fails 5xx keeps its charge: bytes may have moved (an upstream failing
mid-copy, a copy cut), and a 5xx is not the tenant's to repeat at no cost. Nor is a copy whose
bytes began to pass through the gateway (across upstreams, or summed on the way:
:func:`moved`) given back, whatever its answer: its target refusing it at the end (its own
``If-None-Match: *``, an upload aborted meanwhile) came after the work.

A copy is charged the same on every store, the local store included, where a CopyObject only
adds a row naming its source's bytes: what a tenant's rate allows must not depend on which
store holds its bucket (one moved to an S3 upstream would find its copies throttled anew),
and an UploadPartCopy or a copy with a new checksum does read every byte there.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass

from s3proxy.errors import S3Error
from s3proxy.limits import PATIENT_WAITS, Meter, TokenBucket, limited, slow_down
from s3proxy.operations import Operation

COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
"""The operations whose requests get a :class:`CopyMeter` (only with a byte limit)."""


@dataclass(slots=True)
class CopyMeter:
    """Where one request's copied bytes go: its meter (the bucket, or a reservation on it),
    the tenant's byte ``bucket`` whose debt a copy waits for, and whether it was charged."""

    meter: Meter
    bucket: TokenBucket
    tenant: str
    max_wait: float
    charged: bool = False
    """A copy retried after the gateway's own condition failed (.bound_copy) is charged once."""
    charged_bytes: int = 0
    """What it was charged: given back if the copy is refused (:func:`refund_refused`)."""
    moved: bool = False
    """Bytes of its source passed through the gateway: the charge stays."""


CURRENT: contextvars.ContextVar[CopyMeter | None] = contextvars.ContextVar(
    "s3proxy_copy_meter", default=None
)
"""The running request's meter for copied bytes; None without a byte limit."""


def charging() -> bool:
    """Whether a copy made now is charged (its tenant has a byte limit, nothing charged yet):
    only then is a HEAD made for a size the copy does not otherwise learn."""
    meter = CURRENT.get()
    return meter is not None and not meter.charged


async def charge_copy(size: int | None, *, wait: bool = True) -> None:
    """Charge ``size`` copied bytes to the request's meter, once per request; with ``wait``,
    first wait for the tenant's byte debt as admission does (503 SlowDown, nothing charged,
    beyond :data:`~s3proxy.limits.PATIENT_WAITS` x ``max_wait``). Without it (an upstream
    answer already open) the bytes only go into debt, for the tenant's next requests."""
    meter = CURRENT.get()
    if meter is None or meter.charged or not size or size < 0:
        return
    now = time.monotonic()
    debt = meter.bucket.debt(now) if wait else 0.0
    if debt > meter.max_wait * PATIENT_WAITS:
        limited(meter.tenant, "bytes_per_second", "SlowDown")
        raise slow_down(debt)
    meter.charged = True
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
    if meter is None or meter.charged:
        return
    debt = meter.bucket.debt(time.monotonic())
    if debt > meter.max_wait * PATIENT_WAITS:
        limited(meter.tenant, "bytes_per_second", "SlowDown")
        raise slow_down(debt)
    if debt > 0:
        limited(meter.tenant, "bytes_per_second", "waited")
        await asyncio.sleep(debt)


def moved() -> None:
    """The running copy's source bytes began to pass through the gateway (a copy through it,
    :mod:`s3proxy.backends.part_copy`): its charge is no longer given back."""
    meter = CURRENT.get()
    if meter is not None:
        meter.moved = True


def refund_refused(error: S3Error) -> None:
    """The running copy request failed with ``error``: a 4xx gives back what it was charged
    (nothing moved: S3 refuses a copy before it copies); a 5xx, or bytes :func:`moved`, keep
    it. The request may then be charged again (a grant's second try, :mod:`.granted_reads`)."""
    meter = CURRENT.get()
    if meter is None or not meter.charged_bytes or meter.moved or error.status >= 500:
        return
    meter.bucket.refund(meter.charged_bytes)
    meter.charged, meter.charged_bytes = False, 0
