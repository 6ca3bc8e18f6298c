"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html (and the Get and
Delete pages). Buckets here are unversioned, so ``versionId`` may only be ``null``. Tags are
kept with the object (the local store's index, an S3 upstream's own tagging): PutObjectTagging
replaces the whole set, DeleteObjectTagging empties it.
"""

from __future__ import annotations

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import _verified_xml_body
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import check_version
from s3proxy.layout import UnstorableKey
from s3proxy.responses import S3Response, xml_response
from s3proxy.tagging import MAX_DOCUMENT_BYTES, document, parse_document


def _target(ctx: RequestContext) -> tuple[str, str]:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    return bucket, key


async def get_object_tagging(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    await check_version(ctx)
    return xml_response(document(await ctx.storage.get_object_tagging(bucket, key)))


async def put_object_tagging(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    await check_version(ctx)
    try:  # a bad key or bucket is refused before the body is read
        ctx.storage.locate(bucket, key)
    except UnstorableKey:  # a key never stored: NoSuchKey, as S3 answers, once the bucket is
        await ctx.storage.buckets.require(bucket)  # known (NoSuchBucket first; wave 15 R2)
        raise S3Error(S3ErrorCode.NoSuchKey) from None
    tags = parse_document(await _verified_xml_body(ctx, required=False, limit=MAX_DOCUMENT_BYTES))
    await ctx.storage.put_object_tagging(bucket, key, tags)
    return S3Response()


async def delete_object_tagging(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    await check_version(ctx)
    await ctx.storage.put_object_tagging(bucket, key, ())
    return S3Response(status=204)
