"""CopyObject, and the ``x-amz-copy-source`` header it shares with UploadPartCopy.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html. Kept apart from the plain
object handlers (:mod:`s3proxy.handlers.object`) whose request attributes and version checks it
reuses: a copy reads one object and writes another, with conditions, directives and keys of
both, and UploadPartCopy (:mod:`s3proxy.handlers.multipart`) names its source the same way.
"""

from __future__ import annotations

import functools
import re

from s3proxy import early_answer, sse
from s3proxy.checksums import requested_algorithm
from s3proxy.conditions import any_condition, failed_source_condition, usable_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import copy_source_name, source_denied
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import version_error
from s3proxy.handlers.object_requests import request_attributes
from s3proxy.model import CopyObjectInput, ReadConditions, Tags, WriteConditions
from s3proxy.request import parse_query
from s3proxy.responses import S3Response, xml_response
from s3proxy.storage_classes import requested
from s3proxy.tagging import copy_tags
from s3proxy.write_conditions import (
    NO_CONDITIONS,
    checked_write,
    name_write_condition,
    write_conditions,
)
from s3proxy.xmlcodec import copy_result_xml

_BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
"""The characters and length any S3 bucket name, a legacy us-east-1 one too, keeps to."""


def copy_source(ctx: RequestContext) -> tuple[str, str]:
    """``x-amz-copy-source``: ``/bucket/key`` or ``bucket/key``, URL-encoded, optionally with
    ``?versionId=``: ``null`` copies the (unversioned) source, any other id is refused. A source
    named by an ARN (``arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY``, Outposts and
    Object Lambda alike) is 501: the proxy has no access points, and no bucket name contains
    ':', so read as ``bucket/key`` it named no bucket at all. A literal ``+`` is a space, as S3
    decodes this header (a key with a plus sign is sent as ``%2B``: botocore, s3cmd and rclone
    encode it so, rclone "for S3 compatibility"; sent bare, S3 looks for the key with a space)."""
    raw = ctx.request.header("x-amz-copy-source") or ""
    query = raw.partition("?")[2]
    try:
        bucket, key = copy_source_name(raw)
    except S3Error:  # a % without two hex digits, or bytes that are not UTF-8
        # S3's own answer to such a header (InvalidURI is for the request's path).
        raise S3Error(S3ErrorCode.InvalidArgument, "Invalid copy source encoding") from None
    if bucket.startswith("arn:"):
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "A copy source named by an access point or other ARN is not implemented: "
            "name the source bucket and key.",
        )
    if bucket and not _BUCKET_NAME.fullmatch(bucket):  # no bucket, legacy ones too, is so named
        raise S3Error(S3ErrorCode.InvalidArgument, "Invalid copy source bucket name")
    if not bucket or not key:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    if query:
        error = version_error(parse_query(query).get("versionId"), key)
        if error is not None:
            raise error
    if ctx.grants is not None:  # checked with the request already (grants.check_request)
        error = source_denied(ctx.grants, bucket, key)
        if error is not None:
            raise error
    return bucket, key


def source_conditions(ctx: RequestContext, bucket: str, key: str) -> ReadConditions:
    """``x-amz-copy-source-if-*`` and the SSE-C key of the source ``bucket``/``key``
    (``x-amz-copy-source-server-side-encryption-customer-*``), as CopyObject and UploadPartCopy
    read the source under them."""
    header = ctx.request.header
    customer_key = sse.for_read(
        ctx.source_storage or ctx.storage,
        bucket,
        key,
        ctx.request.header_map,
        sse.SOURCE_CUSTOMER,
        secure=ctx.secure_transport,
    )
    return ReadConditions(
        if_match=header("x-amz-copy-source-if-match"),
        if_none_match=header("x-amz-copy-source-if-none-match"),
        if_modified_since=usable_date(header("x-amz-copy-source-if-modified-since")),
        if_unmodified_since=usable_date(header("x-amz-copy-source-if-unmodified-since")),
        customer_key=customer_key,
    )


