"""S3's order of the uploads in ListMultipartUploads, and where an upload-id marker resumes it.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html: uploads are
sorted by key, and the uploads of one key by initiation time, oldest first. SeaweedFS 4.48 and
Ceph RGW 16 list the uploads of one key by upload id instead (random: a client saw them in no
order), so wherever the proxy orders or cuts an upstream's uploads itself
(:mod:`~s3proxy.backends.upload_markers`) it sorts them by (key, Initiated, upload id). Ceph
dates an upload to the millisecond, SeaweedFS only to the second: uploads of one key started
within one second there keep upload-id order among themselves (nothing finer is known upstream).

``upload-id-marker`` names the upload after which a page of ``key-marker``'s uploads resumes
(NextUploadIdMarker is the last upload listed), so it is read as a place in that order, not
compared as a string. An upload it names that is gone since (a client that aborts each upload
as it pages through them) no longer has a place: then every remaining upload of that key is
listed, rather than none or those of larger ids, so a client paging and aborting misses none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from s3proxy.model import UploadInfo

Place = tuple[str, float, str]
"""An upload's place in S3's listing order: (key, initiation time, upload id)."""


def initiated_at(upload: UploadInfo) -> float:
    """Seconds since the epoch of the upload's Initiated; 0 for a date that does not parse
    (such uploads keep upload-id order among themselves)."""
    try:
        moment = datetime.fromisoformat(upload.initiated)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def place(upload: UploadInfo) -> Place:
    """Where ``upload`` sorts in S3's order: key, then initiation, then upload id."""
    return upload.key, initiated_at(upload), upload.upload_id


def in_s3_order(uploads: Iterable[UploadInfo]) -> list[UploadInfo]:
    return sorted(uploads, key=place)


def marker_place(
    uploads: Iterable[UploadInfo], key_marker: str | None, id_marker: str | None
) -> Place | None:
    """The place the markers name, found among ``uploads`` (which must hold every upload of
    ``key_marker``): None without both markers, or when that upload is gone."""
    if not key_marker or not id_marker:
        return None
    for upload in uploads:
        if upload.key == key_marker and upload.upload_id == id_marker:
            return place(upload)
    return None


def listed_after(
    upload: UploadInfo, key_marker: str | None, id_marker: str | None, marker: Place | None
) -> bool:
    """Whether S3 lists ``upload`` on a page after these markers; ``marker`` is the place
    :func:`marker_place` found for them."""
    if not key_marker:
        return True
    if upload.key != key_marker:
        return upload.key > key_marker
    if not id_marker:
        return False
    return marker is None or place(upload) > marker
