"""ListMultipartUploads' pure parts: one upstream page in key order, and each upload as the
client sees it, with what the proxy's records say (s3proxy.backends.upload_records) where the
upstream lists nothing better. Split from :mod:`s3proxy.backends.mapped_multipart`, which calls
them, to keep that module small."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from s3proxy.backends.upload_record_values import (
    BucketRecords,
    UploadChecksum,
    UploadMarks,
    upload_digest,
)
from s3proxy.backends.upload_records import UploadRecords
from s3proxy.listing import ListQuery
from s3proxy.model import STANDARD, ListEntry, UploadInfo, UploadsPage

SWEEP_LIMIT = 32
"""Stale uploads whose records one listing drops: bounded work per request."""
TAGS_GRACE = 24 * 3600.0
"""Seconds a tags record outlives its upload upstream (:func:`sweep_stale`): far longer than
any SDK's retries of a Complete; the upstream's clock and ours may differ by minutes."""


@dataclass(frozen=True, slots=True)
class MergedUploads:
    """One client page of ListMultipartUploads: client keys, upstream upload ids."""

    uploads: list[UploadInfo]
    prefixes: list[str]
    next_marker: tuple[str, str | None] | None
    """(next key marker, upstream upload id of the last upload listed, or None when the page
    ended on a common prefix) when truncated; None on the last page."""
    recorded: dict[str, tuple[UploadChecksum | None, UploadMarks]] = field(default_factory=dict)
    """Upstream upload id → the records it has upstream, which its UploadId names (as
    :meth:`MappedUploads.create` returned them); uploads without records are left out."""


def client_upload(entry: ListEntry, listed: UploadInfo | None) -> UploadInfo:
    """A merged entry as an upload under its client key, with the checksum its upstream
    listed (the local store's index; S3 since 2025)."""
    upload = UploadInfo(entry.key, entry.etag, entry.last_modified, entry.storage_class)
    if listed is None or listed.checksum_algorithm is None:
        return upload
    return dataclasses.replace(
        upload, checksum_algorithm=listed.checksum_algorithm, checksum_type=listed.checksum_type
    )


def upload_with(
    upload: UploadInfo,
    known: dict[str, UploadChecksum],
    marks: dict[str, UploadMarks],
    recorded: dict[str, tuple[UploadChecksum | None, UploadMarks]],
) -> UploadInfo:
    """``upload`` with what its records say where the upstream listed nothing better (an
    upstream that lists no checksum, and STANDARD for every class); its records go into
    ``recorded`` for its UploadId."""
    digest = upload_digest(upload.key, upload.upload_id)
    checksum = known.get(digest)
    mark = marks.get(digest, UploadMarks())
    if checksum is None and not mark.any:
        return upload
    recorded[upload.upload_id] = (checksum, mark)
    if mark.storage_class is not None and upload.storage_class == STANDARD:
        upload = dataclasses.replace(upload, storage_class=mark.storage_class)
    if checksum is None or upload.checksum_algorithm is not None:
        return upload
    return dataclasses.replace(
        upload, checksum_algorithm=checksum.algorithm, checksum_type=checksum.type
    )


def in_key_order(
    page: UploadsPage, prefix: str, delimiter: str | None
) -> tuple[list[ListEntry], list[str]]:
    """One upstream page as the merge needs it: uploads sorted by key, keys that hold the
    delimiter rolled up into common prefixes (the merge returns each prefix once).

    The delimiter is applied here, never sent upstream: Ceph RGW 16 leaves out the uploads
    under it without returning their CommonPrefixes, and SeaweedFS 4.48 ignores it. The sort
    is by key alone and stable: the uploads of one key keep the page's order, S3's (oldest
    first) where the proxy cut the page itself (SeaweedFS, Ceph RGW:
    :mod:`~s3proxy.backends.upload_markers`, :mod:`~s3proxy.backends.upload_order`).
    """
    prefixes = set(page.prefixes)
    entries = []
    for upload in sorted(page.uploads, key=lambda upload: upload.key):
        if delimiter:
            cut = upload.key.find(delimiter, len(prefix))
            if cut >= 0:
                prefixes.add(upload.key[: cut + len(delimiter)])
                continue
        entries.append(
            ListEntry(upload.key, upload.upload_id, 0, upload.initiated, upload.storage_class)
        )
    return entries, sorted(prefixes)


def whole_bucket(query: ListQuery, upload_id_marker: str | None) -> bool:
    """Whether a listing that is not truncated saw every upload of the bucket: no prefix, no
    marker, and no delimiter (the merge skips past a common prefix without reading under it)."""
    return not (query.prefix or query.start_after or upload_id_marker or query.delimiter)


async def sweep_stale(
    records: UploadRecords,
    bucket: str,
    listed: list[UploadInfo],
    recorded: BucketRecords,
    relist: Callable[[], Awaitable[list[UploadInfo] | None]],
    now: float | None = None,
) -> None:
    """Drop the records of uploads the upstream no longer has (aborted or expired there, or
    finished by a process that crashed before removing them): ``listed`` is every upload of
    the bucket, ``recorded`` what :meth:`UploadRecords.read` read after that listing.

    A record not matched by ``listed`` may be of an upload created since: its records are
    written after the upstream upload, so ``relist`` — a second whole listing, only paid when
    some record looks stale — shows every upload whose records were read. ``relist`` returns
    None when it is truncated (then nothing is dropped).

    An upload whose tags record was written within :data:`TAGS_GRACE` keeps its records: a
    Complete writes it again just before the upstream Complete, after which the upload is gone
    upstream but the object may still need those tags — a tagging that failed, or a process
    that crashed, leaves them to the client's retry of Complete, which reads the record."""
    known, marks, written = recorded.checksums, recorded.marks, recorded.tags_written
    moment = time.time() if now is None else now
    stale = {
        digest
        for digest in (known.keys() | marks.keys())
        if digest not in written or not _within_grace(written[digest], moment)
    }
    stale -= {upload_digest(upload.key, upload.upload_id) for upload in listed}
    if not stale:
        return
    again = await relist()
    if again is None:
        return
    stale -= {upload_digest(upload.key, upload.upload_id) for upload in again}
    if stale:
        await records.drop(bucket, sorted(stale)[:SWEEP_LIMIT], known, marks)


def _within_grace(last_modified: str, now: float) -> bool:
    """Whether a record the upstream dates ``last_modified`` (ISO 8601) was written within
    :data:`TAGS_GRACE` of ``now``; a date that does not parse is not (the record goes, as
    every stale record did before the grace period)."""
    try:
        written = datetime.fromisoformat(last_modified)
    except ValueError:
        return False
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    return now - written.timestamp() < TAGS_GRACE
