"""ListBuckets: only the caller's buckets, with creation dates."""

from __future__ import annotations

from s3proxy.handlers.context import RequestContext
from s3proxy.responses import S3Response, xml_response
from s3proxy.xmlcodec import list_buckets_xml


async def list_buckets(ctx: RequestContext) -> S3Response:
    buckets = await ctx.storage.buckets.list()
    return xml_response(list_buckets_xml(ctx.owner, buckets))
