"""ListMultipartUploads markers applied by the proxy, for upstreams that misread them.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html: a listing
resumes after ``key-marker``; with ``upload-id-marker`` too, after that upload among the
uploads of that key, which S3 lists oldest first (:mod:`~s3proxy.backends.upload_order`).
SeaweedFS 4.48 reads ``key-marker`` as a filter (a page asked for after ``a`` holds the
uploads of ``a`` and nothing after it, with IsTruncated false) and lists in upload-id order,
so a client paging through it (boto3's paginator, ``aws s3api list-multipart-uploads`` past
one page) was told the listing had ended while uploads remained. Ceph RGW 16 lists uploads in
``key + "." + uploadId`` order and resumes key-marker K after ``K.``, so uploads of keys that
extend K with a byte below ``.`` (the flat encoding's ``-``: ``m//`` after ``m/``) were
skipped; it sends no ``Server`` header. So the
markers are trusted only from upstreams known to keep them as S3 does (AWS S3, MinIO); for any
other the proxy asks for one whole page without markers and pages it itself
(:func:`uploads_after`): exact.

Past one page (1000 uploads under one shard's prefix) that answer was a 501. SeaweedFS 4.48
(measured, ``weed mini``) names each upload ``sha1(key) + "_" + uuid`` and lists them in that
order; ``upload-id-marker`` sent alone resumes right after the id it names (whatever key it is
of), ``prefix`` filters, ``max-uploads`` cuts (NextUploadIdMarker the last upload listed, no
NextKeyMarker), ``key-marker`` keeps that one key's uploads only and ``delimiter`` is ignored.
Nothing there is in key order, so S3's page after a key marker can only be found by reading
every upload under the prefix: :func:`id_order_page` reads them in upload-id order, one upstream
page after another (:func:`by_upload_id`, each page checked to come after the last: an upstream
that ignores a lone ``upload-id-marker``, as S3 does, is caught, not read in a loop), keeping
only the ``max_uploads`` (+1) first in S3's order: exact, memory bounded by the page, at most
:data:`SCAN_PAGES` upstream pages a request (SeaweedFS: ~0.1 s each with 3,000 uploads in its
bucket); past them, 501 (no correct page can be cut from part of the uploads).

Ceph RGW 16 is known by its request ids instead (:mod:`~s3proxy.backends.upstream_kind`).
Its order is not S3's, but its own markers page through it exactly: given both, it resumes
right after ``key + "." + uploadId`` (measured). Where the two orders differ is narrow: a key
sorts after the keys that extend it with a byte below ``.`` (``a-2f…`` and ``a!/…`` before
``a``; the flat encoding's escapes and cuts). So :func:`own_order_page` reads the upstream in
its own order from just before the client's marker, keeping the first ``max_uploads`` (+1)
uploads in S3's order, until no upload still to come can sort before the page's last (asking
for the own uploads of a key it has not read past, so that a directory is not read whole for
each page): exact, memory bounded by the page, and at most :data:`SCAN_PAGES` upstream pages
(~9 ms of CPU each to parse) and :data:`PROBES` small questions per request; past them, 501.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable

from s3proxy.backends.upload_order import (
    Place,
    in_s3_order,
    listed_after,
    marker_place,
    place,
)
from s3proxy.backends.upstream_kind import is_ceph_rgw
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadInfo, UploadsPage

#: ``Server`` headers of upstreams whose ListMultipartUploads markers are S3's.
MARKERS_KEPT_BY = ("amazons3", "minio")
#: How an upstream's markers are read: as S3's, in its own order (RGW), or not at all.
KEPT, OWN_ORDER, WHOLE = "kept", "own order", "whole"
#: Per upstream (name, endpoint): its marker mode, learnt from its first listing.
MARKER_MODES: dict[tuple[str, str], str] = {}
#: The page the proxy asks such an upstream for: S3's largest.
WHOLE_PAGE = 1000
#: Upstream pages one :func:`own_order_page` reads at most.
SCAN_PAGES = 10
#: Keys one :func:`own_order_page` asks about at most (one small request each).
PROBES = 16

TOO_MANY = "This upstream cannot page through this many multipart uploads under one prefix."


def marker_mode(server: str, request_id: str) -> str:
    """How to page an upstream that answered with this ``Server`` header and request id."""
    if not misreads_markers(server):
        return KEPT
    if is_ceph_rgw(server, request_id):
        return OWN_ORDER
    return WHOLE


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
    uploads = in_s3_order(page.uploads)  # by key, then initiation (.upload_order)
    prefixes = sorted(page.prefixes)
    if key_marker:
        marker = marker_place(uploads, key_marker, id_marker)
        uploads = [u for u in uploads if listed_after(u, key_marker, id_marker, marker)]
        prefixes = [prefix for prefix in prefixes if prefix > key_marker]
    max_uploads = max(max_uploads, 1)
    if len(uploads) + len(prefixes) <= max_uploads:
        return UploadsPage(uploads, prefixes, None)
    entries = sorted([place(u) for u in uploads] + [(p, -math.inf, "") for p in prefixes])
    last = entries[max_uploads - 1]
    kept = [u for u in uploads if place(u) <= last]
    return UploadsPage(kept, [p for p in prefixes if p <= last[0]], (last[0], last[2]))


Ask = Callable[[str, str | None, str | None], Awaitable[UploadsPage]]
"""One upstream page of :data:`WHOLE_PAGE` uploads under a prefix, after (key marker, upload id
marker), both sent as given (None: left out), in the upstream's own order."""


