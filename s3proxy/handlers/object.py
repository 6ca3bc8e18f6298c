"""PutObject, GetObject, HeadObject, DeleteObject (CopyObject: :mod:`s3proxy.handlers.object_copy`).

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (and the GetObject,
HeadObject, DeleteObject pages). Handlers speak client names only; the tenant's
:class:`~s3proxy.backends.mapped.MappedStorage` applies the layout.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import re

from s3proxy import sse
from s3proxy.auth.payload import parse_content_md5
from s3proxy.checksums import TYPE_HEADER, ChecksumVerifier, checksum_type_header
from s3proxy.conditions import usable_date
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import Action
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object_requests import (
    DEFAULT_CONTENT_TYPE,
    literal_sha256,
    request_body,
    strip_aws_chunked,
)
from s3proxy.handlers.object_requests import request_attributes as request_attributes
from s3proxy.model import META_PREFIX, STANDARD, ObjectInfo, PutObjectInput, ReadConditions
from s3proxy.part_reads import plain_part_info, whole_object_part
from s3proxy.range_checksums import covers_whole, ranged_headers
from s3proxy.ranges import invalid_range, parse_range, resolve_range
from s3proxy.responses import S3Response
from s3proxy.storage_classes import requested
from s3proxy.tagging import request_tags
from s3proxy.write_conditions import NO_CONDITIONS, checked_write, write_conditions

# GetObject query parameters that override a response header (signed requests only, as in S3).
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


# The shape of the version ids S3 issues (32 URL-safe characters). Buckets here are never
# versioned, so every object's version is "null": another id of this shape does not exist (404
# NoSuchVersion) and an id of any other shape is malformed (400), as S3 answers for an
# unversioned bucket. https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html
_VERSION_ID = re.compile(r"[A-Za-z0-9._-]{32}")


def version_error(version: str | None, key: str) -> S3Error | None:
    """None when ``version`` addresses the (unversioned) object: absent or ``null``."""
    if version is None or version == "null":
        return None
    if not version:
        return S3Error(
            S3ErrorCode.InvalidArgument,
            "Version id cannot be the empty string",
            ArgumentName="versionId",
            ArgumentValue=version,
        )
    if not _VERSION_ID.fullmatch(version):
        return S3Error(
            S3ErrorCode.InvalidArgument,
            "Invalid version id specified",
            ArgumentName="versionId",
            ArgumentValue=version,
        )
    return S3Error(S3ErrorCode.NoSuchVersion, Key=key, VersionId=version)


async def check_version(ctx: RequestContext) -> None:
    """``?versionId=`` on GET, HEAD, DELETE: refused before anything is read or deleted (an
    unknown bucket is still NoSuchBucket)."""
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    error = version_error(ctx.request.query.get("versionId"), key)
    if error is None:
        return
    if error.code is S3ErrorCode.NoSuchVersion:
        await ctx.storage.buckets.require(bucket)
    raise error


async def put_object(ctx: RequestContext) -> S3Response:
    assert ctx.request.bucket is not None and ctx.request.key is not None
    content_md5 = ctx.request.header("content-md5")
    md5 = parse_content_md5(content_md5)
    checksum = ChecksumVerifier.from_headers(ctx.request.header_map)
    # Map before reading the body: a bad key or bucket is refused before any byte moves.
    ctx.storage.locate(ctx.request.bucket, ctx.request.key)
    conditions = write_conditions(ctx.request.header)
    encryption = sse.for_write(
        ctx.storage,
        ctx.request.bucket,
        ctx.request.key,
        ctx.request.header_map,
        secure=ctx.secure_transport,
    )
    header = ctx.request.header
    storage_class = requested(header("x-amz-storage-class"))
    tags = request_tags(header("x-amz-tagging"))
    body, length = await request_body(ctx, md5, checksum)
    # A checksum declared up front goes upstream too: the upstream checks and stores it.
    declared = trailer = None
    if checksum is not None and checksum.expected_b64 is not None:
        declared = (checksum.header, checksum.expected_b64)
    elif checksum is not None:  # the value arrives in the trailer, verified before the end
        trailer = (checksum.header, checksum.digest_b64)
    bucket, key = ctx.request.bucket, ctx.request.key
    put = ctx.storage.put_object(
        PutObjectInput(
            bucket=bucket,
            key=key,
            body=body,
            content_length=length,
            attributes=strip_aws_chunked(request_attributes(ctx)),
            conditions=conditions,
            content_md5=content_md5,
            content_sha256=literal_sha256(ctx),
            checksum=declared,
            trailer_checksum=trailer,
            encryption=encryption,
            storage_class=storage_class,
            tags=tags,
        )
    )
    if conditions.if_match is not None:  # only then can a 412 mean "no such key"
        head = functools.partial(ctx.storage.head_object, bucket, key, ReadConditions())
        put = checked_write(put, conditions, head)
    try:
        result = await put
    except S3Error as error:
        # If-None-Match: * fails whenever an object is there, whatever If-Match says.
        named = "If-None-Match" if conditions.if_none_match is not None else "If-Match"
        _name_condition(error, named if conditions != NO_CONDITIONS else None)
        raise
    headers = [("ETag", result.etag), *sse.response_headers(encryption)]
    if checksum is not None:  # S3 names the type too; a PutObject's is always FULL_OBJECT
        headers += [(checksum.header, checksum.digest_b64()), (TYPE_HEADER, "FULL_OBJECT")]
    return S3Response(headers=headers)


async def read_conditions(ctx: RequestContext) -> ReadConditions:
    """A read's conditions and SSE-C key (GetObject, HeadObject, GetObjectAttributes). A key
    sent for a plain object becomes that object's own error (404 where it is missing)."""
    request = ctx.request
    header = request.header
    bucket, key = request.bucket, request.key
    assert bucket is not None and key is not None
    try:
        customer_key = sse.for_object_read(
            ctx.storage, bucket, key, request.header_map, secure=ctx.secure_transport
        )
    except sse.KeyForPlainObject as error:
        raise await sse.plain_read_error(ctx.storage, bucket, key, error) from None
    return ReadConditions(
        if_match=header("if-match"),
        if_none_match=header("if-none-match"),
        if_modified_since=usable_date(header("if-modified-since")),
        if_unmodified_since=usable_date(header("if-unmodified-since")),
        customer_key=customer_key,
    )


