"""Multipart uploads in the local store: parts are blobs, a completed upload is a manifest.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html and the
neighbouring pages. Each part is stored like a PutObject body (deduplicated, refcounted);
CompleteMultipartUpload copies no byte: it checks the part list as S3 does (InvalidPart,
InvalidPartOrder, EntityTooSmall for any part but the last under 5 MiB) and commits the object
as the ordered list of its part blobs, in the same transaction that removes the upload (an
upload of more than 1,000 parts is checked in read-only steps first: :mod:`.complete_steps`).
ETag: S3's MD5 of the parts' binary MD5s, ``-N``; a checksum algorithm chosen at creation
gives the object S3's checksum of that type (:mod:`.combined`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from s3proxy import quotas
from s3proxy.backends.local.blobs import WrittenBlob, crash_point, read_segments
from s3proxy.backends.local.combined import check_declared, object_checksum
from s3proxy.backends.local.complete_steps import CHECK_STEP, CompleteSteps
from s3proxy.backends.local.conditions import check_read, check_write, iso_date
from s3proxy.backends.local.core import (
    declared_checksums,
    now_ms,
    stored_attributes,
)
from s3proxy.backends.local.index import (
    ObjectRecord,
    StoredPart,
    UploadRecord,
    key_bytes,
    key_text,
    successor,
)
from s3proxy.copy_charge import moved
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CompleteMultipartOutput,
    CopyObjectOutput,
    CreateMultipartInput,
    PartInfo,
    PartsPage,
    ReadConditions,
    UploadInfo,
    UploadPartCopyInput,
    UploadPartInput,
    UploadsPage,
)
from s3proxy.part_algorithm import (
    check_listed_checksums,
    check_part_algorithm,
    sums_missing_part,
)

if TYPE_CHECKING:
    from s3proxy.checksums import Checksum

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3


def _bare(etag: str) -> str:
    return etag.strip().strip('"')


class LocalMultipart(CompleteSteps):
    """The multipart half of :class:`~s3proxy.backends.local.store.LocalStore`."""

    checks_complete_conditions = True
    """A Complete's If-Match / If-None-Match are checked in the commit's transaction."""

    async def create_multipart_upload(self, request: CreateMultipartInput) -> str:
        headers, metadata = stored_attributes(request.attributes)
        upload = UploadRecord(
            upload_id=secrets.token_urlsafe(24),
            bucket=request.bucket,
            key=request.key,
            initiated_ms=now_ms(),
            headers=headers,
            metadata=metadata,
            checksum_algorithm=request.checksum_algorithm,
            checksum_type=request.checksum_type,
            storage_class=request.storage_class,
            tags=request.tags,
        )
        await self._room()
        await self._run(self.index.create_upload, upload)
        return upload.upload_id

    def _upload(self, upload_id: str, bucket: str, key: str) -> UploadRecord:
        upload = self.index.find_upload(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        return upload

    async def upload_part(self, request: UploadPartInput) -> str:
        # Refuse an unknown upload before reading the body; checked again at commit (abort).
        upload = await self._run(self._upload, request.upload_id, request.bucket, request.key)
        given = request.checksum or request.trailer_checksum
        algorithm = given[0].lower().removeprefix("x-amz-checksum-") if given else None
        check_part_algorithm(upload.checksum_algorithm, algorithm, upload.checksum_type)
        # A FULL_OBJECT upload's part sent without a checksum: summed here, as S3 sums it.
        summed = sums_missing_part(upload.checksum_algorithm, algorithm)
        summing = _Summing(summed)
        body = summing.chunks(request.body) if summed else request.body
        blob = await self._write_blob(body, "part")
        # A checksum sent into an upload created without an algorithm is verified and answered,
        # but S3 keeps none for the part (ListParts names none; Complete listing one is
        # InvalidPart), as SeaweedFS and Ceph RGW do: it is not kept here either.
        kept = declared_checksums(request.checksum, request.trailer_checksum)
        part = StoredPart(
            sha256=blob.sha256,
            size=blob.size,
            checksums=(kept if upload.checksum_algorithm else {}) or summing.result(),
            etag=f'"{blob.md5}"',
            modified_ms=now_ms(),
        )
        await self._run(
            self._commit_part, request.upload_id, request, part, blob,
            never_ran=lambda: self.files.discard(blob),
        )  # fmt: skip
        return part.etag

    def _commit_part(
        self,
        upload_id: str,
        request: UploadPartInput | UploadPartCopyInput,
        part: StoredPart,
        blob: WrittenBlob,
    ) -> None:
        try:
            with self.index.transaction():
                self._upload(upload_id, request.bucket, request.key)
                if request.quota:  # a part counts from now on (s3proxy.quotas)
                    change = self._part_change(upload_id, request.part_number, part.size)
                    self._check_change(request.quota, request.bucket, request.key, change)
                self._install_or_discard(blob, "part")
                freed = self.index.put_part(upload_id, request.part_number, part)
        except BaseException:
            self._forget_unused(blob)
            raise
        self._free(freed, "part")

    async def copied_part_algorithm(self, bucket: str, key: str, upload_id: str) -> str | None:
        """The checksum algorithm of a part copied into this upload through the proxy (from
        another upstream, or a source read pinned: :mod:`s3proxy.pinned_source`): the
        upload's, as :meth:`upload_part_copy` sums a part it copies itself (S3 gives a copied
        part the upload's checksum); None when the upload has none. Unknown: NoSuchUpload."""
        upload = await self._run(self._upload, upload_id, bucket, key)
        return upload.checksum_algorithm

    async def upload_part_copy(self, request: UploadPartCopyInput) -> CopyObjectOutput:
        """A range of an object of this store streamed into a new part blob."""
        upload = await self._run(self._upload, request.upload_id, request.bucket, request.key)
        source = await self._run(
            self._copy_source,
            request.source_bucket,
            request.source_key,
            request.source_conditions,
            abandoned=self._unpin_record,
        )
        pinned = [part.sha256 for part in source.segments]
        try:
            first, last = 0, source.size - 1
            if request.source_range is not None:
                first, last = request.source_range
                if last >= source.size:
                    raise S3Error(S3ErrorCode.InvalidRange)
            if last - first + 1 > MAX_PART_SIZE:
                raise S3Error(S3ErrorCode.EntityTooLarge)
            moved()  # read from here on: a refusal at the commit keeps the copy's charge
            body = read_segments(self.files, source.blob_segments(), first, last)
            summing = _Summing(upload.checksum_algorithm)
            try:
                blob = await self._write_blob(summing.chunks(body), "part")
            finally:
                await body.aclose()
        finally:
            await self._unpin(pinned)
        part = StoredPart(blob.sha256, blob.size, summing.result(), f'"{blob.md5}"', now_ms())
        await self._run(
            self._commit_part, request.upload_id, request, part, blob,
            never_ran=lambda: self.files.discard(blob),
        )  # fmt: skip
        return CopyObjectOutput(
            etag=part.etag, last_modified=iso_date(part.modified_ms), checksums=part.checksums
        )

    def _copy_source(self, bucket: str, key: str, conditions: ReadConditions) -> ObjectRecord:
        record = self.index.find_object(bucket, key)
        if record is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        try:
            check_read(conditions, record.etag, record.modified_ms)
        except S3Error as error:  # a copy source's If-None-Match failing is 412, not 304
            raise S3Error(S3ErrorCode.PreconditionFailed) from error
        self._pin(part.sha256 for part in record.segments)
        return record

    async def complete_multipart_upload(
        self, request: CompleteMultipartInput
    ) -> CompleteMultipartOutput:
        await self._room()
        record = await self._run(self._commit_complete, request, now_ms(), False)
        if record is None:  # a large upload: checked in steps before the commit (.complete_steps)
            await self._check_in_steps(request)
            record = await self._run(self._commit_complete, request, now_ms(), True)
        assert record is not None  # checked: the commit job never defers
        return CompleteMultipartOutput(etag=record.etag, checksums=dict(record.checksums))

    def _commit_complete(
        self, request: CompleteMultipartInput, modified_ms: int, checked: bool
    ) -> ObjectRecord | None:
        """The Complete as one transaction; None, and nothing done, for an upload of more than
        ``CHECK_STEP`` parts not yet ``checked`` in steps (:mod:`.complete_steps`)."""
        with self.index.transaction():
            upload = self._upload(request.upload_id, request.bucket, request.key)
            if not checked and self._part_count(request.upload_id) > CHECK_STEP:
                return None
            stored = dict(self.index.parts(request.upload_id))
            record = self._complete_record(request, modified_ms, upload, stored)
            freed = self.index.put_object(record)
            freed += self.index.delete_upload(request.upload_id)
            crash_point("complete", "before-commit")
        crash_point("complete", "after-commit")
        self._free(freed, "complete")
        return record

    def _complete_record(
        self,
        request: CompleteMultipartInput,
        modified_ms: int,
        upload: UploadRecord,
        stored: dict[int, StoredPart],
    ) -> ObjectRecord:
        """The object a Complete commits, or S3's refusal, from the upload's stored parts."""
        check_listed_checksums(upload.checksum_algorithm, upload.checksum_type, request.parts)
        chosen = _chosen_parts(stored, request.parts)
        current = self.index.find_object(request.bucket, request.key, with_segments=False)
        check_write(request.conditions, current.etag if current else None)
        digests = b"".join(bytes.fromhex(_bare(part.etag)) for part in chosen)
        checksums: dict[str, str] = {}
        algorithm = upload.checksum_algorithm
        if algorithm is not None:
            combined = object_checksum(algorithm, upload.checksum_type, chosen)
            if combined is not None:
                checksums[algorithm] = combined
        check_declared(request.checksum, checksums)
        record = ObjectRecord(
            bucket=request.bucket,
            key=request.key,
            size=sum(part.size for part in chosen),
            etag=f'"{hashlib.md5(digests).hexdigest()}-{len(chosen)}"',
            modified_ms=modified_ms,
            parts_count=len(chosen),
            headers=upload.headers,
            metadata=upload.metadata,
            checksums=checksums,
            segments=[
                StoredPart(part.sha256, part.size, part.checksums, part_number=item.part_number)
                for part, item in zip(chosen, request.parts, strict=True)
            ],
            storage_class=upload.storage_class,
            tags=upload.tags,
        )
        if request.quota:  # the parts' bytes become the object's: every part is freed
            held = sum(part.size for part in stored.values())
            change = quotas.completed(current.size if current else None, record.size, held)
            self._check_change(request.quota, record.bucket, record.key, change)
        return record

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self._run(self._freeing, self._commit_abort, bucket, key, upload_id)

    def _commit_abort(self, bucket: str, key: str, upload_id: str) -> None:
        with self.index.transaction():
            self._upload(upload_id, bucket, key)
            freed = self.index.delete_upload(upload_id)
        self._free(freed, "abort")

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int, max_parts: int
    ) -> PartsPage:
        return await self._run(
            self._list_parts, bucket, key, upload_id, part_number_marker, max_parts
        )

    def _list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        self.index.db.execute("BEGIN")
        try:
            upload = self._upload(upload_id, bucket, key)
            rows = self.index.parts(upload_id, marker, max(max_parts, 0) + 1)
        finally:
            self.index.db.execute("COMMIT")
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        kept = upload.checksum_algorithm  # parts stored before wave 16 kept any (upload_part)
        parts = [
            PartInfo(
                number,
                part.etag,
                part.size,
                iso_date(part.modified_ms),
                {name: value for name, value in part.checksums.items() if name == kept},
            )
            for number, part in rows
        ]
        next_marker = rows[-1][0] if truncated and rows else None
        return PartsPage(
            parts,
            next_marker,
            storage_class=upload.storage_class,
            checksum_algorithm=upload.checksum_algorithm,
            checksum_type=upload.checksum_type,
        )

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        """Uploads under ``prefix`` sorted by key, then initiation time (as S3 lists them)."""
        if max_uploads <= 0:
            return UploadsPage([], [], None)
        return await self._run(
            self._list_uploads, bucket, prefix, delimiter, key_marker, upload_id_marker,
            max_uploads,
        )  # fmt: skip

    def _list_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        low_prefix = key_bytes(prefix)
        split = key_bytes(delimiter) if delimiter else b""
        upper = successor(low_prefix) if low_prefix else None
        uploads: list[UploadInfo] = []
        prefixes: list[str] = []
        last: tuple[str, str] | None = None
        self.index.db.execute("BEGIN")  # one snapshot for the whole page
        try:
            cursor = self._uploads_cursor(bucket, prefix, delimiter, key_marker, upload_id_marker)
            if cursor is None:
                return UploadsPage([], [], None)
            while len(uploads) + len(prefixes) < max_uploads:
                wanted = max_uploads - len(uploads) - len(prefixes)
                rows = self.index.uploads_after(bucket, cursor, upper, wanted)
                for raw, upload_id, initiated_ms, storage_class, algorithm, kind in rows:
                    cut = raw.find(split, len(low_prefix)) if split else -1
                    if cut >= 0:
                        common = raw[: cut + len(split)]
                        prefixes.append(key_text(common))
                        last = (key_text(common), "")
                        following = successor(common)
                        if following is None:
                            return UploadsPage(uploads, prefixes, None)
                        cursor = (following, -1, "")
                        break
                    listed = (key_text(raw), upload_id, iso_date(initiated_ms), storage_class)
                    uploads.append(UploadInfo(*listed, algorithm, kind))
                    last = (key_text(raw), upload_id)
                    cursor = (raw, initiated_ms, upload_id)
                else:
                    if len(rows) < wanted:
                        return UploadsPage(uploads, prefixes, None)
            more = bool(self.index.uploads_after(bucket, cursor, upper, 1))
        finally:
            self.index.db.execute("COMMIT")
        return UploadsPage(uploads, prefixes, last if more else None)

    def _uploads_cursor(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
    ) -> tuple[bytes, int, str] | None:
        """Where a ListMultipartUploads page starts: after the key marker (all its uploads,
        or those after the upload-id marker, or all of them if that upload is gone; past
        everything under it if the marker is a common prefix). None: nothing can follow."""
        if not key_marker or key_bytes(key_marker) < key_bytes(prefix):
            return key_bytes(prefix), -1, ""
        marker = key_bytes(key_marker)
        rest = key_marker[len(prefix) :] if key_marker.startswith(prefix) else ""
        if delimiter and rest.endswith(delimiter) and rest.count(delimiter) == 1:
            following = successor(marker)
            return None if following is None else (following, -1, "")
        if not upload_id_marker:
            return marker, 2**62, ""
        upload = self.index.find_upload(upload_id_marker)
        if upload is not None and upload.bucket == bucket and upload.key == key_marker:
            return marker, upload.initiated_ms, upload.upload_id
        return marker, -1, ""  # gone since: its key's remaining uploads (.upload_order)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        low_prefix = key_bytes(prefix)
        upper = successor(low_prefix) if low_prefix else None
        return await self._run(self.index.has_uploads, bucket, low_prefix, upper)


