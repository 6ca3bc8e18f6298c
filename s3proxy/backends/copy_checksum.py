"""The checksum S3 gives a CopyObject's copy, and where it comes from. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html (``x-amz-checksum-algorithm``):
"When you copy an object, if the source object has a checksum, that checksum value will be
copied to the new object by default"; with ``x-amz-checksum-algorithm`` S3 creates the copy's
checksum in that algorithm instead. And (user guide, "Checking object integrity") S3 copies an
object in one action whatever way it was uploaded: "With a copy command, the checksum of the
object is a direct checksum of the full object" — a multipart source's COMPOSITE checksum
(``…-N``) becomes the FULL_OBJECT checksum of the copy's bytes. CopyObjectResult carries the
copy's checksum and ChecksumType.

Why: the copy was the upstream's own copy, whatever was asked. SeaweedFS 4.48 and the local
store kept a multipart source's COMPOSITE checksum on a copy that is no multipart object,
``x-amz-checksum-algorithm`` was refused (501), and CopyObjectResult named no checksum. A
server-side copy keeps the source's value, so only a new checksum (another algorithm, or a
COMPOSITE source's) needs the bytes to pass through the proxy, summed as they pass
(:func:`s3proxy.backends.part_copy.copy_object_through`); every other copy stays server-side,
paying one HEAD of the source (with ``x-amz-checksum-mode``) to learn its checksum. Ceph RGW 16
keeps no flexible checksums: a copy there has none to keep (README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from s3proxy.checksums import checksum_type_of


@dataclass(frozen=True, slots=True)
class CopyChecksum:
    summed: str | None = None
    """The algorithm of a checksum the copy gets anew, summed as its bytes pass through the
    proxy; None: a server-side copy keeps the source's checksum (if any)."""
    kept: Mapping[str, str] = field(default_factory=dict)
    """The source's FULL_OBJECT checksum a server-side copy keeps (algorithm → value)."""


def copy_checksum(requested: str | None, source: Mapping[str, str]) -> CopyChecksum:
    """``requested``: the ``x-amz-checksum-algorithm`` of the CopyObject; ``source``: the
    source's checksums as HEAD reports them (algorithm → value, a COMPOSITE one with ``-N``)."""
    full = {alg: value for alg, value in source.items() if checksum_type_of(value) != "COMPOSITE"}
    if requested is not None:
        if requested in full:  # the same value, summed over the same bytes
            return CopyChecksum(kept={requested: full[requested]})
        return CopyChecksum(summed=requested)
    composite = [alg for alg in source if alg not in full]
    if composite:
        return CopyChecksum(summed=composite[0])
    return CopyChecksum(kept=full)
