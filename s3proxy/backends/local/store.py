"""LocalStore: the :class:`~s3proxy.backends.base.Backend` that keeps objects on local disk.

Objects, their attributes and checksums live in SQLite (:mod:`.index`), their bytes in
content-addressed blob files (:mod:`.blobs`), shared by every key whose bytes are identical.
A write streams the body to a fsynced temp file first and only then, on the database thread,
puts the blob in place and commits the row in one transaction (:mod:`.core`): a body that fails
verification, a failed condition or a crash at any point leaves the previous object intact.
Semantics follow S3 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html)
and :class:`~s3proxy.backends.s3.S3Upstream`: the same S3 errors, quoted MD5 ETags, HTTP-dates
on objects and ISO 8601 in listings. Multipart uploads are in :mod:`.multipart`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from s3proxy.backends.copy_etag import multipart_etag
from s3proxy.backends.local.blobs import WrittenBlob, crash_point
from s3proxy.backends.local.conditions import check_read, check_write, iso_date
from s3proxy.backends.local.copy_digest import CHANGED, TRIES, Unsummed, md5_etag
from s3proxy.backends.local.core import (
    declared_checksums,
    now_ms,
    stored_attributes,
)
from s3proxy.backends.local.index import (
    ObjectRecord,
    StoredPart,
    key_bytes,
    key_text,
    successor,
)
from s3proxy.backends.local.migrations import dump_tags
from s3proxy.backends.local.multipart import LocalMultipart
from s3proxy.backends.local.reads import LocalReads
from s3proxy.backends.local.reserve import disk_full
from s3proxy.backends.local.steps import Step, in_steps
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CopyObjectInput,
    CopyObjectOutput,
    DeleteResult,
    ListEntry,
    ListPage,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
    Tags,
    WriteConditions,
)

log = logging.getLogger("s3proxy.local")


def _token(lower: bytes, inclusive: bool) -> str:
    return base64.urlsafe_b64encode((b"\x01" if inclusive else b"\x00") + lower).decode("ascii")


def _parse_token(token: str) -> tuple[bytes, bool]:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if not raw or raw[0] not in (0, 1):
        raise S3Error(S3ErrorCode.InvalidArgument, "The continuation token provided is incorrect")
    return raw[1:], raw[0] == 1


class LocalStore(LocalReads, LocalMultipart):
    """One data directory. ``LocalStore(name, root)`` blocks while it locks, opens and recovers
    the directory (once, before the server accepts requests). GET/HEAD are in :mod:`.reads`."""

    checks_copy_conditions = True
    """A copy's If-Match / If-None-Match are checked in the copy's own transaction."""
    copies_md5_etag = True
    """A copy of a multipart object gets the MD5 of its bytes as ETag (:mod:`.copy_digest`)."""
    checks_delete_conditions = True
    """A conditional delete's If-Match / ``<ETag>`` is checked in the delete's transaction."""

    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root)

    async def keeps_trailer_checksum(self, bucket: str, length: int) -> bool:
        """Always: a PUT's ``trailer_checksum`` is stored (:func:`.core.declared_checksums`)."""
        return True

    # -- writes ------------------------------------------------------------------------------

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        blob = await self._write_blob(request.body, "put")
        headers, metadata = stored_attributes(request.attributes)
        record = ObjectRecord(
            bucket=request.bucket,
            key=request.key,
            size=blob.size,
            etag=f'"{blob.md5}"',
            modified_ms=now_ms(),
            parts_count=0,
            headers=headers,
            metadata=metadata,
            checksums=declared_checksums(request.checksum, request.trailer_checksum),
            segments=[StoredPart(blob.sha256, blob.size)],
            storage_class=request.storage_class,
            tags=request.tags,
        )
        await self._run(
            self._commit_put, record, blob, request, never_ran=lambda: self.files.discard(blob)
        )
        return PutObjectOutput(etag=record.etag)

    def _commit_put(self, record: ObjectRecord, blob: WrittenBlob, request: PutObjectInput) -> None:
        try:
            with self.index.transaction():
                current = self.index.find_object(record.bucket, record.key, with_segments=False)
                check_write(request.conditions, current.etag if current else None)
                if request.quota:
                    self._check_quota(
                        request.quota, record.bucket, record.key,
                        current.size if current else None, record.size,
                    )  # fmt: skip
                self._install_or_discard(blob, "put")
                freed = self.index.put_object(record)
                crash_point("put", "before-commit")
        except BaseException:
            self._forget_unused(blob)
            raise
        crash_point("put", "after-commit")
        self._free(freed, "put")

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        """Metadata only: the new row names the source's blobs (no byte is copied); a multipart
        source's bytes are read once, for the copy's MD5 ETag (:mod:`.copy_digest`). Each sum
        is offered to a commit: the last of :data:`TRIES` was made and thrown away before the
        503 (wave 18), so a source that settled during it was 503 all the same."""
        await self._room()
        summed: tuple[str, str] | None = None  # a multipart source's ETag, its bytes' MD5 ETag
        for sums in range(TRIES + 1):
            try:
                record = await self._run(self._commit_copy, request, now_ms(), summed)
            except Unsummed:
                if sums == TRIES:
                    break
                summed = await self._copy_sum(request.source_bucket, request.source_key)
                continue
            return CopyObjectOutput(etag=record.etag, last_modified=iso_date(record.modified_ms))
        raise S3Error(S3ErrorCode.ServiceUnavailable, CHANGED)

    async def _copy_sum(self, bucket: str, key: str) -> tuple[str, str]:
        """The object's ETag and the MD5 ETag of its bytes, its blobs pinned while read."""
        record = await self._run(
            self._lookup, bucket, key, ReadConditions(), True, abandoned=self._unpin_record
        )
        try:
            return record.etag, await md5_etag(self.files, record.blob_segments())
        except FileNotFoundError as exc:
            log.error("local store %s: a blob is missing: %s", self.name, exc.filename)
            raise S3Error(S3ErrorCode.InternalError) from None
        finally:
            await self._unpin_record(record)

    def _commit_copy(
        self, request: CopyObjectInput, modified_ms: int, summed: tuple[str, str] | None = None
    ) -> ObjectRecord:
        with self.index.transaction():
            source = self.index.find_object(request.source_bucket, request.source_key)
            if source is None:
                raise S3Error(S3ErrorCode.NoSuchKey)
            try:
                check_read(request.source_conditions, source.etag, source.modified_ms)
            except S3Error as error:  # a copy source's If-None-Match failing is 412, not 304
                raise S3Error(S3ErrorCode.PreconditionFailed) from error
            current = self.index.find_object(request.bucket, request.key, with_segments=False)
            check_write(request.conditions, current.etag if current else None)
            record = dataclasses.replace(
                source,
                bucket=request.bucket,
                key=request.key,
                modified_ms=modified_ms,
                storage_class=request.storage_class,
                tags=source.tags if request.tags is None else request.tags,
            )
            if multipart_etag(source.etag):  # a single object of the same blobs, as S3 copies
                if summed is None or summed[0] != source.etag:
                    raise Unsummed
                parts = [StoredPart(part.sha256, part.size) for part in source.segments]
                record = dataclasses.replace(record, etag=summed[1], parts_count=0, segments=parts)
            if request.replace_metadata:
                headers, metadata = stored_attributes(request.attributes)
                record = dataclasses.replace(record, headers=headers, metadata=metadata)
            if request.quota:
                self._check_quota(
                    request.quota, record.bucket, record.key,
                    current.size if current else None, record.size,
                )  # fmt: skip
            freed = self.index.put_object(record)
        self._free(freed, "copy")
        return record

    async def get_object_tagging(self, bucket: str, key: str) -> Tags:
        record = await self._run(self.index.find_object, bucket, key, False)
        if record is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return tuple(sorted(record.tags))  # by key, as SeaweedFS and Ceph RGW answer them

    async def put_object_tagging(self, bucket: str, key: str, tags: Tags) -> None:
        await self._room()
        await self._run(self._commit_tags, bucket, key, tags)

    def _commit_tags(self, bucket: str, key: str, tags: Tags) -> None:
        with self.index.transaction():
            updated = self.index.db.execute(
                "UPDATE objects SET tags = ? WHERE bucket = ? AND key = ?",
                (dump_tags(tags), bucket, key_bytes(key)),
            ).rowcount
        if not updated:
            raise S3Error(S3ErrorCode.NoSuchKey)

    async def delete_object(self, bucket: str, key: str) -> None:
        await self._run(self._freeing, self._commit_delete, bucket, [key])

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        """DeleteObject under the client's ``If-Match`` (an ETag or ``*``), checked in the
        delete's own transaction: 412 on another object, 404 NoSuchKey on none, as S3."""
        failed = await self._run(self._freeing, self._commit_delete, bucket, [key], [etag])
        if 0 in failed:
            code = S3ErrorCode[failed[0]]
            if code is S3ErrorCode.PreconditionFailed:
                raise S3Error(code, Condition="If-Match")
            raise S3Error(code)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        return await in_steps(self._delete_step(bucket), keys, [], self._background)

    async def delete_objects_matching(
        self, bucket: str, keys: list[str], etags: Sequence[str | None]
    ) -> list[DeleteResult]:
        """DeleteObjects whose entries may carry an ``<ETag>`` (one per key, or None): such a
        key is deleted only if that names its object (per-key PreconditionFailed or
        NoSuchKey otherwise), checked in its step's transaction (:mod:`.steps`)."""
        return await in_steps(self._delete_step(bucket), keys, etags, self._background)

    def _delete_step(self, bucket: str) -> Step[str | None, DeleteResult]:
        """One step of a batch (:mod:`.steps`): up to 100 keys, one job of their own."""
        return lambda keys, etags, dropped: self._run(
            self._delete_keys, bucket, keys, etags, never_ran=dropped
        )

    def _delete_keys(
        self, bucket: str, keys: list[str], etags: list[str | None]
    ) -> list[DeleteResult]:
        """One transaction for the batch; if it finds no room on the disk, one per key, each
        run again without the reserve if it needs to (:meth:`_freeing`): a key needs a few
        pages of log and frees its blobs before the next (1,000 keys scattered over a large
        store need more log than the reserve holds). A key that still fails is answered per
        key, as S3 answers DeleteObjects (InternalError for it, Deleted for the keys done),
        where a 500 for the batch told the client nothing was deleted when some keys were."""
        if len(keys) > 1:
            try:
                failed = self._commit_delete(bucket, keys, etags)
            except Exception as exc:
                if not disk_full(exc):
                    raise
            else:
                return [DeleteResult(key, failed.get(at)) for at, key in enumerate(keys)]
        results: list[DeleteResult] = []
        failures: list[Exception] = []
        for at, key in enumerate(keys):
            condition = etags[at : at + 1]
            try:
                failed = self._freeing(self._commit_delete, bucket, [key], condition)
            except Exception as exc:
                failures.append(exc)
                results.append(DeleteResult(key, S3ErrorCode.InternalError.name))
            else:
                results.append(DeleteResult(key, failed.get(0)))
        if failures:  # one line for the batch, not one per key
            log.warning(
                "local store %s: %d of %d keys of a DeleteObjects not deleted (%r)",
                self.name, len(failures), len(keys), failures[0],
            )  # fmt: skip
        return results

    def _commit_delete(
        self, bucket: str, keys: list[str], etags: Sequence[str | None] = ()
    ) -> dict[int, str]:
        """Delete ``keys`` in one transaction; a key with an ETag in ``etags`` (same order)
        only if it names the key's object. The entries not deleted for that, by position
        (a key named twice is answered per entry), with S3's code."""
        freed: list[str] = []
        failed: dict[int, str] = {}
        with self.index.transaction():
            for at, key in enumerate(keys):
                etag = etags[at] if at < len(etags) else None
                if etag is not None:
                    current = self.index.find_object(bucket, key, with_segments=False)
                    try:
                        found = current.etag if current else None
                        check_write(WriteConditions(if_match=etag), found)
                    except S3Error as error:
                        failed[at] = error.code.name
                        continue
                freed.extend(self.index.delete_object(bucket, key))
            crash_point("delete", "before-commit")
        crash_point("delete", "after-commit")
        self._free(freed, "delete")
        return failed

    # -- listing -----------------------------------------------------------------------------

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        """ListObjectsV2 over the key index, paged with ``key > ? ORDER BY key LIMIT n``; a
        common prefix is returned once and skipped by seeking to its successor."""
        if max_keys <= 0:
            return ListPage([], [], None)
        return await self._run(self._list, bucket, prefix, delimiter, start_after, max_keys, token)

    def _list(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None,
    ) -> ListPage:
        low_prefix = key_bytes(prefix)
        split = key_bytes(delimiter) if delimiter else b""
        upper = successor(low_prefix) if low_prefix else None
        lower, inclusive = low_prefix, True
        if token is not None:
            lower, inclusive = _parse_token(token)
        elif start_after and key_bytes(start_after) >= low_prefix:
            lower, inclusive = key_bytes(start_after), False
        entries: list[ListEntry] = []
        prefixes: list[str] = []
        self.index.db.execute("BEGIN")  # one snapshot for the whole page
        try:
            while len(entries) + len(prefixes) < max_keys:
                wanted = max_keys - len(entries) - len(prefixes)
                before = len(entries)
                rows = self.index.list_keys(bucket, lower, inclusive, upper, wanted)
                for raw, size, etag, modified_ms, storage_class in rows:
                    cut = raw.find(split, len(low_prefix)) if split else -1
                    if cut >= 0:
                        common = raw[: cut + len(split)]
                        prefixes.append(key_text(common))
                        following = successor(common)
                        if following is None:
                            return ListPage(entries, prefixes, None)
                        lower, inclusive = following, True
                        break
                    entries.append(
                        ListEntry(key_text(raw), etag, size, iso_date(modified_ms), storage_class)
                    )
                    lower, inclusive = raw, False
                else:
                    if len(entries) - before < wanted:  # every row read was an entry
                        return ListPage(entries, prefixes, None)
            more = next(self.index.list_keys(bucket, lower, inclusive, upper, 1), None)
        finally:
            self.index.db.execute("COMMIT")
        return ListPage(entries, prefixes, _token(lower, inclusive) if more is not None else None)
