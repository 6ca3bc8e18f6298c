"""UploadPartCopy through the proxy: the source range read with GetObject and streamed into
UploadPart, for a copy between upstreams and for an upstream whose own part copies do not give
the part its MD5 ETag. Split from :mod:`s3proxy.backends.mapped_multipart` (which re-exports
it) to keep that module small.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from s3proxy.backends.base import Backend
from s3proxy.conditions import copy_source_failed, upstream_conditions
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    ByteRange,
    CopyObjectOutput,
    GetObjectOutput,
    ReadConditions,
    UploadPartCopyInput,
    UploadPartInput,
)

MAX_PART_SIZE = 5 * 1024**3


class CopySource(Protocol):
    """What a copy source is read from: a backend (upstream names) or the mapped storage
    (client names, :mod:`s3proxy.handlers.part_copy_checksum`)."""

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput: ...


async def get_copy_source(
    source: CopySource,
    bucket: str,
    key: str,
    byte_range: ByteRange | None,
    conditions: ReadConditions,
) -> GetObjectOutput:
    """The copy source read for a copy through the proxy, its ``x-amz-copy-source-if-*``
    decided on the ETag of the bytes read (an upstream may ignore one: Ceph RGW 16 answers
    412 to an If-Match of ``*`` or a list, so those are decided here only): a source that was
    overwritten after the client read its ETag is 412, never copied. A copy has no 304."""
    try:
        got = await source.get_object(bucket, key, byte_range, upstream_conditions(conditions))
    except S3Error as error:
        if error.code is S3ErrorCode.NotModified:
            raise S3Error(S3ErrorCode.PreconditionFailed) from None
        raise
    if copy_source_failed(conditions, got.info.etag, got.info.last_modified):
        await got.aclose()
        raise S3Error(S3ErrorCode.PreconditionFailed)
    return got


async def copy_part_through(
    source: Backend, target: Backend, request: UploadPartCopyInput
) -> CopyObjectOutput:
    """UploadPartCopy through the proxy: the source range streamed into UploadPart. Used across
    upstreams, and on an upstream whose own copies do not give a part its MD5 ETag
    (:meth:`~s3proxy.backends.s3_multipart.S3MultipartMixin.upload_part_copy`)."""
    byte_range = None
    if request.source_range is not None:
        byte_range = ByteRange(start=request.source_range[0], end=request.source_range[1])
    got = await get_copy_source(
        source, request.source_bucket, request.source_key, byte_range, request.source_conditions
    )
    try:
        if request.source_range is not None and (
            got.content_range is None or got.content_range[1] != request.source_range[1]
        ):
            raise S3Error(S3ErrorCode.InvalidRange)  # the range must lie within the source
        if got.content_length > MAX_PART_SIZE:
            raise S3Error(S3ErrorCode.EntityTooLarge)
        etag = await target.upload_part(
            UploadPartInput(
                bucket=request.bucket,
                key=request.key,
                upload_id=request.upload_id,
                part_number=request.part_number,
                body=got.body,
                content_length=got.content_length,
                encryption=request.encryption,
            )
        )
    finally:
        await got.aclose()
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return CopyObjectOutput(etag=etag, last_modified=now)
