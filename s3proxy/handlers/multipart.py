"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListUploads.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html and the
neighbouring pages. Stateless: the UploadId a client sees is an HMAC token
(:mod:`s3proxy.tokens`) that carries the upstream's upload id — and the upload's checksum
algorithm and type when the proxy keeps checksum records for it
(:mod:`s3proxy.backends.upload_records`) — and binds it to (tenant, bucket, key). Any replica
sharing the server secret serves any call of any upload, so parts may arrive through different
replicas; a token presented for another tenant, bucket or key fails to verify and is
NoSuchUpload, like an unknown id. The token is deterministic, so CreateMultipartUpload
and ListMultipartUploads name one upload alike.

Part bodies are verified by the same code as PutObject (every signing, aws-chunked and checksum
mode; Content-MD5) and held back until verified, so a failed UploadPart leaves no part
upstream and the client may simply send it again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable
from typing import TypeVar

from s3proxy import early_answer, expensive, sse
from s3proxy.auth.payload import PayloadVerifier, parse_content_md5
from s3proxy.backends.s3_copy_learning import SCRATCH
from s3proxy.backends.upload_record_values import UploadChecksum, UploadMarks
from s3proxy.body import held_body, read_small_body
from s3proxy.checksums import (
    ALGORITHMS,
    HEADER_PREFIX,
    ChecksumVerifier,
    checksum_type_of,
    decode_value,
    header_name,
    multipart_checksum_type,
    new_checksum,
    requested_algorithm,
)
from s3proxy.complete_parse import SLICE_BYTES, parse_complete_request_stepped
from s3proxy.completion import check_checksum_type, object_size_of, requested_checksum_type
from s3proxy.copy_errors import naming_the_source
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.acl import public_object_acl
from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.multipart_listing import list_multipart_uploads as list_multipart_uploads
from s3proxy.handlers.multipart_listing import list_parts as list_parts
from s3proxy.handlers.multipart_listing import parts_checksum_type
from s3proxy.handlers.object_copy import copy_source, name_condition, source_conditions
from s3proxy.handlers.object_requests import (
    literal_sha256,
    request_attributes,
    request_body,
    strip_aws_chunked,
)
from s3proxy.handlers.part_copy_checksum import (
    copy_part_with_checksum,
    stored_part_checksum,
    summing,
)
from s3proxy.handlers.part_copy_range import range_past_source
from s3proxy.handlers.upload_ids import issue_upload_id, upload_of
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    Encryption,
    ReadConditions,
    UploadPartCopyInput,
    UploadPartInput,
)
from s3proxy.multipart_xml import (
    complete_result_xml,
    copy_part_result_xml,
    initiate_result_xml,
)
from s3proxy.part_algorithm import (
    check_listed_checksums,
    check_object_algorithm,
    check_part_algorithm,
    sums_missing_part,
)
from s3proxy.responses import S3Response, xml_response
from s3proxy.storage_classes import requested
from s3proxy.tagging import request_tags
from s3proxy.write_conditions import checked_write, name_write_condition, write_conditions

MAX_PART_NUMBER = 10000
MAX_COMPLETE_BODY = 4 * 1024 * 1024
"""10000 parts with SHA-256 checksums take ~2 MiB of XML."""
_COPY_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]+)")


def _target(ctx: RequestContext) -> tuple[str, str]:
    bucket, key = ctx.request.bucket, ctx.request.key
    assert bucket is not None and key is not None
    return bucket, key


async def _upload(ctx: RequestContext) -> tuple[str, UploadChecksum | None, UploadMarks, bool]:
    """The upstream id, records and SSE-S3 flag the client's UploadId names."""
    bucket, key = _target(ctx)
    return await upload_of(ctx, bucket, key, ctx.request.query.get("uploadId", ""))


def _sse_headers(encryption: Encryption | None, sse_s3: bool) -> list[tuple[str, str]]:
    """What S3 answers UploadPart, UploadPartCopy and Complete about encryption: the SSE-C key
    sent, or SSE-S3 for an upload created with it (its calls carry no encryption header)."""
    if sse_s3 and encryption is None:
        encryption = Encryption(algorithm=sse.SSE_S3)
    return sse.response_headers(encryption)


def _require_customer_key(marks: UploadMarks, encryption: Encryption | None) -> None:
    """An upload created with an SSE-C key takes parts only with one, as S3 refuses them —
    before any byte moves (SeaweedFS 4.48 would store the part in the clear)."""
    if marks.customer_key and (encryption is None or encryption.customer_key is None):
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "The multipart upload initiate requested encryption. Subsequent part requests "
            "must include the appropriate encryption parameters.",
        )


def part_number(value: str | None) -> int:
    """``partNumber``: 1 to 10000, else InvalidArgument."""
    number = (decimal(value) or 0) if value is not None else 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=value or "",
        )
    return number


