"""A tenant's CompleteMultipartUpload: parts checked, records applied, the backend's Complete.

Split from :mod:`s3proxy.backends.mapped_multipart` (whose
:class:`~s3proxy.backends.mapped_multipart.MappedUploads` inherits it) to keep both modules
small: Complete alone checks the stored parts against the request, merges the recorded
checksums, sets the recorded tags and ACL, moves quota usage from the parts to the object,
and answers a retried or raced Complete as S3 does.
"""

from __future__ import annotations

import dataclasses

from s3proxy import expensive, object_acl
from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_race import kept_or_undone
from s3proxy.backends.complete_conditions import require_checked
from s3proxy.backends.mapped_uploads_base import LIST_PARTS_PAGE, UploadsOnStorage
from s3proxy.backends.part_quotas import upload_closing
from s3proxy.backends.quota_writes import stored_bytes
from s3proxy.backends.recorded_completion import RecordedCompletion
from s3proxy.backends.upload_gone import after_failed_complete
from s3proxy.backends.upload_record_values import UploadChecksum, UploadMarks
from s3proxy.backends.usage_records import completed_size
from s3proxy.completion import check_completion, check_object_size
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    STANDARD,
    CompleteMultipartInput,
    CompleteMultipartOutput,
    PartInfo,
    WriteConditions,
)

HELD_PARTS = 100
"""A Complete naming more parts than this checks them under its tenant's expensive-operation
slot (:mod:`s3proxy.expensive`): 10,000 parts cost ~15 ms to check, besides their listing."""

NONE = WriteConditions()
BIND = WriteConditions(if_none_match="*")
"""What an upstream's Complete conditions are probed for (:meth:`MappedCompletion._binds`)."""


