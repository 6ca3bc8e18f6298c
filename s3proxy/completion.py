"""CompleteMultipartUpload's checks against the parts actually stored, as S3 makes them.

Why in the proxy: upstreams disagree on these checks. Ceph RGW 16 checks part sizes before
part ETags (EntityTooSmall where S3 says InvalidPart) and answers an unknown upload id with
500; some upstreams keep no part checksums. Checking the client's list against ListParts first
gives every backend S3's answers, in S3's order, before anything is assembled.
"""

from __future__ import annotations

from collections.abc import Iterable

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo

MIN_PART_SIZE = 5 * 1024 * 1024
"""Every part but the last must be at least this large (S3's limit)."""


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def check_completion(requested: list[CompletedPart], stored: Iterable[PartInfo]) -> None:
    """Raise InvalidPart (a part missing or with another ETag), BadDigest (a listed part
    checksum that differs from the stored one) or EntityTooSmall (a part other than the last
    below 5 MiB). Part order is the handler's check, made before this one."""
    # Keyed by (number, ETag): SeaweedFS lists every upload of a re-sent part, old ones too.
    by_tag = {(part.part_number, _bare(part.etag)): part for part in stored}
    chosen: list[PartInfo] = []
    for part in requested:
        found = by_tag.get((part.part_number, _bare(part.etag)))
        if found is None:
            raise S3Error(
                S3ErrorCode.InvalidPart,
                "One or more of the specified parts could not be found. The part may not have"
                " been uploaded, or the specified entity tag may not match the part's entity tag.",
            )
        for algorithm, value in part.checksums.items():
            kept = found.checksums.get(algorithm)
            if kept is not None and kept != value:
                raise S3Error(
                    S3ErrorCode.BadDigest,
                    f"The {algorithm.lower()} you specified for part {part.part_number} did not"
                    " match what we received.",
                )
        chosen.append(found)
    if any(part.size < MIN_PART_SIZE for part in chosen[:-1]):
        raise S3Error(S3ErrorCode.EntityTooSmall)