async def by_upload_id(ask: Ask, prefix: str, pages: int) -> AsyncIterator[list[UploadInfo]]:
    """Every upload under ``prefix``, one upstream page at a time, from an upstream that lists
    by upload id and resumes after a lone ``upload-id-marker`` (SeaweedFS): at most ``pages``
    pages; past them, or where a page does not come after the one before (ids ascending,
    above the marker: an upstream that ignores the marker, or lists in another order), 501."""
    after: str | None = None
    for _ in range(pages):
        page = await ask(prefix, None, after)
        ids = [upload.upload_id for upload in page.uploads]
        if page.next_marker is None and after is None:
            yield page.uploads  # the whole listing in one answer: in any order
            return
        ordered = all(a < b for a, b in zip([after or "", *ids], ids, strict=False))
        if not ordered or page.prefixes or (page.next_marker is not None and not ids):
            break
        yield page.uploads
        if page.next_marker is None:
            return
        after = ids[-1]
    raise S3Error(S3ErrorCode.NotImplemented, TOO_MANY)


async def id_order_page(
    ask: Ask, prefix: str, key_marker: str | None, id_marker: str | None, max_uploads: int
) -> UploadsPage:
    """S3's page of ``max_uploads`` after the markers, read from an upstream that lists by
    upload id (SeaweedFS): every upload under ``prefix`` is read (:func:`by_upload_id`), the
    first ``max_uploads`` (+1) in S3's order kept. The uploads of the key marker are kept
    apart until the end when an upload-id marker names one of them: where it resumes depends
    on that upload's initiation (:func:`~s3proxy.backends.upload_order.marker_place`)."""
    keep = max(max_uploads, 1) + 1
    best: list[UploadInfo] = []
    own: list[UploadInfo] = []  # the key marker's uploads, placed once all are read
    async for uploads in by_upload_id(ask, prefix, SCAN_PAGES):
        mine = [upload for upload in uploads if upload.key.startswith(prefix)]
        if key_marker and id_marker:
            own += [upload for upload in mine if upload.key == key_marker]
        best = _first(best + [u for u in mine if listed_after(u, key_marker, None, None)], keep)
    if own:
        named = marker_place(own, key_marker, id_marker)
        best = _first(
            best + [u for u in own if listed_after(u, key_marker, id_marker, named)], keep
        )
    return _cut(best, keep - 1)


