"""CompleteMultipartUpload's checks against the parts actually stored, as S3 makes them.

Why in the proxy: upstreams disagree on these checks. Ceph RGW 16 checks part sizes before
part ETags (EntityTooSmall where S3 says InvalidPart) and answers an unknown upload id with
500; some upstreams keep no part checksums. Checking the client's list against ListParts first
gives every backend S3's answers, in S3's order, before anything is assembled.

Also here, as pure functions over part lists: S3's multipart ETag (which lets a retried
Complete be recognised without trusting the client, :func:`completed_by`), and ListParts as S3
answers it on upstreams that list a re-sent part once per upload (:func:`latest_parts`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Sequence

from s3proxy.checksums import CHECKSUM_TYPES, TYPE_HEADER
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo, PartsPage
from s3proxy.part_algorithm import PART_NOT_FOUND

MIN_PART_SIZE = 5 * 1024 * 1024
"""Every part but the last must be at least this large (S3's limit)."""


_MD5_ETAG = re.compile(r'"?([0-9a-fA-F]{32})"?')


def multipart_etag(part_etags: Sequence[str]) -> str | None:
    """S3's ETag of a completed upload: MD5 of the concatenated part MD5s, ``-N``; None when a
    part ETag is not a plain MD5 (then only the upstream knows the object's ETag)."""
    digests = []
    for etag in part_etags:
        match = _MD5_ETAG.fullmatch(etag.strip())
        if match is None:
            return None
        digests.append(bytes.fromhex(match.group(1)))
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


def completed_by(requested: Sequence[CompletedPart], object_etag: str) -> bool:
    """Whether an object with ``object_etag`` is what completing ``requested`` produced.

    A retried CompleteMultipartUpload finds its upload gone (the first call completed it). S3
    answers it with the same result, and SDKs rely on that. The client's word is not enough:
    the stored object's ETag must be the MD5 of exactly the part MD5s listed, so the answer
    is 200 only for an object made of those parts' bytes in that order — which is what this
    Complete would have produced. Part ETags that are not MD5s (SSE-KMS) prove nothing: False.
    """
    expected = multipart_etag([part.etag for part in requested])
    return expected is not None and _bare(object_etag) == _bare(expected)


def latest_parts(page: PartsPage) -> PartsPage:
    """A ListParts page with each part number once, its latest upload winning.

    SeaweedFS 4.48 lists every upload of a re-sent part, in no fixed order, with second-resolution
    LastModified: the latest LastModified wins, the first listed among equals. Its paging counts
    those entries and resumes after the marker's part number, so a truncated page may end
    inside one part's entries: that part is left to the next page (marker one before it),
    unless it is the page's only part. A no-op on upstreams that list each part once.
    """
    chosen: dict[int, PartInfo] = {}
    for part in page.parts:
        kept = chosen.get(part.part_number)
        if kept is None or part.last_modified > kept.last_modified:
            chosen[part.part_number] = part
    if len(chosen) == len(page.parts):
        return page
    parts = sorted(chosen.values(), key=lambda part: part.part_number)
    next_marker = page.next_marker
    if next_marker is not None and len(parts) > 1:
        parts.pop()
        next_marker = parts[-1].part_number
    return dataclasses.replace(page, parts=parts, next_marker=next_marker)


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def check_completion(requested: list[CompletedPart], stored: Iterable[PartInfo]) -> None:
    """Raise InvalidPart (a part missing, with another ETag, or listing a checksum that differs
    from the stored one) or EntityTooSmall (a part other than the last below 5 MiB). Part order
    is the handler's check, made before this one. A listed part checksum is of the upload's own
    algorithm by now (:func:`s3proxy.part_algorithm.check_listed_checksums` refused any other
    with BadDigest): S3 names a part by it as by its ETag, so a different value is a part not
    found, InvalidPart, as the local store's own check answers too (versitygw's
    validatePartChecksum and its CompleteMultipartUpload_incorrect_checksum_part, run against
    S3, pin it; every lane answered BadDigest).

    On S3 a re-sent part replaces the earlier upload of its number, whose ETag is then
    InvalidPart. SeaweedFS 4.48 keeps and lists every upload of a re-sent part, and completes
    with whichever the client names, old bytes included; so an upload of a part number with a
    strictly newer one listed is not found here. Its LastModified has whole seconds: two
    uploads of one number within a second cannot be told apart and either is taken."""
    # Keyed by (number, ETag): SeaweedFS lists every upload of a re-sent part, old ones too.
    by_tag: dict[tuple[int, str], PartInfo] = {}
    newest: dict[int, str] = {}
    for listed in stored:  # the same bytes sent twice: one ETag, its latest upload kept
        tag = (listed.part_number, _bare(listed.etag))
        earlier = by_tag.get(tag)
        if earlier is None or listed.last_modified > earlier.last_modified:
            by_tag[tag] = listed
        newest[listed.part_number] = max(newest.get(listed.part_number, ""), listed.last_modified)
    chosen: list[PartInfo] = []
    for part in requested:
        found = by_tag.get((part.part_number, _bare(part.etag)))
        if found is None or found.last_modified < newest[part.part_number]:
            raise S3Error(S3ErrorCode.InvalidPart, PART_NOT_FOUND)
        for algorithm, value in part.checksums.items():
            kept = found.checksums.get(algorithm)
            if kept is not None and kept != value:
                raise S3Error(S3ErrorCode.InvalidPart, PART_NOT_FOUND)
        chosen.append(found)
    if any(part.size < MIN_PART_SIZE for part in chosen[:-1]):
        raise S3Error(S3ErrorCode.EntityTooSmall)


OBJECT_SIZE_HEADER = "x-amz-mp-object-size"


def object_size_of(value: str | None) -> int | None:
    """Complete's ``x-amz-mp-object-size`` (a Long in S3's model): decimal digits, else 400
    InvalidArgument naming it."""
    if value is None:
        return None
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise S3Error(
            S3ErrorCode.InvalidArgument, ArgumentName=OBJECT_SIZE_HEADER, ArgumentValue=value
        )
    return int(digits)


def check_object_size(expected: int | None, size: int) -> None:
    """S3's 400 InvalidRequest when the completed object (``size``: its listed parts' sizes,
    from ListParts) is not the size the client stated; checked after the parts (InvalidPart,
    EntityTooSmall) and before anything is assembled, in S3's order (LocalStack's answer,
    which mirrors AWS's)."""
    if expected is not None and expected != size:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            f"The provided '{OBJECT_SIZE_HEADER}' header value {expected} does not match what "
            f"was computed: {size}",
        )


def requested_checksum_type(value: str) -> str:
    """Complete's ``x-amz-checksum-type``: COMPOSITE or FULL_OBJECT, in any case, else S3's
    400 InvalidRequest."""
    requested = value.strip().upper()
    if requested not in CHECKSUM_TYPES:
        raise S3Error(S3ErrorCode.InvalidRequest, f"Value for {TYPE_HEADER} header is invalid.")
    return requested


def check_checksum_type(requested: str, upload_type: str | None) -> None:
    """400 InvalidRequest, as S3 answers, unless ``requested`` is the type the upload was
    created with (``upload_type`` None: it has no checksum, which S3 calls "null")."""
    if requested != upload_type:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            f"The upload was created using the {upload_type or 'null'} checksum mode. The "
            "complete request must use the same checksum mode.",
        )