async def copy_object(ctx: RequestContext) -> S3Response:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    source_bucket, source_key = copy_source(ctx)
    directive = (ctx.request.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error(S3ErrorCode.InvalidArgument, "Unknown metadata directive.")
    storage_class = ctx.request.header("x-amz-storage-class")
    headers = ctx.request.header_map
    encryption = sse.for_write(ctx.storage, bucket, key, headers, secure=ctx.secure_transport)
    read_source = source_conditions(ctx, source_bucket, source_key)
    algorithm = ctx.request.header("x-amz-checksum-algorithm")  # s3proxy.backends.copy_checksum
    algorithm = requested_algorithm(algorithm) if algorithm is not None else None
    changes = storage_class or encryption is not None or algorithm is not None
    header = ctx.request.header
    # A directive S3 does not know is refused as such, before the self-copy 400, as the
    # metadata directive is (versitygw's CopyObject_invalid_tagging_directive, run on S3).
    tags = copy_tags(header("x-amz-tagging-directive"), header("x-amz-tagging"))
    if (source_bucket, source_key) == (bucket, key) and directive == "COPY" and not changes:
        # A bucket the caller lacks answers first, as on S3 (NoSuchBucket, or another
        # tenant's 403 there: s3proxy.granted_reads); this 400 came first before wave 15.
        await ctx.storage.buckets.require(bucket)
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes.",
        )
    if tags is None and ctx.source_storage is not None:
        tags = await foreign_tags(ctx, source_bucket, source_key, read_source)
    conditions = write_conditions(header)
    copy = ctx.storage.copy_object(
        CopyObjectInput(
            source_bucket=source_bucket,
            source_key=source_key,
            bucket=bucket,
            key=key,
            replace_metadata=directive == "REPLACE",
            attributes=request_attributes(ctx),
            source_conditions=read_source,
            conditions=conditions,
            storage_class=requested(storage_class),
            tags=tags,
            encryption=encryption,
            checksum_algorithm=algorithm,
        ),
        ctx.source_storage,
    )
    if conditions.if_match is not None:  # a 412 may mean "no such key", as for PutObject
        head = functools.partial(ctx.storage.head_object, bucket, key, ReadConditions())
        copy = checked_write(copy, conditions, head)
    answered = sse.response_headers(encryption)
    early_answer.ready(answered)  # a long copy's 200 may go out now
    try:
        result = await copy
    except S3Error as error:
        await name_condition(ctx, error, (source_bucket, source_key), read_source, conditions)
        raise
    response = xml_response(copy_result_xml(result.etag, result.last_modified, result.checksums))
    response.headers.extend(answered)
    return response


async def foreign_tags(
    ctx: RequestContext, bucket: str, key: str, read_source: ReadConditions
) -> Tags:
    """The tags a copy with ``x-amz-tagging-directive: COPY`` takes from another tenant's
    source (``ctx.source_storage``, :mod:`s3proxy.granted_reads`): none, or 403 AccessDenied
    when it has some. S3 copies a source's tags only for a caller with s3:GetObjectTagging on
    it, and an ACL's READ (the bucket's or the object's own) maps to s3:GetObject alone, as
    the caller's own GetObjectTagging there is refused; before wave 15 such a copy carried the
    tags, so a tenant read tags no grant gave it. The copy then goes with the empty set
    (``REPLACE``), so tags set after this HEAD are never copied either. Only this path pays
    the HEAD; its error (NoSuchKey, or the pinned source's refusal) is the copy's."""
    assert ctx.source_storage is not None
    plain = ReadConditions(customer_key=read_source.customer_key)
    if (await ctx.source_storage.head_object(bucket, key, plain)).tag_count:
        raise S3Error(S3ErrorCode.AccessDenied)
    return ()


async def name_condition(
    ctx: RequestContext,
    error: S3Error,
    source: tuple[str, str],
    read_source: ReadConditions,
    conditions: WriteConditions = NO_CONDITIONS,
) -> None:
    """Name the failed condition in a copy's 412, as S3 does (``<Condition>If-Match</Condition>``
    for the destination, ``x-amz-copy-source-If-Match`` and the like for the source); the local
    store names the destination's, SeaweedFS and Ceph RGW neither. Which source condition
    failed is told by a HEAD of the source, on this failure path only; a source that changed
    in between, or cannot be read, leaves the destination's name or none."""
    if error.code is not S3ErrorCode.PreconditionFailed or "Condition" in error.fields:
        return
    if any_condition(read_source):
        plain = ReadConditions(customer_key=read_source.customer_key)
        try:
            info = await (ctx.source_storage or ctx.storage).head_object(*source, plain)
        except S3Error:
            info = None
        named = None
        if info is not None:
            named = failed_source_condition(read_source, info.etag, info.last_modified)
        if named is not None:
            error.fields["Condition"] = named
            return
    name_write_condition(error, conditions)