def _checksum_mode(ctx: RequestContext) -> bool:
    return (ctx.request.header("x-amz-checksum-mode") or "").upper() == "ENABLED"


_NOT_HEADER_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _response_overrides(ctx: RequestContext) -> dict[str, str]:
    """The ``response-*`` headers asked for, checked before the object is read. A value goes
    out as S3 sends it, in ISO-8859-1 (``é`` is the byte 0xE9); one holding a character beyond
    ISO-8859-1 is S3's 400 InvalidArgument "Header value cannot be represented using
    ISO-8859-1." (seen from S3 for ``–``, ``倉``, ``’``: IQSS/dataverse#4524, CartoDB/cartodb
    #10701, guardian/grid#1716), where it went out as UTF-8; one with a control character would
    split or break the response → InvalidArgument. Spaces and tabs at either end are dropped: a
    field value has none (RFC 9110, 5.5), and Hypercorn's h11 dropped them where uvicorn wrote
    them, so the engines answered one request with different bytes."""
    query = ctx.request.query
    overrides: dict[str, str] = {}
    if not query:
        return overrides
    for parameter, header in RESPONSE_OVERRIDES.items():
        value = query.get(parameter)
        if value is None:
            continue
        if _NOT_HEADER_TEXT.search(value):
            raise S3Error(
                S3ErrorCode.InvalidArgument,
                f"{parameter} holds a character a header cannot carry.",
                ArgumentName=parameter,
            )
        if not value.isascii() and max(value) > "\xff":
            raise S3Error(
                S3ErrorCode.InvalidArgument,
                "Header value cannot be represented using ISO-8859-1.",
                ArgumentName=parameter,
                ArgumentValue=value,
            )
        overrides[header] = value.strip(" \t")  # answered as ISO-8859-1 (responses.py)
    return overrides


