"""PutBucketAcl, GetBucketAcl, PutObjectAcl, GetObjectAcl, and the ACL part of the requests
that create buckets and objects.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html (and the other three
pages). What an ACL may say here, and why, is :mod:`s3proxy.acl`: a bucket's public or
authenticated-read ACL is kept in its settings record, an object's public-read or
authenticated-read in a record bound to the object (:mod:`s3proxy.object_acl`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace

from s3proxy import acl, object_acl
from s3proxy.backends.bucket_settings import BUCKET_OWNER_ENFORCED, BucketSettings, with_acl
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers import bucket as bucket_handlers
from s3proxy.handlers.bucket import _verified_xml_body
from s3proxy.handlers.context import Handler, RequestContext
from s3proxy.handlers.object import check_version
from s3proxy.model import ReadConditions
from s3proxy.responses import S3Response, xml_response


def _bucket(ctx: RequestContext) -> str:
    assert ctx.request.bucket is not None
    return ctx.request.bucket


def _object(ctx: RequestContext) -> tuple[str, str]:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    return bucket, key


async def acls_allowed(ctx: RequestContext, bucket: str, canned: str) -> None:
    """A bucket created with ``x-amz-object-ownership: BucketOwnerEnforced`` has its ACLs
    disabled, as on S3: an ACL may be sent only as ``bucket-owner-full-control`` or as grants
    (headers or an AccessControlPolicy) naming the owner's full control alone; any other is
    400 AccessControlListNotSupported, whatever it grants: a write S3 refuses there must not
    make an object public here."""
    settings = await ctx.storage.buckets.settings.get(bucket)
    if settings.ownership is None:
        return
    header = acl.claimed(ctx.request, "x-amz-acl")
    if header is not None and header.strip() == "bucket-owner-full-control":
        return
    if header is None and canned == "private":  # grants or a body naming the owner alone
        return
    raise S3Error(S3ErrorCode.AccessControlListNotSupported)


async def _put_acl(ctx: RequestContext, *, bucket: bool) -> str | None:
    """The ACL a Put*Acl request sets (None: private): from its headers or its body, never
    both, as S3 requires; refused as :func:`acls_allowed` and :func:`s3proxy.acl.check` say."""
    canned = acl.requested(ctx.request, ctx.owner)
    body = await _verified_xml_body(ctx, required=False)
    if body.strip():
        if canned is not None:
            raise S3Error(S3ErrorCode.UnexpectedContent)
        canned = acl.parse_policy(body, ctx.owner)
    if canned is None:
        raise S3Error(S3ErrorCode.MissingSecurityHeader, MissingHeaderName="x-amz-acl")
    await acls_allowed(ctx, _bucket(ctx), canned)
    return acl.check(canned, bucket=bucket, allow_public=ctx.server.allow_public_acls)


async def put_bucket_acl(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    stored = await _put_acl(ctx, bucket=True)
    await ctx.storage.buckets.settings.update(bucket, with_acl(stored))
    return S3Response()


async def get_bucket_acl(ctx: RequestContext) -> S3Response:
    """The ACL carried out: a stored public or authenticated-read ACL shows as private while
    the operator's kill switch (``server.allow_public_acls: false``) keeps others out."""
    settings = await ctx.storage.buckets.settings.get(_bucket(ctx))
    shown = settings.acl if ctx.server.allow_public_acls else None
    return xml_response(acl.policy_xml(ctx.owner, shown))


async def put_object_acl(ctx: RequestContext) -> S3Response:
    """Without the object's SSE-C key, as on S3; a public ACL on an SSE-C object is 501, as
    on PutObject (such an object is never served without its key)."""
    bucket, key = _object(ctx)
    await check_version(ctx)
    info = await object_acl.stored(ctx.storage, bucket, key)  # NoSuchKey, as S3
    stored = await _put_acl(ctx, bucket=False)
    if stored is None:
        await object_acl.write(ctx.storage, bucket, key, None)
    elif info.keyed:
        raise _not_carried_out(stored)
    else:
        await object_acl.bind(ctx.storage, bucket, key, stored, info)
    return S3Response()


async def get_object_acl(ctx: RequestContext) -> S3Response:
    """The object's ACL: public-read or authenticated-read while a record bound to this very
    object says so (and the operator allows public ACLs), else private. Without the object's
    SSE-C key, as on S3 (:func:`s3proxy.object_acl.stored`)."""
    bucket, key = _object(ctx)
    await check_version(ctx)
    info = await object_acl.stored(ctx.storage, bucket, key)
    shown = None
    if ctx.server.allow_public_acls:
        shown = await object_acl.current(ctx.storage, bucket, key, info)
    return xml_response(acl.policy_xml(ctx.owner, shown))


