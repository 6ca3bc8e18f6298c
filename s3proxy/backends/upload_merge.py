"""ListMultipartUploads over every shard of a bucket, merged by key as object listings are.

Split out of :mod:`.mapped_multipart` (which keeps the records and the answer: its
``MappedUploads.list_uploads``) to keep that module small: this part reads nothing but the
upstream's upload listings and the bucket's layout. An upload travels through
:func:`~s3proxy.listing.merge_listing` as a ListEntry whose ``etag`` holds its upload id and
``last_modified`` its initiation time; the merge reads nothing but the key. On an upstream
whose every upload listing reads its whole bucket (SeaweedFS), a page asks once for the bucket
root and cuts each shard's listing from that, or else once per shard, never again for the same
shard in one page (:mod:`~s3proxy.backends.upload_scans`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from s3proxy.backends.base import Backend
from s3proxy.backends.upload_listing import client_upload, in_key_order
from s3proxy.backends.upload_scans import cut_from_whole
from s3proxy.listing import ListQuery, MergedPage, merge_listing
from s3proxy.model import ListPage, UploadInfo, UploadsPage

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage


async def merged_uploads(
    storage: MappedStorage,
    bucket: str,
    backend: Backend,
    query: ListQuery,
    upload_id_marker: str | None,
) -> tuple[MergedPage, list[UploadInfo]]:
    """The merge of every shard's uploads, and its uploads under their client keys.
    ``query.start_after`` is the client's key marker; ``upload_id_marker`` (upstream id)
    applies to that key only, so it is sent to the one shard that key lives in."""
    root = storage.root(bucket)
    encoding = await storage.encoding(bucket)
    delimiter = query.delimiter if encoding == "plain" else None  # flat: the merge rolls up
    marker_key = None
    if query.start_after and upload_id_marker:
        marker_key = storage.locate(bucket, query.start_after, encoding)[1].key

    listed: dict[str, UploadInfo] = {}  # upload id → as listed (checksum, class)
    roots = storage.shard_roots(root)
    whole_uploads = getattr(backend, "whole_uploads", None)  # S3 upstreams only
    wholes: dict[str, UploadsPage | None] = {}  # prefix → every upload under it, read once
    if whole_uploads is not None and len(roots) > 1:
        wholes[root.prefix] = await whole_uploads(root.bucket, root.prefix)

    async def whole_under(prefix: str) -> UploadsPage | None:
        """Every upload under ``prefix`` from one upstream answer of this page's (the root's
        when it fits one), where the upstream reads its whole bucket for each listing."""
        if whole_uploads is None:
            return None
        for known in (root.prefix, prefix):
            if wholes.get(known) is not None:
                return wholes[known]
        if prefix not in wholes:
            wholes[prefix] = await whole_uploads(root.bucket, prefix)
        return wholes[prefix]

    async def fetch(
        prefix: str, start_after: str | None, max_keys: int, token: str | None
    ) -> ListPage:
        if token is not None:
            key_marker, id_marker = json.loads(token)
        else:
            key_marker = start_after
            id_marker = upload_id_marker if start_after == marker_key else None
        whole = await whole_under(prefix)  # s3proxy.backends.upload_scans
        if whole is not None:
            page = cut_from_whole(whole, prefix, key_marker, id_marker, max_keys)
        else:
            page = await backend.list_multipart_uploads(
                root.bucket, prefix, None, key_marker, id_marker, max_keys
            )
        listed.update((upload.upload_id, upload) for upload in page.uploads)
        entries, prefixes = in_key_order(page, prefix, delimiter)
        next_token = json.dumps(page.next_marker) if page.next_marker else None
        return ListPage(entries, prefixes, next_token)

    merged = await merge_listing(roots, query, fetch, encoding, repeats=True)
    return merged, [client_upload(entry, listed.get(entry.etag)) for entry in merged.entries]
