"""ListMultipartUploads markers applied by the proxy, for upstreams that misread them.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html: a listing
resumes after ``key-marker``; with ``upload-id-marker`` too, the uploads of that key whose
upload id is lexicographically greater are included. SeaweedFS 4.48 reads ``key-marker`` as a
filter (a page asked for after ``a`` holds the uploads of ``a`` and nothing after it, with
IsTruncated false) and lists in upload-id order, so a client paging through it (boto3's
paginator, ``aws s3api list-multipart-uploads`` past one page) was told the listing had ended
while uploads remained. Ceph RGW 16 lists uploads in ``key + "." + uploadId`` order and resumes
key-marker K after ``K.``, so uploads of keys that extend K with a byte below ``.`` (the flat
encoding's ``-``: ``m//`` after ``m/``) were skipped; it sends no ``Server`` header. So the
markers are trusted only from upstreams known to keep them as S3 does (AWS S3, MinIO); for any
other the proxy asks for one whole page without markers and pages it itself
(:func:`uploads_after`): exact, at the price of a 501 past 1000 uploads under one shard's
prefix.
"""

from __future__ import annotations

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadsPage

#: ``Server`` headers of upstreams whose ListMultipartUploads markers are S3's.
MARKERS_KEPT_BY = ("amazons3", "minio")
#: Per upstream (name, endpoint): whether it misreads them, learnt from its first listing.
MISREADS_MARKERS: dict[tuple[str, str], bool] = {}
#: The page the proxy asks such an upstream for: S3's largest.
WHOLE_PAGE = 1000


def misreads_markers(server: str) -> bool:
    """Whether the upstream that answered with this ``Server`` header may misread the markers:
    any but those known to keep them (SeaweedFS and Ceph RGW misread them)."""
    return not server.strip().lower().startswith(MARKERS_KEPT_BY)


def uploads_after(
    page: UploadsPage, key_marker: str | None, id_marker: str | None, max_uploads: int
) -> UploadsPage:
    """S3's page of ``max_uploads`` after the markers, cut from ``page``, a whole listing of
    the prefix asked for without markers. A truncated ``page`` is refused: its missing uploads
    may sort anywhere (the upstream listed by upload id), so no page cut from it is right."""
    if page.next_marker is not None:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"This upstream cannot page through more than {WHOLE_PAGE} multipart uploads"
            " under one prefix.",
        )
    uploads = sorted(page.uploads, key=lambda upload: (upload.key, upload.upload_id))
    prefixes = sorted(page.prefixes)
    if key_marker:
        uploads = [
            upload
            for upload in uploads
            if upload.key > key_marker
            or (id_marker and upload.key == key_marker and upload.upload_id > id_marker)
        ]
        prefixes = [prefix for prefix in prefixes if prefix > key_marker]
    max_uploads = max(max_uploads, 1)
    if len(uploads) + len(prefixes) <= max_uploads:
        return UploadsPage(uploads, prefixes, None)
    entries = sorted(
        [(upload.key, upload.upload_id) for upload in uploads] + [(p, "") for p in prefixes]
    )[:max_uploads]
    last_key, last_id = entries[-1]
    kept = [u for u in uploads if (u.key, u.upload_id) <= (last_key, last_id)]
    return UploadsPage(kept, [p for p in prefixes if p <= last_key], (last_key, last_id))
