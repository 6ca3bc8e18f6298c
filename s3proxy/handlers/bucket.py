"""Bucket operations: Create/Head/Delete, location, versioning, ListObjects V1/V2, DeleteObjects.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html and neighbouring
pages. Continuation tokens are opaque and HMAC-bound to (tenant, bucket, prefix, delimiter), so
any replica accepts them and none can be replayed against another listing.
"""

from __future__ import annotations

from collections.abc import Callable

from s3proxy import expensive, tokens
from s3proxy.auth.payload import PayloadVerifier, parse_content_md5
from s3proxy.backends.bucket_leftovers import clear_root
from s3proxy.body import held_body, read_small_body
from s3proxy.checksums import ChecksumVerifier
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.grants import Action
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import version_error
from s3proxy.listing import MAX_KEYS, ListQuery, MergedPage
from s3proxy.location import check_location_constraint
from s3proxy.model import DeleteResult
from s3proxy.responses import S3Response, xml_response, xml_stream
from s3proxy.xmlcodec import (
    delete_result_pieces,
    list_objects_pieces,
    location_xml,
    parse_create_bucket_body,
    parse_delete_entries,
    parse_versioning_request,
    url_encode,
    versioning_xml,
)

MAX_XML_BODY = 2 * 1024 * 1024
MAX_DELETE_BODY = 6 * 1024 * 1024
"""DeleteObjects' own limit: 1,000 entries whose 1,024-byte keys are all ``&`` (``&amp;`` as
SDKs write it) come to 5.2 MB, and S3 refuses no legal request for its size."""
LIST_TOKEN = "list"
US_EAST_1 = "us-east-1"


def _bucket(ctx: RequestContext) -> str:
    assert ctx.request.bucket is not None
    return ctx.request.bucket