class MappedCompletion(UploadsOnStorage):
    """CompleteMultipartUpload for :class:`~s3proxy.backends.mapped_multipart.MappedUploads`."""

    async def complete(
        self,
        request: CompleteMultipartInput,
        checksum: UploadChecksum | None = None,
        marks: UploadMarks | None = None,
    ) -> CompleteMultipartOutput:
        """:meth:`_marked_complete`, then the class record of the completed object written or
        removed (:mod:`.class_records`), as for a PUT: the class is the upload's mark; and
        without an ACL mark, the object is private as an overwrite makes it
        (:func:`s3proxy.object_acl.reset`)."""
        result = await self._marked_complete(request, checksum, marks)
        if marks is None or marks.acl is None:
            await object_acl.reset(self._storage, request.bucket, request.key)
        storage_class = marks.storage_class if marks is not None else None
        backend, _ = await self._existing(request.bucket, request.key)
        await self._storage.classes.written(
            request.bucket, request.key, backend, storage_class or STANDARD, result.etag
        )
        return result

    async def _marked_complete(
        self,
        request: CompleteMultipartInput,
        checksum: UploadChecksum | None,
        marks: UploadMarks | None,
    ) -> CompleteMultipartOutput:
        """:meth:`_checked_complete`, then, on Ceph RGW 16 (which drops the tags given on
        Create), the recorded tags set on the object with PutObjectTagging before the answer.
        Only there: an upstream known to keep them (SeaweedFS 4.48, AWS S3) has them from the
        Create, and a write of the key between the Complete and that PutObjectTagging got the
        upload's tags on its own object. A failure there fails the Complete; the client's retry
        finds the object completed (:func:`.upload_gone.completed_before`) and sets them then.
        A public ACL's record is written the same way, bound to the completed object. Their
        marks go last."""
        if marks is None or not marks.any:
            return await self._checked_complete(request, checksum)
        backend = self._storage.locate(request.bucket, request.key)[0]
        records = self._records(backend)
        if records is None and marks.acl is not None:
            records = self._home_records()
        if records is None:
            return await self._checked_complete(request, checksum)
        tags = None
        retags = marks.tagged and getattr(backend, "ceph_rgw", None) is not False
        if retags:
            tags = await records.tags(request.bucket, request.key, request.upload_id)
            if tags:  # kept through the sweep's grace period from here (sweep_stale)
                await records.refresh_tags(request.bucket, request.key, request.upload_id, tags)
        result = await self._checked_complete(request, checksum)
        if tags:
            await self._storage.put_object_tagging(request.bucket, request.key, tags)
        elif retags:
            await self._require_tags(request)
        if marks.acl is not None:
            await object_acl.bind_completed(
                self._storage, request.bucket, request.key, marks.acl, result.etag
            )
        await records.remove_marks(request.bucket, request.key, request.upload_id, marks)
        return result

    async def _require_tags(self, request: CompleteMultipartInput) -> None:
        """A tagged upload whose tags record is gone — removed by the Complete that set the
        tags (this is its retry), or swept after its grace period before a failed tagging
        was retried: 200 only if the object has tags, else the tags of Create are lost and
        the retry says so (500, never a 200 for an object without them)."""
        if await self._storage.get_object_tagging(request.bucket, request.key):
            return
        raise S3Error(
            S3ErrorCode.InternalError,
            "The upload was completed, but the tags given on CreateMultipartUpload could not "
            "be set and are no longer known: set them with PutObjectTagging.",
        )

    async def _checked_complete(
        self, request: CompleteMultipartInput, checksum: UploadChecksum | None
    ) -> CompleteMultipartOutput:
        """:meth:`_complete`; with ``checksum`` records (:mod:`.upload_records`), the listed
        part checksums are compared with them, the object's checksum is the proxy's where the
        upstream answers none, and the records go once the object is there."""
        if checksum is None:
            return await self._complete(request, None)
        records = self._records(self._storage.locate(request.bucket, request.key)[0])
        if records is None:
            return await self._complete(request, None)
        recorded = RecordedCompletion(records, checksum)
        result = await self._complete(request, recorded)
        if not result.checksums and recorded.combined is not None:
            result = dataclasses.replace(result, checksums={checksum.algorithm: recorded.combined})
        await records.remove(request.bucket, request.key, request.upload_id, checksum)
        return result

    async def _complete(
        self, request: CompleteMultipartInput, recorded: RecordedCompletion | None
    ) -> CompleteMultipartOutput:
        """Checked against the stored parts first (:mod:`s3proxy.completion`), then assembled
        by the backend. An upload that is gone because it just completed with these parts
        answers as it did then; one an Abort removes, NoSuchUpload (:mod:`.upload_gone`).
        Then, as after a PutObject, the bucket must still exist (:mod:`.bucket_race`): an
        upload created through a replica that had not yet seen its bucket deleted through
        another, and completed later, makes no object there (it is removed, NoSuchBucket)."""
        looked_at = self._storage.buckets.cache.current()  # a DeleteBucket meanwhile
        backend, location = await self._existing(request.bucket, request.key)
        tenant, conditions = self._storage.tenant, request.conditions
        await require_checked(self._backends, tenant, location.upstream, conditions)
        upstream = dataclasses.replace(
            request,
            bucket=location.bucket,
            key=location.key,
            quota=self._storage.quota_scopes(request.bucket),
        )
        result = await self._assembled(backend, location, upstream, request, recorded)

        async def undo() -> None:
            await self._storage.unwrite(upstream.quota, backend, location)

        await kept_or_undone(self._storage.buckets, request.bucket, looked_at, undo)
        return result

    async def _binds(self, request: CompleteMultipartInput, location: UpstreamLocation) -> bool:
        """Whether a quota tenant's Complete goes bound to its HEAD (:meth:`.usage_writes.
        WritingBook.completed_bound`): sent without a condition of the client's, to an
        upstream that checks a Complete's (probed once, :mod:`.complete_conditions`)."""
        if request.conditions.if_match is not None or request.conditions.if_none_match:
            return False
        try:
            await require_checked(self._backends, self._storage.tenant, location.upstream, BIND)
        except S3Error as error:
            if error.code is S3ErrorCode.NotImplemented:
                return False
            raise
        return True

    async def _assembled(
        self,
        backend: Backend,
        location: UpstreamLocation,
        upstream: CompleteMultipartInput,
        request: CompleteMultipartInput,
        recorded: RecordedCompletion | None,
    ) -> CompleteMultipartOutput:
        """The parts listed and checked, then the upstream's Complete (a failed one as
        :func:`.upload_gone.after_failed_complete` reads it). A quota tenant's parts in flight
        through this process end first (:meth:`.usage_writes.WritingBook.closing`)."""
        quota = upstream.quota
        usage = self._storage.usage_book(quota, backend) if quota else None
        try:
            async with upload_closing(usage, location, request.upload_id):
                # Many parts named or stored: a listing's cost (s3proxy.expensive), held.
                async with expensive.held_if(len(request.parts) > HELD_PARTS):
                    stored = await _stored_parts(backend, location, request.upload_id)
                    if recorded is not None:
                        stored = await recorded.merge(request, stored)
                    check_completion(request.parts, stored)
                    if request.object_size is not None:
                        size = completed_size(request.parts, stored)
                        check_object_size(request.object_size, size)
                    if recorded is not None:
                        recorded.combine(request, stored)
                        upstream = dataclasses.replace(upstream, checksum=recorded.declared)
                if usage is not None:  # the parts' bytes become the object's (all parts freed)
                    size = completed_size(request.parts, stored)
                    freed = stored_bytes(stored)
                    complete = backend.complete_multipart_upload
                    if await self._binds(upstream, location):  # counted once across replicas
                        return await usage.completed_bound(
                            quota, location, request.upload_id, size, freed,
                            lambda bound: complete(
                                dataclasses.replace(upstream, conditions=bound or NONE)
                            ),
                        )  # fmt: skip
                    return await usage.guarded(
                        quota, location, size, lambda: complete(upstream), freed
                    )
                return await backend.complete_multipart_upload(upstream)
        except S3Error as error:
            return await after_failed_complete(backend, upstream, error)


async def _stored_parts(
    backend: Backend, location: UpstreamLocation, upload_id: str
) -> list[PartInfo]:
    """Every part the upstream lists for the upload. Past the first page (1,000 parts), the
    rest is read under the tenant's expensive-operation slot: ten pages to read and parse are a
    listing's cost, and a Complete naming one part of a 10,000-part upload reads them all."""
    page = await backend.list_parts(location.bucket, location.key, upload_id, 0, LIST_PARTS_PAGE)
    stored = list(page.parts)
    if page.next_marker is None or not page.parts:
        return stored
    async with expensive.held():  # (passes through when the caller holds it)
        while page.next_marker is not None and page.parts:
            page = await backend.list_parts(
                location.bucket, location.key, upload_id, page.next_marker, LIST_PARTS_PAGE
            )
            stored.extend(page.parts)
    return stored