def mail_safe(value: str) -> str:
    """A user-metadata value holding a character outside US-ASCII as S3 answers it: one RFC 2047
    encoded word, ``=?UTF-8?B?`` + base64 of the value's UTF-8 + ``?=``. The value is the sent
    header read as ISO-8859-1, as S3 reads it, so ``é`` sent as UTF-8 (C3 A9, botocore) comes
    back as the encoding of "Ã©", as measured on S3 (minio/minio#21282); a pure-ASCII value is
    answered as stored."""
    encoded = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
    return f"=?UTF-8?B?{encoded}?="


def _object_headers(
    info: ObjectInfo, checksum_mode: bool, overrides: dict[str, str]
) -> list[tuple[str, str]]:
    content = info.attributes.headers
    if "content-type" not in content:  # stored before a write named the default: S3's type
        content = {"content-type": DEFAULT_CONTENT_TYPE, **content}
    if overrides:  # response-* overrides: only on signed requests that carry them
        content = {**content, **overrides}
    headers = [
        ("ETag", info.etag),
        ("Last-Modified", info.last_modified),
        ("Accept-Ranges", "bytes"),
    ]
    headers.extend(content.items())
    headers.extend(
        (META_PREFIX + name, value if value.isascii() else mail_safe(value))
        for name, value in info.attributes.metadata.items()
    )
    if info.storage_class != STANDARD:  # S3 names every class but STANDARD
        headers.append(("x-amz-storage-class", info.storage_class))
    if info.tag_count:
        headers.append(("x-amz-tagging-count", str(info.tag_count)))
    for name, value in info.extra_headers.items():
        if checksum_mode or not name.startswith("x-amz-checksum-"):
            headers.append((name, value))
    if checksum_mode:
        headers.extend(checksum_type_header(info.extra_headers))
    return headers


def _part_number(ctx: RequestContext) -> int | None:
    """``?partNumber=N``: part N of a multipart object, served by the upstream (with
    ``x-amz-mp-parts-count``); S3 refuses it together with a Range."""
    value = ctx.request.query.get("partNumber")
    if value is None:
        return None
    number = decimal(value)
    if number is None or not 1 <= number <= 10000:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )
    if ctx.request.header("range") is not None:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        )
    return number


async def get_object(ctx: RequestContext) -> S3Response:
    try:
        return await _get_object(ctx)
    except S3Error as error:
        # If-Match decides alone when present; If-Unmodified-Since only without it (RFC 9110).
        names = ("If-Match", "If-Unmodified-Since")
        sent = (name for name in names if ctx.request.header(name.lower()) is not None)
        _name_condition(error, next(sent, None))
        raise


def _name_condition(error: S3Error, header: str | None) -> None:
    """S3's 412 names the condition that failed (``<Condition>If-Match</Condition>``). The
    local store names it; SeaweedFS's and Ceph RGW's 412s do not, so it is named here."""
    if error.code is S3ErrorCode.PreconditionFailed and header and "Condition" not in error.fields:
        error.fields["Condition"] = header