async def own_order_page(
    ask: Ask, prefix: str, key_marker: str | None, id_marker: str | None, max_uploads: int
) -> UploadsPage:
    """S3's page of ``max_uploads`` after the markers, read from an upstream that lists by
    ``key + "." + uploadId`` and resumes exactly after both markers (Ceph RGW 16).

    Every upload S3 lists after key marker K sorts above K in that order too (its key extends
    K, or passes K at a byte, or is K with a later id), so the reading starts at a marker below
    K (:func:`_start`). Going on, an upload still to come sorts before the page's last key P
    only if its key is a proper prefix Z of P: once the reading is past ``Z + "/"`` (every
    upload of Z sorts below it) for each Z, the page is settled. A Z it is not past yet (a
    directory ``photos`` of ``photos/x.jpg``, ``photos-2fx-2ejpg``: all of the directory
    first) is asked about instead, with RGW's prefix, which it applies to ``key + "."``:
    ``Z + "."`` lists Z's own uploads (:data:`PROBES` such questions per request at most).
    The uploads of one key sort by initiation (:mod:`~s3proxy.backends.upload_order`) but are
    read by upload id, so the page's last key counts as such a Z too, and an upload-id marker's
    key has its own uploads read first, to find the named upload's place among them."""
    keep = max(max_uploads, 1) + 1  # the page, and one more to know it is truncated
    resolved: set[str] = set()  # keys whose every upload has been read
    best: list[UploadInfo] = []
    probes = 0
    named: Place | None = None  # the upload the id marker names: its key's are read first
    if key_marker and id_marker:
        best = await _own_uploads(ask, key_marker)
        probes += 1
        named = marker_place(best, key_marker, id_marker)
        resolved.add(key_marker)

    def after(uploads: list[UploadInfo], key: str | None = None) -> list[UploadInfo]:
        return [
            upload
            for upload in uploads
            if listed_after(upload, key_marker, id_marker, named)
            and upload.key.startswith(prefix)
            and (key is None or upload.key == key)
        ]

    best = _first(after(best), keep)
    marker = _start(key_marker)
    for _ in range(SCAN_PAGES):
        page = await ask(prefix, *marker)
        best = _first(best + after(page.uploads), keep)
        if page.next_marker is None:
            return _cut(best, keep - 1)
        if not page.uploads:  # nothing to resume after: never ask for the same page again
            break
        last = page.uploads[-1]
        marker = (last.key, last.upload_id)
        while len(best) == keep:
            unsettled = [z for z in _open(best[-2].key, prefix, marker) if z not in resolved]
            if not unsettled:
                return _cut(best, keep - 1)
            if probes + len(unsettled) > PROBES:
                break  # read on instead
            for key in unsettled:
                probes += 1
                own = await ask(key + ".", None, None)
                if own.next_marker is not None:  # more than a page: read on instead
                    probes = PROBES
                    break
                best = _first(best + after(own.uploads, key), keep)
                resolved.add(key)
    raise S3Error(S3ErrorCode.NotImplemented, TOO_MANY)


async def _own_uploads(ask: Ask, key: str) -> list[UploadInfo]:
    """Every upload of ``key`` (RGW applies its prefix to ``key + "."``), in at most
    :data:`SCAN_PAGES` upstream pages; past them, 501."""
    marker: tuple[str | None, str | None] = (None, None)
    found: list[UploadInfo] = []
    for _ in range(SCAN_PAGES):
        page = await ask(key + ".", *marker)
        found += [upload for upload in page.uploads if upload.key == key]
        if page.next_marker is None:
            return found
        if not page.uploads:
            break
        marker = (page.uploads[-1].key, page.uploads[-1].upload_id)
    raise S3Error(S3ErrorCode.NotImplemented, TOO_MANY)


def _first(uploads: list[UploadInfo], keep: int) -> list[UploadInfo]:
    """The first ``keep`` of ``uploads`` in S3's order, each once."""
    unique = {(upload.key, upload.upload_id): upload for upload in uploads}
    return in_s3_order(unique.values())[:keep]


def _open(last: str, prefix: str, marker: tuple[str, str]) -> list[str]:
    """The prefixes Z of key ``last`` (itself too: its uploads sort by initiation, read by
    upload id) whose uploads may still come after ``marker`` (upstream order), which would sort
    before ``last``'s upload: those the reading is not past ``Z + "/"`` of. None: nothing still
    to come can sort before it."""
    position = marker[0] + "." + marker[1]
    cuts = range(max(len(prefix), 1), len(last) + 1)
    return [last[:cut] for cut in cuts if position < last[:cut] + "/"]


def _start(key_marker: str | None) -> tuple[str | None, str | None]:
    """An upstream key marker below ``key_marker`` in ``key + "." + id`` order, as close as
    can be: it without its last bytes up to one above ``.`` (RGW resumes a lone key marker M
    after ``M..meta``, below M + any byte above ``.``); None: from the start."""
    if not key_marker:
        return None, None
    cut = len(key_marker) - 1
    while cut > 0 and key_marker[cut] <= ".":
        cut -= 1
    return (key_marker[:cut] or None), None


def _cut(best: list[UploadInfo], max_uploads: int) -> UploadsPage:
    """The first ``max_uploads`` of ``best`` (sorted), truncated when more were found."""
    if len(best) <= max_uploads:
        return UploadsPage(best, [], None)
    page = best[:max_uploads]
    return UploadsPage(page, [], (page[-1].key, page[-1].upload_id))
