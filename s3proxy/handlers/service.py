"""ListBuckets: only the caller's buckets, with creation dates, paged as S3 pages them.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html: ``max-buckets`` (1 to
10,000), ``continuation-token``, ``prefix`` and ``bucket-region``. The continuation token is an
HMAC token (:mod:`s3proxy.tokens`) bound to the tenant and prefix, so any replica accepts it.
"""

from __future__ import annotations

from s3proxy import tokens
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.context import RequestContext
from s3proxy.responses import S3Response, xml_stream
from s3proxy.xmlcodec import list_buckets_pieces

MAX_BUCKETS = 10_000
BUCKETS_TOKEN = "buckets"
PAGING = ("max-buckets", "continuation-token", "prefix", "bucket-region")


def _max_buckets(value: str | None) -> int | None:
    if value is None:
        return None
    number = decimal(value)
    if number is None or not 1 <= number <= MAX_BUCKETS:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}.",
            ArgumentName="max-buckets",
            ArgumentValue=value,
        )
    return number


async def list_buckets(ctx: RequestContext) -> S3Response:
    query = ctx.request.query
    limit = _max_buckets(query.get("max-buckets"))
    prefix = query.get("prefix", "")
    after: str | None = None
    token = query.get("continuation-token") or None  # an empty token is no token, as in S3
    if token is not None:
        payload = tokens.verify(ctx.secret, BUCKETS_TOKEN, (ctx.tenant, prefix), token)
        if payload is None or not isinstance(payload.get("a"), str):
            raise S3Error(
                S3ErrorCode.InvalidArgument, "The continuation token provided is incorrect"
            )
        after = payload["a"]
    region = query.get("bucket-region")
    buckets = [] if region not in (None, ctx.server.region) else await ctx.storage.buckets.list()
    selected = [
        (name, created)
        for name, created in buckets
        if name.startswith(prefix)
        and (after is None or name > after)
        and (ctx.grants is None or ctx.grants.reaches(name))  # a scoped key: only its buckets
    ]
    page = selected if limit is None else selected[:limit]
    next_token = None
    if len(page) < len(selected):
        next_token = tokens.issue(
            ctx.secret, BUCKETS_TOKEN, (ctx.tenant, prefix), {"a": page[-1][0]}
        )
    paged = any(name in query for name in PAGING)
    pieces = list_buckets_pieces(
        ctx.owner,
        page,
        region=ctx.server.region if paged else None,
        prefix=prefix if "prefix" in query else None,
        continuation_token=next_token,
    )
    return xml_stream(pieces)  # rendered as sent: ~1 MiB for 10,000 buckets
