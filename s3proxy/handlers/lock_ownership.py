"""Object Lock and ownership controls: S3's exact answers for what buckets here can hold.

Object Lock is never enabled here (CreateBucket with ``x-amz-bucket-object-lock-enabled: true``
is 501, s3proxy.header_policy), so every bucket is one created without it, and S3 answers such
a bucket exactly and cheaply, after its usual NoSuchBucket:

- GetObjectLockConfiguration: 404 ObjectLockConfigurationNotFoundError;
- PutObjectLockConfiguration: 409 InvalidBucketState, since S3 needs versioning enabled to add
  a lock to an existing bucket, and versioning is never enabled here (PutBucketVersioning);
- Get/PutObjectRetention, Get/PutObjectLegalHold: 400 InvalidRequest "Bucket is missing Object
  Lock Configuration"; S3 judges the bucket's lock before the key, so no key is looked up.

Each is decided before any body is read, and changes nothing. Tools that read a bucket's whole
configuration take these answers as "not configured", where a 501 is an error to them.

Ownership controls are the settings record's ``ownership`` member
(:mod:`s3proxy.backends.bucket_settings`, README "Canned ACLs"): ``BucketOwnerEnforced`` (ACLs
disabled, :func:`s3proxy.handlers.acl.acls_allowed` enforces it) or absent (ACLs enabled: S3's
"no ownership controls", 404 OwnershipControlsNotFoundError). ``ObjectWriter`` and
``BucketOwnerPreferred`` are ownership rules the record does not carry: 501, nothing changed.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketOwnershipControls.html
"""

from __future__ import annotations

from dataclasses import replace

from s3proxy import object_acl
from s3proxy.backends.bucket_settings import BUCKET_OWNER_ENFORCED, BucketSettings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import _verified_xml_body
from s3proxy.handlers.context import RequestContext
from s3proxy.responses import S3Response, xml_response
from s3proxy.xmlcodec import (
    S3_NS,
    XML_DECLARATION,
    _parse,
    children_named,
    local_name,
    text_of,
)

OWNERSHIPS = frozenset({BUCKET_OWNER_ENFORCED, "BucketOwnerPreferred", "ObjectWriter"})
"""The values S3 defines for ``<ObjectOwnership>``; anything else fails its schema."""
MAX_OWNERSHIP_BYTES = 4096
"""Far above the one-rule document S3 defines (~200 bytes)."""


def _bucket(ctx: RequestContext) -> str:
    assert ctx.request.bucket is not None
    return ctx.request.bucket


async def get_object_lock_configuration(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    raise S3Error(S3ErrorCode.ObjectLockConfigurationNotFoundError, BucketName=bucket)


async def put_object_lock_configuration(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    raise S3Error(
        S3ErrorCode.InvalidBucketState,
        "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        BucketName=bucket,
    )


async def no_object_lock(ctx: RequestContext) -> S3Response:
    """Get/PutObjectRetention and Get/PutObjectLegalHold: no bucket here has a lock."""
    await ctx.storage.buckets.require(_bucket(ctx))
    raise S3Error(S3ErrorCode.InvalidRequest, "Bucket is missing Object Lock Configuration")


def ownership_controls_xml(ownership: str) -> bytes:
    return (
        f'{XML_DECLARATION}<OwnershipControls xmlns="{S3_NS}"><Rule>'
        f"<ObjectOwnership>{ownership}</ObjectOwnership></Rule></OwnershipControls>"
    ).encode()


def parse_ownership_controls(body: bytes) -> str:
    """``<OwnershipControls><Rule><ObjectOwnership>`` → its value: one rule, one of
    :data:`OWNERSHIPS`, else MalformedXML, as S3 validates against its schema."""
    root = _parse(body)
    rules = children_named(root, "Rule")
    if local_name(root.tag) != "OwnershipControls" or len(rules) != 1 or len(root) != 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    values = children_named(rules[0], "ObjectOwnership")
    if len(values) != 1 or len(rules[0]) != 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    value = text_of(values[0]).strip()  # never its first text: <x/> inside is MalformedXML
    if value not in OWNERSHIPS:
        raise S3Error(S3ErrorCode.MalformedXML)
    return value


async def get_bucket_ownership_controls(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    settings = await ctx.storage.buckets.settings.get(bucket)
    if settings.ownership is None:
        raise S3Error(S3ErrorCode.OwnershipControlsNotFoundError, BucketName=bucket)
    return xml_response(ownership_controls_xml(settings.ownership))


def owner_enforced(settings: BucketSettings) -> BucketSettings:
    """The record with ACLs disabled, judged on the record as stored now (a racing settings
    write makes the update read it again). As on S3, a bucket whose ACL grants others cannot
    become BucketOwnerEnforced; nor, here, one whose objects were given ACLs: S3 would then
    ignore their ACLs, which the anonymous and cross-tenant reads here would still honour (the
    rule CreateBucket follows, s3proxy.handlers.acl)."""
    if settings.acl is not None:
        raise S3Error(S3ErrorCode.InvalidBucketAclWithObjectOwnership)
    if settings.other.get(object_acl.FLAG):
        raise S3Error(
            S3ErrorCode.InvalidBucketAclWithObjectOwnership,
            "Objects in this bucket have ACLs: it cannot become BucketOwnerEnforced.",
        )
    return replace(settings, ownership=BUCKET_OWNER_ENFORCED)


def acls_enabled(settings: BucketSettings) -> BucketSettings:
    return replace(settings, ownership=None)


async def put_bucket_ownership_controls(ctx: RequestContext) -> S3Response:
    """Carried out for BucketOwnerEnforced only (module docstring); Content-MD5 or a checksum
    is required, as on S3."""
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    body = await _verified_xml_body(ctx, required=True, limit=MAX_OWNERSHIP_BYTES)
    ownership = parse_ownership_controls(body)
    if ownership != BUCKET_OWNER_ENFORCED:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"Object ownership {ownership} is not implemented: only BucketOwnerEnforced can be "
            "set here.",
        )
    await ctx.storage.buckets.settings.update(bucket, owner_enforced)
    return S3Response()


async def delete_bucket_ownership_controls(ctx: RequestContext) -> S3Response:
    """ACLs enabled again; 204 also when there were no controls, as S3 answers."""
    await ctx.storage.buckets.settings.update(_bucket(ctx), acls_enabled)
    return S3Response(status=204)