async def create_bucket(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    body = await _verified_xml_body(ctx, required=False)  # a stated digest is checked, as S3
    check_location_constraint(parse_create_bucket_body(body), ctx.server.region)
    del body  # not held while the bucket is created (s3proxy.body.HELD_BODY_BYTES)
    try:
        # Whatever another replica wrote into a bucket of this name after it was deleted goes.
        await ctx.storage.buckets.create(bucket, lambda: clear_root(ctx.storage, bucket))
    except S3Error as error:
        # S3's legacy us-east-1 behaviour: re-creating a bucket you own succeeds there; every
        # other region answers 409 BucketAlreadyOwnedByYou.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
        if error.code is not S3ErrorCode.BucketAlreadyOwnedByYou or ctx.server.region != US_EAST_1:
            raise
    return S3Response(headers=[("Location", f"/{bucket}")])


async def head_bucket(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.require(_bucket(ctx))
    return S3Response(headers=[("x-amz-bucket-region", ctx.server.region)])


async def delete_bucket(ctx: RequestContext) -> S3Response:
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    if bucket in ctx.storage.tenant.buckets:
        await ctx.storage.buckets.delete(bucket)  # refuses: mapped buckets are not deletable
    await ctx.storage.delete_bucket(bucket)  # BucketNotEmpty with objects; uploads aborted
    return S3Response(status=204)


async def get_bucket_location(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.require(_bucket(ctx))
    return xml_response(location_xml(ctx.server.region))


async def get_bucket_versioning(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.require(_bucket(ctx))
    return xml_response(versioning_xml())


async def put_bucket_versioning(ctx: RequestContext) -> S3Response:
    """Versioning is never enabled here: a configuration that asks for nothing (no Status, MFA
    delete off) is accepted, one that would enable or suspend versioning is refused."""
    await ctx.storage.buckets.require(_bucket(ctx))
    configuration = parse_versioning_request(await _verified_xml_body(ctx, required=False))
    status = configuration.get("Status")
    if status is not None:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"Bucket versioning is not implemented: Status {status} cannot be set.",
        )
    if configuration.get("MfaDelete") == "Enabled":
        raise S3Error(S3ErrorCode.NotImplemented, "MFA delete is not implemented.")
    return S3Response()


def max_keys_of(value: str | None) -> int:
    if value is None:
        return MAX_KEYS
    digits = value.removeprefix("-")
    # ASCII digits of a 32-bit integer only: int() would also take "1_000", "+5" and "٣".
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10 or int(value) > 2**31 - 1:
        raise S3Error(
            S3ErrorCode.InvalidArgument, "Provided max-keys not an integer or within integer range"
        )
    number = int(value)
    if number < 0:
        raise S3Error(S3ErrorCode.InvalidArgument, "max-keys cannot be negative")
    return min(number, MAX_KEYS)


def url_encoding(ctx: RequestContext) -> bool:
    encoding = ctx.request.query.get("encoding-type")
    if encoding is None:
        return False
    if encoding.lower() != "url":
        raise S3Error(S3ErrorCode.InvalidArgument, "Invalid Encoding Method specified in Request")
    return True


async def _list(ctx: RequestContext, start_after: str | None) -> tuple[ListQuery, MergedPage]:
    query = ctx.request.query
    list_query = ListQuery(
        prefix=query.get("prefix", ""),
        delimiter=query.get("delimiter") or None,
        start_after=start_after,
        max_keys=max_keys_of(query.get("max-keys")),
    )
    if list_query.delimiter and query.get("allow-unordered", "").lower() == "true":
        # RGW's extension (s3-tests' *_unordered): a listing in order is one allowed to be
        # unordered, so it is served; with a delimiter RGW refuses it, as here.
        raise S3Error(
            S3ErrorCode.InvalidArgument, "allow-unordered cannot be used with a delimiter"
        )
    async with expensive.held():  # the merge over shards (s3proxy.expensive)
        return list_query, await ctx.storage.list_objects(_bucket(ctx), list_query)


async def refused_after_bucket(ctx: RequestContext, error: S3Error) -> S3Error:
    """``error`` (a listing token or marker this tenant's storage did not issue), once the
    bucket is found: S3 answers the bucket before the request's validity, so a bucket the
    caller does not have is NoSuchBucket. That also lets a tenant page a listing of another
    tenant's bucket that grants it READ (:mod:`s3proxy.granted_reads` runs the listing as
    the owner's, whose token it is): the token was refused before the bucket was looked at,
    so every page after the first was 400 InvalidArgument (before wave 16). Only on this
    failure path: a token that verifies costs nothing more."""
    await ctx.storage.buckets.require(_bucket(ctx))
    return error


def _token_binding(ctx: RequestContext) -> tuple[str, str, str, str]:
    query = ctx.request.query
    return (ctx.tenant, _bucket(ctx), query.get("prefix", ""), query.get("delimiter", ""))


async def list_objects_v2(ctx: RequestContext) -> S3Response:
    query = ctx.request.query
    if query.get("list-type") != "2":
        # Only 2 names this listing; Ceph RGW answers list-type=1 (or any other) with the V1
        # document, whose fields differ: carrying either out as V2 answers another question.
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Only list-type=2 (ListObjectsV2) is implemented: send no list-type for ListObjects.",
        )
    encode = url_encoding(ctx)
    token = query.get("continuation-token") or None  # S3 reads an empty token as none
    start_after = query.get("start-after") or None
    resume = start_after
    if token is not None:
        payload = tokens.verify(ctx.secret, LIST_TOKEN, _token_binding(ctx), token)
        if payload is None or not isinstance(payload.get("a"), str):
            message = "The continuation token provided is incorrect"
            raise await refused_after_bucket(ctx, S3Error(S3ErrorCode.InvalidArgument, message))
        resume = payload["a"]
    list_query, page = await _list(ctx, resume)
    code = _coder(encode)
    next_token = None
    if page.is_truncated and page.last is not None:
        next_token = tokens.issue(ctx.secret, LIST_TOKEN, _token_binding(ctx), {"a": page.last})
    fields = [
        ("Name", _bucket(ctx)),
        ("Prefix", code(list_query.prefix)),
        ("Delimiter", code(list_query.delimiter) if list_query.delimiter else None),
        ("MaxKeys", str(list_query.max_keys)),
        ("EncodingType", "url" if encode else None),
        ("KeyCount", str(len(page.entries) + len(page.prefixes))),
        ("IsTruncated", "true" if page.is_truncated else "false"),
        # Echoed as sent, an empty one too: S3 does, and s3-tests reads it back.
        ("ContinuationToken", query.get("continuation-token")),
        ("NextContinuationToken", next_token),
        ("StartAfter", code(start_after) if start_after else None),
    ]
    owner = ctx.owner if query.get("fetch-owner", "").lower() == "true" else None
    pieces = list_objects_pieces(fields, page.entries, page.prefixes, encode=encode, owner=owner)
    return xml_stream(pieces)  # rendered as sent: ~5 MiB for long keys


async def list_objects(ctx: RequestContext) -> S3Response:
    marker = ctx.request.query.get("marker") or None
    encode = url_encoding(ctx)
    list_query, page = await _list(ctx, marker)
    code = _coder(encode)
    fields = [
        ("Name", _bucket(ctx)),
        # V1 never encodes its top-level Prefix (AWS does not; botocore does not decode it).
        ("Prefix", list_query.prefix),
        ("Marker", code(marker or "")),
        ("NextMarker", code(page.last) if page.is_truncated and page.last else None),
        ("MaxKeys", str(list_query.max_keys)),
        ("Delimiter", code(list_query.delimiter) if list_query.delimiter else None),
        ("EncodingType", "url" if encode else None),
        ("IsTruncated", "true" if page.is_truncated else "false"),
    ]
    owner = ctx.owner
    pieces = list_objects_pieces(fields, page.entries, page.prefixes, encode=encode, owner=owner)
    return xml_stream(pieces)


def _coder(encode: bool) -> Callable[[str], str]:
    if encode:
        return url_encode
    return lambda value: value


async def _verified_xml_body(
    ctx: RequestContext, *, required: bool, limit: int = MAX_XML_BODY
) -> bytes:
    """A small XML body checked against its Content-MD5 / x-amz-checksum-* and signed hash;
    ``required``: one of the first two must be sent (DeleteObjects, PutBucketCors,
    PutBucketTagging, as on S3; PutObjectTagging and PutBucketVersioning go without one there,
    and so do the ACL Puts here), else S3's message, which names both.

    A body declared over ``HELD_BODY_BYTES`` is read and checked holding one of the tenant's
    expensive-operation slots; the callers parse it at once (no await between), so only one such
    body per worker is held outside a slot, and only while the event loop parses it."""
    md5 = parse_content_md5(ctx.request.header("content-md5"))
    checksum = ChecksumVerifier.from_headers(ctx.request.header_map)
    if required and md5 is None and checksum is None:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
        )
    async with expensive.held_if(held_body(ctx.request, limit)):
        body = await read_small_body(ctx.receive, ctx.request, limit)
    literal = ctx.auth.payload_hash
    sha256 = literal.lower() if len(literal) == 64 and "-" not in literal else None
    verifier = PayloadVerifier(sha256, md5)
    verifier.update(body)
    verifier.verify()
    if checksum is not None:
        checksum.update(body)
        checksum.verify()
    return body


async def delete_objects(ctx: RequestContext) -> S3Response:
    """Entries naming a version other than ``null`` get a per-entry NoSuchVersion (as S3 answers
    for an unversioned bucket, whatever the id's shape) and are not deleted.

    The bucket is found first, before any body byte is read (S3's NoSuchBucket; the unread body
    is drained or the connection closed by the server). A body over ``HELD_BODY_BYTES`` (up to
    6 MiB) holds the expensive slot from its read to the answer, so its bytes and parsed keys
    count against ``max_concurrent_expensive``, not only the request slots."""
    bucket = _bucket(ctx)
    await ctx.storage.buckets.require(bucket)
    async with expensive.held_if(held_body(ctx.request, MAX_DELETE_BODY)):
        return await _delete_objects(ctx, bucket)


async def _delete_objects(ctx: RequestContext, bucket: str) -> S3Response:
    quiet, entries, etags = parse_delete_entries(
        await _verified_xml_body(ctx, required=True, limit=MAX_DELETE_BODY)
    )
    grants = ctx.grants
    refused = [False] * len(entries)
    if grants is not None:  # a scoped key: AccessDenied per entry outside its grants, as S3 does
        refused = [
            not grants.allows(Action.DELETE, bucket, key)
            or (version is not None and not grants.versions)  # anonymous: no version deletes
            or (etag is not None and not grants.allows(Action.READ, bucket, key))  # as S3
            for (key, version), etag in zip(entries, etags, strict=True)
        ]
    chosen = [
        (key, etag)
        for (key, version), etag, denied in zip(entries, etags, refused, strict=True)
        if version_error(version, key) is None and not denied
    ]
    current, conditions = [key for key, _ in chosen], [etag for _, etag in chosen]
    async with expensive.held():  # one result per key; an <ETag> makes its delete conditional
        deleted = iter(await ctx.storage.delete_objects(bucket, current, conditions))
    results: list[tuple[DeleteResult, str | None]] = []
    for (key, version), denied in zip(entries, refused, strict=True):
        if denied:
            results.append((DeleteResult(key, S3ErrorCode.AccessDenied.name), version))
        elif version_error(version, key) is None:
            results.append((next(deleted), version))
        else:
            results.append((DeleteResult(key, S3ErrorCode.NoSuchVersion.name), version))
    return xml_stream(delete_result_pieces(results, quiet))  # up to ~5 MiB
