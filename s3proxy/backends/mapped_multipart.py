"""A tenant's multipart uploads: client (bucket, key) in, upstream location applied, backend called.

The multipart counterpart of :class:`~s3proxy.backends.mapped.MappedStorage` (reached as
``storage.uploads``), split out to keep both modules small. Upload ids here are the upstream's;
the opaque tokens clients see are the handlers' business. Every call maps the key afresh, so any
replica can serve any part of any upload: nothing about an upload is kept in the process.
Complete is :mod:`.mapped_completion`'s; what both share (storage, backends, records) is
:mod:`.mapped_uploads_base`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

from s3proxy import sse
from s3proxy.backends.bound_copy import bound_part_copy
from s3proxy.backends.bucket_race import kept_or_undone
from s3proxy.backends.mapped_completion import MappedCompletion
from s3proxy.backends.mapped_uploads_base import LIST_PARTS_PAGE
from s3proxy.backends.part_copy import copy_part_through as copy_part_through
from s3proxy.backends.part_quotas import aborted, copied_size, stored_part
from s3proxy.backends.recorded_completion import part_with
from s3proxy.backends.upload_listing import MergedUploads, sweep_stale, upload_with, whole_bucket
from s3proxy.backends.upload_merge import merged_uploads
from s3proxy.backends.upload_record_values import UploadChecksum, UploadMarks
from s3proxy.backends.upload_records import refuse_unrecorded
from s3proxy.completion import latest_parts
from s3proxy.copy_charge import charge_copy, charging, handed_over
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import absent_if_unstorable
from s3proxy.listing import ListQuery
from s3proxy.model import (
    STANDARD,
    CopyObjectOutput,
    CreateMultipartInput,
    PartsPage,
    UploadInfo,
    UploadPartCopyInput,
    UploadPartInput,
)

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage


class MappedUploads(MappedCompletion):
    """A tenant's multipart calls; Complete in :class:`.mapped_completion.MappedCompletion`."""

    async def create(
        self, request: CreateMultipartInput, acl: str | None = None
    ) -> tuple[str, UploadChecksum | None, UploadMarks]:
        """The upstream upload id, the checksum recorded for it (None: no records) and the
        other records it has (:class:`~.upload_records.UploadMarks`): tags, kept to be set at
        Complete, the use of an SSE-C key, which every part must then carry, and a storage
        class other than STANDARD, which ListParts must name (SeaweedFS 4.48 names none), SSE-S3,
        which the UploadId ListMultipartUploads issues must say; a public ``acl``, whose object
        record Complete writes (on every lane)."""
        looked_at = self._storage.buckets.cache.current()  # a DeleteBucket meanwhile
        backend, location = await self._existing(request.bucket, request.key)
        records = self._records(backend)
        if records is None and getattr(backend, "records_upload_checksums", False):
            refuse_unrecorded(request)
        upstream_class = await self._storage.classes.upstream_class(
            request.bucket, request.key, backend, request.storage_class
        )  # a class the proxy keeps: its mark below, the record at Complete
        upstream = dataclasses.replace(
            request, bucket=location.bucket, key=location.key, storage_class=upstream_class
        )
        upload_id = await backend.create_multipart_upload(upstream)

        async def abort() -> None:
            await backend.abort_multipart_upload(location.bucket, location.key, upload_id)

        await kept_or_undone(self._storage.buckets, request.bucket, looked_at, abort)
        if records is None and acl is not None:  # the local store keeps the rest itself
            records = self._home_records()
            request = dataclasses.replace(
                request, tags=(), encryption=None, storage_class=STANDARD, checksum_algorithm=None
            )
        if records is None:  # (the handlers refuse a public ACL without a home)
            return upload_id, None, UploadMarks()
        checksum = None
        if request.checksum_algorithm is not None and request.checksum_type:
            checksum = UploadChecksum(request.checksum_algorithm, request.checksum_type)
        encryption = request.encryption
        customer = encryption is not None and encryption.customer_key is not None
        sse_s3 = encryption is not None and encryption.algorithm == sse.SSE_S3
        try:
            if checksum is not None:
                await records.create(request.bucket, request.key, upload_id, checksum)
            marks = UploadMarks()
            if request.tags or customer or sse_s3 or request.storage_class != STANDARD or acl:
                marks = await records.create_marks(
                    request.bucket,
                    request.key,
                    upload_id,
                    request.tags,
                    customer,
                    request.storage_class,
                    acl,
                    sse_s3,
                )
        except BaseException:
            with contextlib.suppress(S3Error):
                await backend.abort_multipart_upload(location.bucket, location.key, upload_id)
            raise
        return upload_id, checksum, marks

    async def record_part(
        self,
        request: UploadPartInput,
        checksum: UploadChecksum,
        etag: str,
        value_b64: str,
    ) -> None:
        """Record a stored part's verified checksum, for ListParts and Complete."""
        backend, _ = self._storage.locate(request.bucket, request.key)
        records = self._records(backend)
        if records is not None:
            await records.add_part(
                request.bucket,
                request.key,
                request.upload_id,
                checksum,
                request.part_number,
                etag,
                value_b64,
            )

    async def upload_part(self, request: UploadPartInput) -> str:
        """Checked against the tenant's quotas before its body moves (:mod:`.part_quotas`)."""
        backend, location = await self._existing(request.bucket, request.key)
        scopes = self._storage.quota_scopes(request.bucket)
        upstream = dataclasses.replace(
            request, bucket=location.bucket, key=location.key, quota=scopes
        )
        return await stored_part(
            self._storage, scopes, backend, location, request.upload_id,
            request.part_number, request.content_length, lambda: backend.upload_part(upstream),
        )  # fmt: skip

    async def upload_part_copy(
        self, request: UploadPartCopyInput, source_storage: MappedStorage | None = None
    ) -> CopyObjectOutput:
        """Server-side when source and upload share an upstream, else streamed through here.
        ``source_storage``: another tenant's, whose bucket grants the caller READ
        (:mod:`s3proxy.granted_reads`)."""
        with absent_if_unstorable(request.source_key):  # never stored: NoSuchKey
            source_backend, source = await (source_storage or self._storage).existing(
                request.source_bucket, request.source_key
            )
        backend, target = await self._existing(request.bucket, request.key)
        scopes = self._storage.quota_scopes(request.bucket)
        upstream = dataclasses.replace(
            request,
            source_bucket=source.bucket,
            source_key=source.key,
            bucket=target.bucket,
            key=target.key,
            quota=scopes,
        )

        async def copy(sent: UploadPartCopyInput = upstream) -> CopyObjectOutput:
            if source.upstream == target.upstream:  # its refusals may come after the work
                return await handed_over(backend.upload_part_copy(sent))
            return await handed_over(copy_part_through(source_backend, backend, sent))

        usage = self._storage.usage_book(scopes, backend) if scopes else None
        if usage is not None and request.source_range is None:  # bound to its source's HEAD
            key = request.source_key  # (charged to the tenant's byte rate there)
            return await bound_part_copy(source_backend, source, key, upstream, usage, target, copy)
        size = None  # charged to the tenant's byte rate before it is sent (s3proxy.copy_charge)
        if scopes or request.source_range is not None or charging():
            size = await copied_size(source_backend, source, request.source_range)
        await charge_copy(size)
        if not scopes:
            return await copy()
        return await stored_part(
            self._storage, scopes, backend, target, request.upload_id, request.part_number,
            size, copy, read_back=request.source_range is None,
        )  # fmt: skip

    async def abort(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        checksum: UploadChecksum | None = None,
        marks: UploadMarks | None = None,
    ) -> None:
        backend, location = await self._existing(bucket, key)
        gone: S3Error | None = None
        try:  # what its parts held freed (:mod:`.part_quotas`)
            await aborted(
                self._storage, self._storage.quota_scopes(bucket), backend, location, upload_id
            )
        except S3Error as error:  # aborted or expired upstream: its records go all the same
            if error.code is not S3ErrorCode.NoSuchUpload:
                raise
            gone = error
        marked = marks is not None and marks.any
        records = self._records(backend) if checksum is not None or marked else None
        if records is None and marks is not None and marks.acl is not None:
            records = self._home_records()
        if records is not None and checksum is not None:
            await records.remove(bucket, key, upload_id, checksum)
        if records is not None and marks is not None:
            await records.remove_marks(bucket, key, upload_id, marks)
        if gone is not None:
            raise gone

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number_marker: int,
        max_parts: int,
        checksum: UploadChecksum | None = None,
        marks: UploadMarks | None = None,
    ) -> PartsPage:
        """:meth:`_list_parts`; with ``checksum`` records, the upload's algorithm, type and
        part checksums come from them where the upstream lists none; the storage class
        recorded in ``marks`` (the client's UploadId: no request) where it lists STANDARD."""
        page = await self._list_parts(bucket, key, upload_id, part_number_marker, max_parts)
        if marks is not None and marks.storage_class is not None and page.storage_class == STANDARD:
            page = dataclasses.replace(page, storage_class=marks.storage_class)
        if checksum is None:
            return page
        records = self._records(self._storage.locate(bucket, key)[0])
        if records is None:
            return page
        parts = page.parts
        if parts:
            found = await records.part_checksums(
                bucket, key, upload_id, checksum, parts[0].part_number, parts[-1].part_number
            )
            parts = [part_with(part, checksum, found) for part in parts]
        return dataclasses.replace(
            page,
            parts=parts,
            checksum_algorithm=page.checksum_algorithm or checksum.algorithm,
            checksum_type=page.checksum_type or checksum.type,
        )

    async def _list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int, max_parts: int
    ) -> PartsPage:
        """Each part once, its latest upload (:func:`~s3proxy.completion.latest_parts`). A full
        upstream page is asked for whatever ``max_parts`` is: an upstream that lists every
        upload of a re-sent part counts each in its page size, and a page cut among them
        would hide the later ones (its next page starts after that part number)."""
        backend, location = await self._existing(bucket, key)
        if max_parts <= 0:
            return await backend.list_parts(
                location.bucket, location.key, upload_id, part_number_marker, max_parts
            )
        page = latest_parts(
            await backend.list_parts(
                location.bucket, location.key, upload_id, part_number_marker, LIST_PARTS_PAGE
            )
        )
        if len(page.parts) <= max_parts:
            return page
        parts = page.parts[:max_parts]
        return dataclasses.replace(page, parts=parts, next_marker=parts[-1].part_number)

    async def list_uploads(
        self, bucket: str, query: ListQuery, upload_id_marker: str | None
    ) -> MergedUploads:
        """Uploads over every shard, merged by key exactly as object listings are
        (:func:`.upload_merge.merged_uploads`), with what their records say. A listing of the
        whole bucket also drops the records of uploads gone upstream
        (:func:`~.upload_listing.sweep_stale`).
        """
        root = self._storage.root(bucket)
        await self._storage.buckets.require(bucket)
        backend = self._backends.get(root.upstream)
        if backend is None:  # config validation makes this unreachable; never leak the name
            raise S3Error(S3ErrorCode.InternalError)
        merged, uploads = await merged_uploads(
            self._storage, bucket, backend, query, upload_id_marker
        )
        recorded: dict[str, tuple[UploadChecksum | None, UploadMarks]] = {}
        records = self._records(backend) or self._home_records()  # home: public ACL marks
        if uploads and records is not None:  # the UploadId names the records (handlers)
            found = await records.read(bucket)
            known, marks = found.checksums, found.marks
            if not merged.is_truncated and whole_bucket(query, upload_id_marker):

                async def relist() -> list[UploadInfo] | None:
                    again, listed = await merged_uploads(
                        self._storage, bucket, backend, query, None
                    )
                    return None if again.is_truncated else listed

                await sweep_stale(records, bucket, uploads, found, relist)
            uploads = [upload_with(upload, known, marks, recorded) for upload in uploads]
        next_marker = None
        if merged.is_truncated and merged.last is not None:
            ended_on_upload = bool(uploads) and uploads[-1].key == merged.last
            if merged.prefixes and merged.prefixes[-1] == merged.last:
                ended_on_upload = False
            next_marker = (merged.last, uploads[-1].upload_id if ended_on_upload else None)
        return MergedUploads(uploads, merged.prefixes, next_marker, recorded)
