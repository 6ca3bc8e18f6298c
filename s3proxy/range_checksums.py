"""Which object checksums a ranged GET or HEAD answers (``x-amz-checksum-mode: ENABLED``).

S3 answers no checksum for a Range that covers part of an object (the object's checksum is not
that of the bytes sent: versitygw#2056, ceph/ceph#61901, LocalStack), and the object's own for
a Range that covers every byte of it (LocalStack's AWS-checked GetObject: "the range header
means the whole object"). The gateway answers the latter only for a FULL_OBJECT checksum: a
COMPOSITE one is made of the parts' checksums, not of the bytes, and S3's answer there (the
value without its ``-N``, botocore#3346) makes botocore, which checks any checksum without
``-N`` against the body, fail a download that is sound. Until wave 17 no lane answered a
checksum for any Range on GET, and the local store and SeaweedFS answered the whole object's
on a HEAD whose Range covered only part of it.

Pure and import-light (the local store's reads use it; :mod:`s3proxy.checksums` pulls awscrt).
"""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "x-amz-checksum-"
TYPE_HEADER = "x-amz-checksum-type"


def covers_whole(first: int, last: int, size: int) -> bool:
    """Whether bytes ``first``–``last`` (inclusive) are every byte of a ``size``-byte object."""
    return size > 0 and first == 0 and last == size - 1


def _composite(value: str) -> bool:
    _, dash, count = value.rpartition("-")
    return bool(dash) and count.isdigit()


def full_object_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``x-amz-checksum-*`` entries of ``headers`` (lower-case names) that a Range covering
    the whole object answers: a FULL_OBJECT checksum with its type; nothing for a COMPOSITE one."""
    if headers.get(TYPE_HEADER, "").strip().upper() == "COMPOSITE":
        return {}
    found = {
        name: value
        for name, value in headers.items()
        if name.startswith(PREFIX) and name != TYPE_HEADER and not _composite(value)
    }
    if found and TYPE_HEADER in headers:
        found[TYPE_HEADER] = headers[TYPE_HEADER]
    return found


def answers_checksums(headers: Mapping[str, str]) -> bool:
    """Whether an upstream's answer to a Range (lower-case names) carries any checksum or
    checksum type: such an upstream answers checksums to a Range (AWS S3 to one covering the
    whole object), so what it left out, a COMPOSITE checksum above all, a HEAD of the same
    object would not add (SeaweedFS 4.48 answers none to any Range: asked with a HEAD)."""
    return any(name.startswith(PREFIX) for name in headers)


def ranged_headers(headers: Mapping[str, str], whole: bool) -> dict[str, str]:
    """``headers`` as a ranged answer carries them: no checksum for part of the object; for all
    of it (``whole``), only a FULL_OBJECT one (:func:`full_object_checksums`)."""
    kept = {name: value for name, value in headers.items() if not name.startswith(PREFIX)}
    if whole:
        kept.update(full_object_checksums(headers))
    return kept
