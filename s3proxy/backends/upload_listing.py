"""ListMultipartUploads' pure parts: one upstream page in key order, and each upload as the
client sees it, with what the proxy's records say (s3proxy.backends.upload_records) where the
upstream lists nothing better. Split from :mod:`s3proxy.backends.mapped_multipart`, which calls
them, to keep that module small."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from s3proxy.backends.upload_records import UploadChecksum, UploadMarks, upload_digest
from s3proxy.model import STANDARD, ListEntry, UploadInfo, UploadsPage


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
    is a no-op on an upstream that lists in key order (S3, Ceph; it is stable, so the uploads
    of one key keep the upstream's order); SeaweedFS lists in upload-id order, so a listing
    that fits one upstream page per shard is right there too. Its ``key-marker`` is broken,
    so paging through it is not (tests/expected_failures.py).
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
