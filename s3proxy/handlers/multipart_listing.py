"""Multipart listings: ListParts and ListMultipartUploads, with the UploadIds they show.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html and
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html. The UploadIds
listed are issued exactly as CreateMultipartUpload issued them (:mod:`.upload_ids`), from the
records the backend reads back. Split from :mod:`s3proxy.handlers.multipart` (which re-exports
both handlers) to keep that module small.
"""

from __future__ import annotations

import dataclasses

from s3proxy import expensive, tokens
from s3proxy.backends.upload_record_values import UploadChecksum, UploadMarks
from s3proxy.checksums import multipart_checksum_type
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import refused_after_bucket, url_encoding
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.upload_ids import UPLOAD_TOKEN, issue_upload_id, upload_of
from s3proxy.listing import ListQuery
from s3proxy.multipart_xml import list_parts_pieces, list_uploads_pieces
from s3proxy.responses import S3Response, xml_stream
from s3proxy.xmlcodec import url_encode

MAX_LISTED = 1000


def bounded(ctx: RequestContext, name: str, default: int, maximum: int | None) -> int:
    value = ctx.request.query.get(name)
    if value is None or value == "":
        return default
    number = decimal(value)
    if number is None or number > 2**31 - 1:  # S3's 32-bit integer: never echoed capped
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        )
    return number if maximum is None else min(number, maximum)


async def list_parts(ctx: RequestContext) -> S3Response:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    upload_id = ctx.request.query.get("uploadId", "")
    upstream_id, recorded, marks, _ = await upload_of(ctx, bucket, key, upload_id)
    max_parts = bounded(ctx, "max-parts", MAX_LISTED, MAX_LISTED)
    marker = bounded(ctx, "part-number-marker", 0, None)
    async with expensive.held():  # up to 1,000 parts read and parsed (s3proxy.expensive)
        page = await ctx.storage.uploads.list_parts(
            bucket, key, upstream_id, marker, max_parts, recorded, marks
        )
    next_marker = page.next_marker
    if next_marker is None and page.parts:
        next_marker = page.parts[-1].part_number
    fields = [
        ("Bucket", bucket),
        ("Key", key),
        ("UploadId", upload_id),
        ("PartNumberMarker", str(marker)),
        ("NextPartNumberMarker", str(next_marker) if next_marker is not None else None),
        ("MaxParts", str(max_parts)),
        ("IsTruncated", "true" if page.next_marker is not None else "false"),
        ("StorageClass", page.storage_class),
        ("ChecksumAlgorithm", page.checksum_algorithm),
        ("ChecksumType", parts_checksum_type(page.checksum_algorithm, page.checksum_type)),
    ]
    return xml_stream(list_parts_pieces(fields, page.parts, ctx.owner))


def parts_checksum_type(algorithm: str | None, listed: str | None) -> str | None:
    """ListParts' ChecksumType: the upstream's, else S3's default for the algorithm (an
    upstream that does not report it, or an upload from before types were kept)."""
    if algorithm is None or listed is not None:
        return listed
    return multipart_checksum_type(algorithm, None)


async def list_multipart_uploads(ctx: RequestContext) -> S3Response:
    bucket = ctx.request.bucket
    assert bucket is not None
    query = ctx.request.query
    encode = url_encoding(ctx)
    key_marker = query.get("key-marker") or None
    id_marker = query.get("upload-id-marker") or None
    upstream_marker = None
    if key_marker is not None and id_marker is not None:  # S3 ignores an id marker alone
        payload = tokens.verify(
            ctx.secret, UPLOAD_TOKEN, (ctx.tenant, bucket, key_marker), id_marker
        )
        upstream_marker = payload.get("u") if payload is not None else None
        if not isinstance(upstream_marker, str):  # the bucket first (another's: granted?)
            invalid = S3Error(S3ErrorCode.InvalidArgument, "Invalid uploadId marker")
            raise await refused_after_bucket(ctx, invalid)
    list_query = ListQuery(
        prefix=query.get("prefix", ""),
        delimiter=query.get("delimiter") or None,
        start_after=key_marker,
        max_keys=bounded(ctx, "max-uploads", MAX_LISTED, MAX_LISTED),
    )
    async with expensive.held():  # the merge over shards (s3proxy.expensive)
        merged = await ctx.storage.uploads.list_uploads(bucket, list_query, upstream_marker)
    unrecorded: tuple[UploadChecksum | None, UploadMarks] = (None, UploadMarks())
    uploads = [
        dataclasses.replace(
            upload,
            upload_id=issue_upload_id(
                ctx,
                bucket,
                upload.key,
                upload.upload_id,
                *merged.recorded.get(upload.upload_id, unrecorded),
            ),
        )
        for upload in merged.uploads
    ]
    code = url_encode if encode else (lambda value: value)
    next_key = next_id = None
    if merged.next_marker is not None:
        next_key = merged.next_marker[0]
        if merged.next_marker[1] is not None:  # the page ended on this upload
            next_id = uploads[-1].upload_id
    fields = [
        ("Bucket", bucket),
        ("KeyMarker", code(key_marker or "")),
        ("UploadIdMarker", (id_marker if key_marker is not None else None) or ""),  # ignored
        ("NextKeyMarker", code(next_key) if next_key is not None else None),
        ("NextUploadIdMarker", next_id),
        ("Delimiter", code(list_query.delimiter) if list_query.delimiter else None),
        ("Prefix", code(list_query.prefix)),
        ("MaxUploads", str(list_query.max_keys)),
        ("IsTruncated", "true" if merged.next_marker is not None else "false"),
        ("EncodingType", "url" if encode else None),
    ]
    pieces = list_uploads_pieces(fields, uploads, merged.prefixes, encode=encode, owner=ctx.owner)
    return xml_stream(pieces)  # rendered as sent: ~6 MiB for long keys