async def create_bucket(ctx: RequestContext) -> S3Response:
    """CreateBucket with its ACL: refused before the bucket is made; a public one written to
    the new bucket's record after. Re-creating a bucket one owns in us-east-1 resets its ACL,
    as S3 does there. ``x-amz-object-ownership: BucketOwnerEnforced`` disables the bucket's
    ACLs (recorded with its settings, :func:`acls_allowed`): with an ACL granting anyone more
    than the owner's access it is 400 InvalidBucketAclWithObjectOwnership, as on S3, and no
    bucket is made."""
    bucket = _bucket(ctx)
    canned = acl.requested(ctx.request, ctx.owner)
    enforced = acl.claimed(ctx.request, "x-amz-object-ownership") == BUCKET_OWNER_ENFORCED
    if enforced and canned is not None and canned not in acl.PRIVATE_LIKE:
        raise S3Error(S3ErrorCode.InvalidBucketAclWithObjectOwnership)
    stored = None
    if canned is not None:
        stored = acl.check(canned, bucket=True, allow_public=ctx.server.allow_public_acls)
    response = await bucket_handlers.create_bucket(ctx)
    settings = ctx.storage.buckets.settings
    current = await settings.get(bucket)
    if enforced and object_acl.FLAG in current.other:
        # Re-created over objects that were given ACLs: S3 would then ignore their records,
        # which the anonymous and cross-tenant reads here still honour. Refused, unchanged.
        raise S3Error(
            S3ErrorCode.InvalidBucketAclWithObjectOwnership,
            "Objects in this bucket have ACLs: it cannot become BucketOwnerEnforced.",
        )
    if enforced or stored is not None or current.acl is not None:
        await settings.update(bucket, _created_with(stored, enforced))
    return response


def _created_with(stored: str | None, enforced: bool) -> Callable[[BucketSettings], BucketSettings]:
    def change(settings: BucketSettings) -> BucketSettings:
        ownership = BUCKET_OWNER_ENFORCED if enforced else settings.ownership
        return replace(settings, acl=stored, ownership=ownership)

    return change


_COPY_ETAG = re.compile(rb"<ETag>([^<]*)</ETag>")


def _written_etag(response: S3Response) -> str | None:
    """The ETag a PutObject (header) or CopyObject (body) answer reports."""
    for name, value in response.headers:
        if name.lower() == "etag":
            return value
    if isinstance(response.body, bytes):
        found = _COPY_ETAG.search(response.body)
        if found is not None:
            return html.unescape(found.group(1).decode())
    return None


def _not_carried_out(canned: str) -> S3Error:
    return S3Error(
        S3ErrorCode.NotImplemented,
        f"The canned ACL {canned} is not implemented on SSE-C objects, or for a tenant "
        "without a home.",
        Header="x-amz-acl",
    )


async def public_object_acl(ctx: RequestContext) -> str | None:
    """The public ACL (None: private) a request creating an object asks for; checked before
    anything is written. Requests without an ACL header pay a few header lookups. Refused:
    any ACL but the owner's full control in a BucketOwnerEnforced bucket (:func:`acls_allowed`),
    a public or authenticated-read ACL on an SSE-C object (its record is bound through a
    keyless HEAD, and it would be served to others only with its key), or for a tenant
    without a home (where its record would go). A request whose ACL headers are refused
    (501 grants no canned ACL says, 400 both forms) into a bucket the caller lacks is that
    bucket's answer first, as on S3 (NoSuchBucket, or another tenant's 403 there; the 501
    came first before wave 15): only that error path pays the bucket's existence check."""
    try:
        canned = acl.requested(ctx.request, ctx.owner)
    except S3Error:
        await ctx.storage.buckets.require(_bucket(ctx))
        raise
    if canned is None:
        return None
    await acls_allowed(ctx, _bucket(ctx), canned)
    stored = acl.check(canned, bucket=False, allow_public=ctx.server.allow_public_acls)
    if stored is not None and (
        ctx.storage.tenant.home is None
        or "x-amz-server-side-encryption-customer-algorithm" in ctx.request.header_map
    ):
        raise _not_carried_out(canned)
    return stored


def object_acls(handler: Handler) -> Handler:
    """``handler`` (PutObject, CopyObject) with its ACL (:func:`public_object_acl`); a
    public-read one bound to the object written (s3proxy.object_acl). CreateMultipartUpload
    carries it to Complete instead (:mod:`s3proxy.handlers.multipart`)."""

    async def checked(ctx: RequestContext) -> S3Response:
        stored = await public_object_acl(ctx)
        bucket, key = _object(ctx)
        response = await handler(ctx)
        if stored is None:  # S3 makes an overwritten object private
            await object_acl.reset(ctx.storage, bucket, key)
            return response
        info = await ctx.storage.head_object(bucket, key, ReadConditions())
        if info.etag == _written_etag(response):  # else replaced meanwhile: that one is private
            await object_acl.bind(ctx.storage, bucket, key, stored, info)
        return response

    return checked
