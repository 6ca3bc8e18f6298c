"""Copies through the proxy: UploadPartCopy's source range read with GetObject and streamed
into UploadPart, for a copy between upstreams and for an upstream whose own part copies do not
give the part its MD5 ETag (split from :mod:`s3proxy.backends.mapped_multipart`, which
re-exports it, to keep that module small); and CopyObject's whole source streamed into
PutObject, between upstreams, where an upstream cannot copy as asked, and where S3 gives the
copy a checksum of its own (:mod:`s3proxy.backends.copy_checksum`), summed as the bytes pass.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

from s3proxy import copy_charge
from s3proxy.backends import upstream_errors
from s3proxy.backends.base import Backend
from s3proxy.backends.copy_checksum import CopyChecksum
from s3proxy.backends.s3_transport import BODY_ERRORS
from s3proxy.conditions import copy_source_failed, upstream_conditions
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    Body,
    ByteRange,
    CopyObjectInput,
    CopyObjectOutput,
    GetObjectOutput,
    PutObjectInput,
    ReadConditions,
    UploadPartCopyInput,
    UploadPartInput,
)

if TYPE_CHECKING:
    from s3proxy.checksums import Checksum

MAX_PART_SIZE = 5 * 1024**3
_CHANGED = "The copy source changed during the copy."


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
    got.body = _broken_off(got.body)
    return got


async def _broken_off(body: Body) -> Body:
    """A copy source's body; one that breaks off (a connection error, a body ended short) is
    503 ServiceUnavailable wherever its bytes were going. An upload to an upstream said so
    already; a checksum summed through first, or a local store's write, let the bare
    connection error through: an exception nobody caught, 500 and a traceback."""
    first = True
    try:
        async for chunk in body:
            if first:  # bytes pass through the gateway: a later refusal keeps the copy's charge
                copy_charge.moved()
                first = False
            yield chunk
    except BODY_ERRORS as exc:
        raise upstream_errors.unreachable() from exc


async def copy_part_through(
    source: Backend, target: Backend, request: UploadPartCopyInput
) -> CopyObjectOutput:
    """UploadPartCopy through the proxy: the source range streamed into UploadPart. Used across
    upstreams, and on an upstream whose own copies do not give a part its MD5 ETag
    (:meth:`~s3proxy.backends.s3_multipart.S3MultipartMixin.upload_part_copy`).

    Into a local-store upload created with a checksum algorithm, the part is summed in it as
    it passes (``copied_part_algorithm``), as that store sums a part it copies itself and as S3
    gives a copied part the upload's checksum: sent without one, the store refused it as a
    client's part (400 "Checksum Type mismatch"), so such a part copy from another upstream,
    or from a source granted by its object's ACL alone (wave 15), was never carried out. An
    S3 upstream's checksummed uploads are summed by the handler (``part_copy_checksum``)."""
    byte_range = None
    if request.source_range is not None:
        byte_range = ByteRange(start=request.source_range[0], end=request.source_range[1])
    summed_in = getattr(target, "copied_part_algorithm", None)
    algorithm = None
    if summed_in is not None:
        algorithm = await summed_in(request.bucket, request.key, request.upload_id)
    got = await get_copy_source(
        source, request.source_bucket, request.source_key, byte_range, request.source_conditions
    )
    checksum: Checksum | None = None
    trailer: tuple[str, Callable[[], str]] | None = None
    if algorithm is not None:
        from s3proxy.checksums import header_name, new_checksum  # awscrt: only when needed

        checksum = new_checksum(algorithm)
        got.body = _summed(got.body, checksum)
        trailer = (header_name(algorithm), checksum.digest_b64)
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
                trailer_checksum=trailer,
                encryption=request.encryption,
                quota=request.quota,
            )
        )
    finally:
        await got.aclose()
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sums = {} if checksum is None else {checksum.algorithm: checksum.digest_b64()}
    return CopyObjectOutput(etag=etag, last_modified=now, checksums=sums)


async def _summed(body: Body, checksum: Checksum) -> Body:
    """``body`` as it passes, summed into ``checksum``."""
    async for chunk in body:
        checksum.update(chunk)
        yield chunk


async def _matching(body: Body, checksum: Checksum, expected: str) -> Body:
    """``body``, summed as it passes, its last chunk held back until the sum is known and
    withheld (503) unless it is ``expected``, the checksum declared up front from the source's
    HEAD: a source overwritten since never reaches the upstream whole with the old checksum."""
    held = None
    async for chunk in body:
        checksum.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if checksum.digest_b64() != expected:
        raise S3Error(S3ErrorCode.ServiceUnavailable, _CHANGED)
    if held is not None:
        yield held


async def _sum_read(got: GetObjectOutput, algorithm: str) -> str:
    """The base64 ``algorithm`` sum of ``got``'s whole body, read through and closed."""
    from s3proxy.checksums import new_checksum  # awscrt: only when needed

    checksum = new_checksum(algorithm)
    try:
        async for chunk in got.body:
            checksum.update(chunk)
    finally:
        await got.aclose()
    return checksum.digest_b64()


