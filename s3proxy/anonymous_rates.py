"""The rate limits of anonymous requests: each bucket owner's, in token buckets of their own.

Anonymous requests (:mod:`s3proxy.anonymous`) are served as their bucket owner's own reads and
writes, in slots of their own per owner, so that a flood of them never takes a tenant's slots.
Before wave 17 they took no rate token either: a tenant's ``requests_per_second`` and
``bytes_per_second`` bounded only its signed requests, so a tenant that made a bucket
``public-read`` (or ``public-read-write``) read (or wrote) it unsigned at any rate, past the
limit that keeps the shared upstream fair, and so could anyone it gave the address to.

Now each owner's anonymous requests are held to the owner's rates (``tenants.NAME.limits``,
else ``server.limits``), exactly as its signed ones are (:class:`s3proxy.limits.TenantRates`:
a token per request, body bytes charged as they move or taken ahead when declared, waits
within ``max_wait`` and byte debt within 10 x ``max_wait``, else 503 SlowDown), in buckets of
their own: anonymous readers of a popular public bucket still never slow the owner's signed
requests down, and together the two may move at most twice the owner's rate, where anonymous
requests had no bound. Per process, like every limit here.

Only a request an ACL grants takes a token (taken in the owner's anonymous slot, once granted):
unsigned requests refused 403 (a private bucket, a private object) drained the owner's tokens,
so anyone could make every reader of its public buckets wait or get 503, and a private bucket
(503 once drained) answered otherwise than a missing name (403) (wave 17 R2).
"""

from __future__ import annotations

from s3proxy.config import Settings
from s3proxy.limits import TenantRates, TokenBucket

_RATES: dict[str, TenantRates] = {}
"""Owner tenant → its anonymous requests' rate buckets in this process (owners with a limit)."""


def rates_for(owner: str, label: str, settings: Settings) -> TenantRates | None:
    """The rate buckets of anonymous requests into ``owner``'s buckets (``label`` names them in
    metrics), or None when the owner has no rate limit. A rate a reload leaves as it was keeps
    its bucket (its tokens and debt); a changed one starts full, as a tenant's does."""
    default = settings.server.limits
    configured = settings.tenants.get(owner)
    own = configured.limits if configured is not None else None
    per_request = default.requests_per_second
    per_byte = default.bytes_per_second
    if own is not None and own.requests_per_second is not None:
        per_request = own.requests_per_second
    if own is not None and own.bytes_per_second is not None:
        per_byte = own.bytes_per_second
    if per_request <= 0 and per_byte <= 0:
        _RATES.pop(owner, None)
        return None
    old = _RATES.get(owner)
    rates = TenantRates(
        label,
        _kept(old.requests if old else None, per_request, max(1.0, per_request)),
        _kept(old.bytes if old else None, per_byte, per_byte),
    )
    if old is None or rates != old:
        _RATES[owner] = rates
    return _RATES[owner]


def _kept(bucket: TokenBucket | None, rate: float, burst: float) -> TokenBucket | None:
    if rate <= 0:
        return None
    if bucket is not None and bucket.rate == rate:
        return bucket
    return TokenBucket(rate, burst)
