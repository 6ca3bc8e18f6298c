"""UploadPartCopy into an upload with a recorded checksum: the bytes pass through the proxy,
which computes the part's checksum of the upload's algorithm as S3 does.

Why: S3 gives a copied part a checksum like an uploaded one and shows it in CopyPartResult;
clients list it in CompleteMultipartUpload, and S3 (SeaweedFS 4.48 too) refuses a Complete of
such an upload that lists a part without it. An upstream's server-side copy tells the proxy
no checksum (SeaweedFS 4.48 and Ceph RGW 16 keep or list none), so a copied part came back
without one and the client's Complete was refused. Only uploads created with a checksum
algorithm on an S3 upstream (the UploadId says so) take this path; every other part copy is
unchanged. The local store computes a copied part's checksum itself.

The same summing serves a part uploaded without a checksum into a FULL_OBJECT upload, which S3
sums itself and answers in UploadPart (:mod:`s3proxy.part_algorithm`).

https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.part_copy import MAX_PART_SIZE, get_copy_source
from s3proxy.backends.upload_record_values import UploadChecksum
from s3proxy.checksums import Checksum, header_name, new_checksum
from s3proxy.copy_charge import charge_copy
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange, CopyObjectOutput, UploadPartCopyInput, UploadPartInput


async def summing(body: AsyncIterator[bytes], checksum: Checksum) -> AsyncIterator[bytes]:
    """``body`` as it passes, summed into ``checksum`` (a part S3 gives a checksum of its own:
    a copied one, or one uploaded without a checksum into a FULL_OBJECT upload)."""
    async for chunk in body:
        checksum.update(chunk)
        yield chunk


async def stored_part_checksum(
    storage: MappedStorage, part: UploadPartInput
) -> list[tuple[str, str]]:
    """The ``x-amz-checksum-<alg>`` header of a part the local store summed itself (sent
    without a checksum into a FULL_OBJECT upload), read back from its index; nothing on an S3
    upstream, whose UploadId says when the proxy sums a part (a request there would be paid
    by every part of every upload without a checksum)."""
    if getattr(storage.locate(part.bucket, part.key)[0], "records_upload_checksums", False):
        return []
    backend, location = await storage.existing(part.bucket, part.key)
    page = await backend.list_parts(
        location.bucket, location.key, part.upload_id, part.part_number - 1, 1
    )
    listed = [p for p in page.parts if p.part_number == part.part_number]
    sums = listed[0].checksums if listed else {}
    return [(header_name(algorithm), value) for algorithm, value in sums.items()]


async def copy_part_with_checksum(
    storage: MappedStorage,
    request: UploadPartCopyInput,
    recorded: UploadChecksum,
    source: MappedStorage | None = None,
) -> CopyObjectOutput:
    """The source range (client names) read through the storage (``source``: another tenant's
    that grants the caller READ, :mod:`s3proxy.granted_reads`), its
    ``x-amz-copy-source-if-*`` decided on the bytes read (:func:`get_copy_source`), streamed
    into UploadPart while summed; the part's checksum recorded for ListParts and Complete and
    answered in CopyPartResult."""
    byte_range = None
    if request.source_range is not None:
        first, last = request.source_range
        byte_range = ByteRange(start=first, end=last)
        await charge_copy(last - first + 1)  # to the tenant's byte rate: s3proxy.copy_charge
    got = await get_copy_source(
        source or storage,
        request.source_bucket,
        request.source_key,
        byte_range,
        request.source_conditions,
    )
    checksum = new_checksum(recorded.algorithm)
    try:
        await charge_copy(got.content_length, wait=False)  # range-less: its GET's size, no wait
        if request.source_range is not None and (
            got.content_range is None or got.content_range[1] != request.source_range[1]
        ):
            raise S3Error(S3ErrorCode.InvalidRange)  # the range must lie within the source
        if got.content_length > MAX_PART_SIZE:
            raise S3Error(S3ErrorCode.EntityTooLarge)
        part = UploadPartInput(
            bucket=request.bucket,
            key=request.key,
            upload_id=request.upload_id,
            part_number=request.part_number,
            body=summing(got.body, checksum),
            content_length=got.content_length,
            trailer_checksum=(header_name(recorded.algorithm), checksum.digest_b64),
            encryption=request.encryption,
        )
        etag = await storage.uploads.upload_part(part)
    finally:
        await got.aclose()
    value = checksum.digest_b64()
    await storage.uploads.record_part(part, recorded, etag, value)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return CopyObjectOutput(etag=etag, last_modified=now, checksums={recorded.algorithm: value})