async def _keeps_trailer(target: Backend, bucket: str, length: int) -> bool:
    """Whether ``target`` keeps a checksum known only after the body (a PUT's
    ``trailer_checksum``) as well as one sent before it: the local store always, an S3
    upstream for small bodies and where aws-chunked trailers reach it (:mod:`.upstream_chunked`),
    and Ceph RGW 16, which keeps neither (README): reading the source twice gains nothing there."""
    keeps = getattr(target, "keeps_trailer_checksum", None)
    if keeps is None:
        return False
    return bool(await keeps(bucket, length)) or getattr(target, "ceph_rgw", None) is True


async def copy_object_through(
    source: Backend, target: Backend, request: CopyObjectInput, sums: CopyChecksum | None = None
) -> CopyObjectOutput:
    """CopyObject through the proxy: the source (its ``x-amz-copy-source-if-*`` decided on the
    bytes read) streamed into PutObject, with the copy's checksum (``sums``,
    :mod:`.copy_checksum`), answered in the output.

    Where the target keeps a checksum sent after the body, the bytes are read once and summed
    as they pass, and that sum goes as the PUT's trailer checksum: the checksum stored is the
    one of the bytes stored, whatever happened to the source since its HEAD. Elsewhere (an
    upstream that takes a checksum only up front) a kept checksum is declared as the HEAD
    reported it, the bytes summed as they pass and their last chunk withheld unless they match
    it; a new one is summed over a first read, the copy then read again pinned to the ETag
    summed (If-Match). A source overwritten in between is 503 there, nothing stored."""
    from s3proxy.checksums import header_name, new_checksum  # awscrt: only when needed

    sums = sums or CopyChecksum()
    algorithm = sums.summed or next(iter(sums.kept), None)
    got = await get_copy_source(
        source, request.source_bucket, request.source_key, None, request.source_conditions
    )
    try:
        keeps = algorithm is not None and await _keeps_trailer(
            target, request.bucket, got.content_length
        )
    except BaseException:
        await got.aclose()
        raise
    declared: tuple[str, str] | None = None
    trailer: tuple[str, Callable[[], str]] | None = None
    if keeps and algorithm is not None:
        checksum = new_checksum(algorithm)
        got.body = _summed(got.body, checksum)
        trailer = (header_name(algorithm), checksum.digest_b64)
    elif sums.summed is not None:
        declared = (sums.summed, await _sum_read(got, sums.summed))
        got = await _read_again(source, request, got.info.etag)
    elif algorithm is not None:
        declared = (algorithm, sums.kept[algorithm])
        got.body = _matching(got.body, new_checksum(algorithm), declared[1])
    try:
        attributes = request.attributes if request.replace_metadata else got.info.attributes
        tags = request.tags
        if tags is None:  # COPY: the source's tags, fetched only when it has some
            tags = ()
            if got.info.tag_count:
                tags = await source.get_object_tagging(request.source_bucket, request.source_key)
                await _still_read(source, request, got.info.etag)
        result = await target.put_object(
            PutObjectInput(
                bucket=request.bucket,
                key=request.key,
                body=got.body,
                content_length=got.content_length,
                attributes=attributes,
                conditions=request.conditions,
                quota=request.quota,
                storage_class=request.storage_class,
                tags=tags,
                encryption=request.encryption,
                checksum=None if declared is None else (header_name(declared[0]), declared[1]),
                trailer_checksum=trailer,
            )
        )
    finally:
        await got.aclose()
    if trailer is not None:
        declared = (checksum.algorithm, checksum.digest_b64())
    key = request.encryption.customer_key if request.encryption else None
    info = await target.head_object(request.bucket, request.key, ReadConditions(customer_key=key))
    modified = parsedate_to_datetime(info.last_modified).astimezone(UTC)
    return CopyObjectOutput(
        etag=result.etag,
        last_modified=modified.isoformat(timespec="milliseconds")[:23] + "Z",
        checksums={} if declared is None else {declared[0]: declared[1]},
    )


async def _still_read(source: Backend, request: CopyObjectInput, etag: str) -> None:
    """Return when the source is still the ``etag`` being copied (a HEAD pinned to it), so
    the tags just read are that object's: a source overwritten between its GET and the tags'
    read gave the copy its bytes and the overwrite's tags, answered 200. Now 503, nothing
    stored, as :func:`_read_again` answers a source that changed (S3 would copy either)."""
    conditions = ReadConditions(if_match=etag, customer_key=request.source_conditions.customer_key)
    try:
        await source.head_object(request.source_bucket, request.source_key, conditions)
    except S3Error as error:
        if error.code not in (S3ErrorCode.PreconditionFailed, S3ErrorCode.NoSuchKey):
            raise
        raise S3Error(S3ErrorCode.ServiceUnavailable, _CHANGED) from None


async def _read_again(source: Backend, request: CopyObjectInput, etag: str) -> GetObjectOutput:
    """The copy source read a second time, pinned to the ``etag`` of the first read (whose
    bytes were summed): one overwritten between the two is 503, S3 having copied either."""
    conditions = ReadConditions(if_match=etag, customer_key=request.source_conditions.customer_key)
    try:
        return await get_copy_source(
            source, request.source_bucket, request.source_key, None, conditions
        )
    except S3Error as error:
        if error.code is not S3ErrorCode.PreconditionFailed:
            raise
        raise S3Error(S3ErrorCode.ServiceUnavailable, _CHANGED) from None