async def create_multipart_upload(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    public = await public_object_acl(ctx)  # before anything else, as PutObject's
    header = ctx.request.header
    algorithm = header("x-amz-checksum-algorithm")
    if algorithm is not None:
        algorithm = requested_algorithm(algorithm)
    checksum_type = multipart_checksum_type(algorithm, header("x-amz-checksum-type"))
    encryption = sse.for_write(
        ctx.storage, bucket, key, ctx.request.header_map, secure=ctx.secure_transport
    )
    upstream_id, recorded, marks = await ctx.storage.uploads.create(
        CreateMultipartInput(
            bucket=bucket,
            key=key,
            attributes=strip_aws_chunked(request_attributes(ctx)),
            checksum_algorithm=algorithm,
            checksum_type=checksum_type,
            storage_class=requested(header("x-amz-storage-class")),
            tags=request_tags(header("x-amz-tagging")),
            encryption=encryption,
        ),
        public,
    )
    sse_s3 = encryption is not None and encryption.algorithm == sse.SSE_S3
    upload_id = issue_upload_id(ctx, bucket, key, upstream_id, recorded, marks, sse_s3)
    response = xml_response(initiate_result_xml(bucket, key, upload_id))
    if algorithm is not None:
        response.headers.append(("x-amz-checksum-algorithm", algorithm))
    if checksum_type is not None:
        response.headers.append(("x-amz-checksum-type", checksum_type))
    response.headers.extend(sse.response_headers(encryption))
    return response


async def upload_part(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    number = part_number(ctx.request.query.get("partNumber"))
    upstream_id, recorded, marks, sse_s3 = await _upload(ctx)
    content_md5 = ctx.request.header("content-md5")
    md5 = parse_content_md5(content_md5)
    checksum = ChecksumVerifier.from_headers(ctx.request.header_map)
    given = checksum.algorithm if checksum is not None else None
    if recorded is not None:  # (the local store checks its own)
        check_part_algorithm(recorded.algorithm, given, recorded.type)
    # Refuse a bad key before any byte moves.
    ctx.storage.locate(bucket, key)
    encryption = sse.for_part(
        ctx.storage, bucket, key, ctx.request.header_map, secure=ctx.secure_transport
    )
    _require_customer_key(marks, encryption)
    body, length = await request_body(ctx, md5, checksum)
    declared = trailer = None
    if checksum is not None and checksum.expected_b64 is not None:
        declared = (checksum.header, checksum.expected_b64)
    elif checksum is not None:  # the value arrives in the trailer, verified before the end
        trailer = (checksum.header, checksum.digest_b64)
    summed = None  # a FULL_OBJECT upload's part sent without a checksum: S3 sums it itself
    if recorded is not None and (algorithm := sums_missing_part(recorded.algorithm, given)):
        summed = new_checksum(algorithm)
        body = summing(body, summed)
        trailer = (header_name(algorithm), summed.digest_b64)
    part = UploadPartInput(
        bucket=bucket,
        key=key,
        upload_id=upstream_id,
        part_number=number,
        body=body,
        content_length=length,
        content_md5=content_md5,
        content_sha256=literal_sha256(ctx),
        checksum=declared,
        trailer_checksum=trailer,
        encryption=encryption,
    )
    etag = await ctx.storage.uploads.upload_part(part)
    if recorded is not None and checksum is not None and checksum.algorithm == recorded.algorithm:
        await ctx.storage.uploads.record_part(part, recorded, etag, checksum.digest_b64())
    elif recorded is not None and summed is not None:
        await ctx.storage.uploads.record_part(part, recorded, etag, summed.digest_b64())
    headers = [("ETag", etag), *_sse_headers(encryption, sse_s3)]
    if checksum is not None:
        headers.append((checksum.header, checksum.digest_b64()))
    elif summed is not None:
        headers.append((header_name(summed.algorithm), summed.digest_b64()))
    elif recorded is None:  # the local store sums such a part itself: answer what it stored
        headers.extend(await stored_part_checksum(ctx.storage, part))
    return S3Response(headers=headers)


def copy_source_range(value: str | None) -> tuple[int, int] | None:
    """``x-amz-copy-source-range: bytes=first-last`` (both required, inclusive)."""
    if value is None:
        return None
    match = _COPY_RANGE.fullmatch(value.strip())
    first, last = (decimal(match.group(1)), decimal(match.group(2))) if match else (None, None)
    if first is None or last is None or first > last:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
        )
    return first, last


async def upload_part_copy(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    number = part_number(ctx.request.query.get("partNumber"))
    upstream_id, recorded, marks, sse_s3 = await _upload(ctx)
    source_bucket, source_key = copy_source(ctx)
    header = ctx.request.header
    headers = ctx.request.header_map
    encryption = sse.for_part(ctx.storage, bucket, key, headers, secure=ctx.secure_transport)
    _require_customer_key(marks, encryption)
    read_source = source_conditions(ctx, source_bucket, source_key)
    request = UploadPartCopyInput(
        source_bucket=source_bucket,
        source_key=source_key,
        bucket=bucket,
        key=key,
        upload_id=upstream_id,
        part_number=number,
        source_range=copy_source_range(header("x-amz-copy-source-range")),
        source_conditions=read_source,
        encryption=encryption,
    )
    SCRATCH.set(ctx.storage.tenant.home)  # where a one-time part-copy probe may go
    answered = _sse_headers(encryption, sse_s3)
    early_answer.ready(answered)  # a long part copy's 200 may go out now
    try:
        with naming_the_source(source_key):  # the destination is an upload: NoSuchUpload
            if recorded is not None:  # an upload with a checksum on an S3 upstream: S3 gives one
                result = await copy_part_with_checksum(
                    ctx.storage, request, recorded, ctx.source_storage
                )
            else:
                result = await ctx.storage.uploads.upload_part_copy(request, ctx.source_storage)
    except S3Error as error:
        await name_condition(ctx, error, (source_bucket, source_key), read_source)
        if (answer := await range_past_source(ctx, request, error)) is not error:
            raise answer from error
        raise
    response = xml_response(
        copy_part_result_xml(result.etag, result.last_modified, result.checksums)
    )
    response.headers.extend(answered)
    return response


def check_parts(parts: list[CompletedPart]) -> None:
    """Ascending part numbers (InvalidPartOrder) and, where the client lists per-part
    checksums, one algorithm for every part — as S3 does for an upload created with one. The
    values themselves go upstream, which compares them with the parts it stored."""
    previous = 0
    for part in parts:
        if not 1 <= part.part_number <= MAX_PART_NUMBER:
            raise S3Error(
                S3ErrorCode.InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        if part.part_number <= previous:
            raise S3Error(S3ErrorCode.InvalidPartOrder)
        previous = part.part_number
    # The first part that lists a checksum sets the algorithm: a part without one is the part
    # named (a copied part whose checksum the client did not have), as S3 names it. Several on
    # one part are refused by the parse (s3proxy.multipart_xml.completed_part).
    names = next((tuple(part.checksums) for part in parts if part.checksums), ())
    for part in parts:
        if tuple(part.checksums) != names:
            raise S3Error(
                S3ErrorCode.InvalidRequest,
                "The complete request must include one checksum of the same type for each "
                f"part. It was missing or different for part {part.part_number}.",
            )


def _object_checksum(ctx: RequestContext) -> tuple[str, str] | None:
    """A whole-object ``x-amz-checksum-<alg>`` header on Complete, passed to the upstream.

    Checked here, so that a malformed one is S3's 400 InvalidRequest whatever the upstream
    makes of it: the base64 of the algorithm's digest, with ``-N`` (the part count) for a
    COMPOSITE checksum; one such header at most."""
    found = [
        (header_name(algorithm), algorithm, value)
        for algorithm in ALGORITHMS
        if (value := ctx.request.header(header_name(algorithm))) is not None
    ]
    if not found:
        return None
    if len(found) > 1:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    name, algorithm, value = found[0]
    digest, dash, count = value.strip().partition("-")
    if dash and not (count.isascii() and count.isdigit()):
        raise S3Error(S3ErrorCode.InvalidRequest, f"Value for {name} header is invalid.")
    decode_value(algorithm, digest)
    return name, value.strip()


async def _check_checksum_type(
    ctx: RequestContext,
    upstream_id: str,
    recorded: UploadChecksum | None,
    marks: UploadMarks,
    whole: tuple[str, str] | None = None,
) -> tuple[str, str] | None:
    """``x-amz-checksum-type`` on Complete: S3 checks it against the upload's type (the
    header is optional, and most clients do not send it); ``whole``, the whole-object checksum
    header, must be of the upload's algorithm (:func:`check_object_algorithm`: refused in an
    upload created without one), and is returned as the Complete is to carry it. The token
    names both where the proxy records checksums; otherwise the backend knows them (the
    local store keeps them), read with a one-part ListParts, a request paid only by a Complete
    that sends either header. An upload that is gone is left to Complete, which answers a retry of a
    finished one. Where neither knows (a tenant without a home, on an upstream that lists no
    upload checksum), an upload with a checksum and one without look alike: 501, not S3's
    answer for either."""
    declared = ctx.request.header("x-amz-checksum-type")
    if declared is None and whole is None:
        return None
    requested = requested_checksum_type(declared) if declared is not None else None
    given = whole[0].removeprefix(HEADER_PREFIX).upper() if whole is not None else None
    algorithm, kind = (recorded.algorithm, recorded.type) if recorded is not None else (None, None)
    if recorded is None:
        bucket, key = _target(ctx)
        try:
            page = await ctx.storage.uploads.list_parts(
                bucket, key, upstream_id, 0, 1, recorded, marks
            )
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchUpload:
                return whole
            raise
        algorithm = page.checksum_algorithm
        kind = parts_checksum_type(page.checksum_algorithm, page.checksum_type)
        if kind is None and ctx.storage.uploads.unrecorded_checksums(bucket, key):
            header = whole[0] if declared is None and whole is not None else "x-amz-checksum-type"
            raise S3Error(
                S3ErrorCode.NotImplemented,
                f"{header} on CompleteMultipartUpload needs the tenant's home on this "
                "storage, where the gateway records an upload's checksum algorithm and type.",
                Header=header,
            )
    if requested is not None:
        check_checksum_type(requested, kind)
    check_object_algorithm(algorithm, given)
    return whole


T = TypeVar("T")


async def _bucket_first(ctx: RequestContext, bucket: str, step: Awaitable[T]) -> T:
    """``step`` (the Complete body's parse and checks), whose refusal (MalformedXML,
    InvalidPartOrder …) comes after the bucket's, as on S3: a deleted bucket is NoSuchBucket
    (MalformedXML before wave 15). Only that error path pays the (cached) existence check."""
    try:
        return await step
    except S3Error:
        await ctx.storage.buckets.require(bucket)
        raise


async def _checked_parts(parts: list[CompletedPart]) -> list[CompletedPart]:
    check_parts(parts)
    return parts


async def complete_multipart_upload(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    upstream_id, recorded, marks, sse_s3 = await _upload(ctx)
    md5 = parse_content_md5(ctx.request.header("content-md5"))
    conditions = write_conditions(ctx.request.header)
    # A body over 1 MiB is read and parsed under the expensive slot (s3proxy.body.held_body).
    async with expensive.held_if(held_body(ctx.request, MAX_COMPLETE_BODY)):
        body = await read_small_body(ctx.receive, ctx.request, MAX_COMPLETE_BODY)
        verifier = PayloadVerifier(literal_sha256(ctx), md5)
        verifier.update(body)
        verifier.verify()
        async with expensive.held_if(len(body) > SLICE_BYTES):  # s3proxy.expensive
            parts = await _bucket_first(ctx, bucket, parse_complete_request_stepped(body))
        del body  # not held through the upstream's assembly
    # The local store checks its own; an upload recorded without one has no algorithm.
    if recorded is not None or ctx.storage.uploads.records_checksums(bucket, key):
        try:
            algorithm, kind = (recorded.algorithm, recorded.type) if recorded else (None, None)
            check_listed_checksums(algorithm, kind, parts)
        except S3Error:  # S3 finds the upload first: a gone one is NoSuchUpload (ListParts')
            await ctx.storage.uploads.list_parts(bucket, key, upstream_id, 0, 1, recorded, marks)
            raise
    await _bucket_first(ctx, bucket, _checked_parts(parts))
    whole = await _check_checksum_type(ctx, upstream_id, recorded, marks, _object_checksum(ctx))
    header = ctx.request.header
    complete = ctx.storage.uploads.complete(
        CompleteMultipartInput(
            bucket=bucket,
            key=key,
            upload_id=upstream_id,
            parts=parts,
            conditions=conditions,
            checksum=whole,
            encryption=sse.for_part(
                ctx.storage, bucket, key, ctx.request.header_map, secure=ctx.secure_transport
            ),
            object_size=object_size_of(header("x-amz-mp-object-size")),
        ),
        recorded,
        marks,
    )
    if conditions.if_match is not None:  # only then can a 412 mean "no such key"
        head = functools.partial(ctx.storage.head_object, bucket, key, ReadConditions())
        complete = checked_write(complete, conditions, head)
    answered = _sse_headers(None, sse_s3)
    early_answer.ready(answered)  # a long Complete's 200 may go out now
    try:
        result = await complete
    except S3Error as error:
        name_write_condition(error, conditions)
        raise
    scheme = "https" if ctx.server.tls_cert is not None else "http"
    location = f"{scheme}://{header('host') or ''}{ctx.request.raw_path}"
    sums = result.checksums
    kind = checksum_type_of(next(iter(sums.values()))) if sums else None
    response = xml_response(complete_result_xml(location, bucket, key, result.etag, sums, kind))
    response.headers.extend(answered)
    return response


async def abort_multipart_upload(ctx: RequestContext) -> S3Response:
    bucket, key = _target(ctx)
    await ctx.storage.uploads.abort(bucket, key, *(await _upload(ctx))[:3])
    return S3Response(status=204)
