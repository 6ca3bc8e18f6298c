"""Bucket settings kept in the bucket's record: CORS and tags.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html (Get/Delete alike) and
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html. Both Put operations
require Content-MD5 or an ``x-amz-checksum-*`` header, as S3 does; the record itself is
:mod:`s3proxy.backends.bucket_settings`.
"""

from __future__ import annotations

from s3proxy import tagging
from s3proxy.backends.bucket_settings import with_cors, with_tags
from s3proxy.cors import cors_configuration_xml, parse_cors_configuration
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import _verified_xml_body
from s3proxy.handlers.context import RequestContext
from s3proxy.responses import S3Response, xml_response

MAX_BUCKET_TAGS = 50
MAX_CORS_BYTES = 64 * 1024
"""S3's limit on a CORS configuration."""


def _bucket(ctx: RequestContext) -> str:
    assert ctx.request.bucket is not None
    return ctx.request.bucket


async def put_bucket_cors(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    body = await _verified_xml_body(ctx, required=True)
    if len(body) > MAX_CORS_BYTES:
        raise S3Error(S3ErrorCode.MalformedXML, "The CORS configuration is larger than 64 KB.")
    rules = parse_cors_configuration(body)
    await ctx.storage.buckets.settings.update(bucket, with_cors(rules))
    return S3Response()


async def get_bucket_cors(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    settings = await ctx.storage.buckets.settings.get(bucket)
    if settings.cors is None:
        raise S3Error(S3ErrorCode.NoSuchCORSConfiguration, BucketName=bucket)
    return xml_response(cors_configuration_xml(settings.cors))


async def delete_bucket_cors(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.settings.update(_bucket(ctx), with_cors(None))
    return S3Response(status=204)


def parse_bucket_tagging(body: bytes) -> tuple[tuple[str, str], ...]:
    """PutBucketTagging's ``<Tagging>``: the object tag rules (s3proxy.tagging), 50 tags."""
    return tagging.parse_document(body, MAX_BUCKET_TAGS, "Bucket tag count")


async def put_bucket_tagging(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    body = await _verified_xml_body(ctx, required=True, limit=tagging.MAX_DOCUMENT_BYTES)
    tags = parse_bucket_tagging(body)
    await ctx.storage.buckets.settings.update(bucket, with_tags(tags))
    return S3Response(status=204)


async def get_bucket_tagging(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    settings = await ctx.storage.buckets.settings.get(bucket)
    if settings.tags is None:
        raise S3Error(S3ErrorCode.NoSuchTagSet, BucketName=bucket)
    return xml_response(tagging.document(settings.tags))


async def delete_bucket_tagging(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.settings.update(_bucket(ctx), with_tags(None))
    return S3Response(status=204)