async def _get_object(ctx: RequestContext) -> S3Response:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    await check_version(ctx)
    part_number = _part_number(ctx)
    byte_range = parse_range(ctx.request.header("range"))
    checksum_mode = _checksum_mode(ctx)
    conditions = await read_conditions(ctx)
    overrides = _response_overrides(ctx)
    requested = ctx.request.header("range")
    if byte_range is not None and byte_range.suffix == 0:  # names no byte; upstreams differ
        size = (await ctx.storage.head_object(bucket, key, conditions)).size
        raise invalid_range(size, requested)
    try:
        result = await ctx.storage.get_object(
            bucket, key, byte_range, conditions, checksum_mode, part_number
        )
    except S3Error as error:
        if error.code is not S3ErrorCode.InvalidRange:
            raise
        suffix = byte_range is not None and byte_range.suffix is not None
        total = _unsatisfied_size(error)
        if total is not None and not suffix:  # S3's body, whatever the upstream's held
            raise invalid_range(total, requested) from None
        read = ReadConditions(customer_key=conditions.customer_key)
        info = await ctx.storage.head_object(bucket, key, read)
        if not suffix or info.size != 0:
            raise invalid_range(info.size, requested) from None
        # A suffix of an empty object: S3 ignores the Range (upstreams answer 416).
        result = await ctx.storage.get_object(bucket, key, None, conditions, checksum_mode)
    headers = _object_headers(plain_part_info(result.info, part_number), checksum_mode, overrides)
    status = 200
    content_range = whole_object_part(result.info, part_number, result.content_range)
    if content_range is not None:
        first, last, total = content_range
        headers.append(("Content-Range", f"bytes {first}-{last}/{total}"))
        status = 206
    return S3Response(
        status=status,
        headers=headers,
        body=result.body,
        close=result.aclose,
        content_length=result.content_length,
    )


def _unsatisfied_size(error: S3Error) -> int | None:
    """The object size an upstream's 416 names (``Content-Range: bytes */N``), if any."""
    total = error.headers.get("Content-Range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


async def head_object(ctx: RequestContext) -> S3Response:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    await check_version(ctx)
    part_number = _part_number(ctx)
    checksum_mode = _checksum_mode(ctx)
    conditions = await read_conditions(ctx)
    overrides = _response_overrides(ctx)
    info = await ctx.storage.head_object(bucket, key, conditions, checksum_mode, part_number)
    info = plain_part_info(info, part_number)
    part_range = whole_object_part(info, part_number, info.part_range)
    if part_range is not None:
        headers = _object_headers(info, checksum_mode, overrides)
        first, last, total = part_range
        headers.append(("Content-Range", f"bytes {first}-{last}/{total}"))
        return S3Response(status=206, headers=headers, content_length=last - first + 1)
    byte_range = parse_range(ctx.request.header("range"))
    resolved = resolve_range(byte_range, info.size) if byte_range is not None else None
    if resolved is None:
        headers = _object_headers(info, checksum_mode, overrides)
        return S3Response(headers=headers, content_length=info.size)
    first, last = resolved
    # The checksums a Range answers (s3proxy.range_checksums), as the GET of it does.
    extra = ranged_headers(info.extra_headers, covers_whole(first, last, info.size))
    headers = _object_headers(
        dataclasses.replace(info, extra_headers=extra), checksum_mode, overrides
    )
    headers.append(("Content-Range", f"bytes {first}-{last}/{info.size}"))
    return S3Response(status=206, headers=headers, content_length=last - first + 1)


async def delete_object(ctx: RequestContext) -> S3Response:
    """``If-Match`` makes it S3's conditional delete (s3proxy.backends.conditional_deletes):
    with an ETag S3 also needs s3:GetObject, so a scoped key needs read on the key too."""
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    await check_version(ctx)
    if_match = ctx.request.header("if-match")
    if if_match is not None and if_match.strip() != "*" and not readable(ctx, bucket, key):
        raise S3Error(S3ErrorCode.AccessDenied)
    await ctx.storage.delete_object(bucket, key, if_match)
    return S3Response(status=204)


def readable(ctx: RequestContext, bucket: str, key: str) -> bool:
    """Whether the caller may read ``key`` (what a conditional delete with an ETag needs)."""
    return ctx.grants is None or ctx.grants.allows(Action.READ, bucket, key)