class _Summing:
    """The upload's checksum over a copied part's bytes as they pass: S3 gives a part made by
    UploadPartCopy a checksum like an uploaded one, so Complete can combine them all."""

    def __init__(self, algorithm: str | None) -> None:
        self._checksum: Checksum | None = None
        if algorithm is not None:
            from s3proxy.checksums import new_checksum  # awscrt: only when needed

            self._checksum = new_checksum(algorithm)

    async def chunks(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in body:
            if self._checksum is not None:
                await asyncio.to_thread(self._checksum.update, chunk)
            yield chunk

    def result(self) -> dict[str, str]:
        if self._checksum is None:
            return {}
        return {self._checksum.algorithm: self._checksum.digest_b64()}


def _chosen_parts(stored: dict[int, StoredPart], listed: list[CompletedPart]) -> list[StoredPart]:
    """The stored parts a Complete request names, checked as S3 checks them."""
    if not listed:
        raise S3Error(S3ErrorCode.MalformedXML)
    chosen: list[StoredPart] = []
    previous = 0
    for item in listed:
        if item.part_number <= previous:
            raise S3Error(S3ErrorCode.InvalidPartOrder)
        previous = item.part_number
        part = stored.get(item.part_number)
        if part is None or _bare(part.etag) != _bare(item.etag):
            raise S3Error(S3ErrorCode.InvalidPart, PartNumber=str(item.part_number))
        for algorithm, value in item.checksums.items():
            known = part.checksums.get(algorithm)
            if known is not None and known != value:
                raise S3Error(S3ErrorCode.InvalidPart, PartNumber=str(item.part_number))
        chosen.append(part)
    for number, part in zip(listed[:-1], chosen[:-1], strict=True):
        if part.size < MIN_PART_SIZE:
            raise S3Error(
                S3ErrorCode.EntityTooSmall,
                ProposedSize=str(part.size),
                MinSizeAllowed=str(MIN_PART_SIZE),
                PartNumber=str(number.part_number),
                ETag=part.etag,
            )
    return chosen
