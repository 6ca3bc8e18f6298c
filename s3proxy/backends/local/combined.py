"""An upload's object checksum from its parts' checksums, as S3 computes it at Complete.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html —
COMPOSITE (the default): the algorithm over the concatenated part digests, then ``-N``.
FULL_OBJECT (CRC algorithms only): the CRC of the whole object, combined from each part's CRC
and size with awscrt's combine functions, so no byte is read again. awscrt is imported only
here and only when needed: it costs a quarter second, which ``s3proxy stats`` need not pay.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from s3proxy.backends.local.index import StoredPart
from s3proxy.errors import S3Error, S3ErrorCode

_COMBINE = {"CRC32": "combine_crc32", "CRC32C": "combine_crc32c", "CRC64NVME": "combine_crc64nvme"}


def object_checksum(
    algorithm: str, checksum_type: str | None, parts: Sequence[StoredPart]
) -> str | None:
    """The object's checksum, or None when a part lacks it (or FULL_OBJECT cannot apply)."""
    from s3proxy.checksums import decode_value, new_checksum

    digests: list[bytes] = []
    for part in parts:
        value = part.checksums.get(algorithm)
        if value is None:
            return None
        digests.append(decode_value(algorithm, value))
    if checksum_type == "FULL_OBJECT":
        combine = _combiner(algorithm)
        if combine is None or not digests:
            return None
        crc = int.from_bytes(digests[0], "big")
        for digest, part in zip(digests[1:], parts[1:], strict=True):
            crc = combine(crc, int.from_bytes(digest, "big"), part.size)
        return base64.b64encode(crc.to_bytes(len(digests[0]), "big")).decode("ascii")
    combined = new_checksum(algorithm)
    for digest in digests:
        combined.update(digest)
    return f"{combined.digest_b64()}-{len(parts)}"


def _combiner(algorithm: str) -> Callable[[int, int, int], int] | None:
    from awscrt import checksums  # type: ignore[import-untyped]

    name = _COMBINE.get(algorithm)
    function: Callable[[int, int, int], int] | None = getattr(checksums, name or "", None)
    return function  # None for SHA (S3 refuses FULL_OBJECT there) or an old awscrt


def check_declared(
    declared: tuple[str, str] | None, checksums: dict[str, str]
) -> tuple[str, str] | None:
    """A whole-object ``x-amz-checksum-<alg>`` sent with Complete must be ours: BadDigest.

    As S3 compares it (versitygw's reading, minio/minio#19670): a COMPOSITE value may come
    without its ``-N``, which is then the part count; with one, the count must be right, and a
    FULL_OBJECT value has none. Only the digests were compared before wave 16, so a wrong
    count or a FULL_OBJECT value with a count passed. Returns the checksum as the upstream is
    to be sent it (with its ``-N``: SeaweedFS 4.48 refuses a COMPOSITE one without)."""
    if declared is None:
        return None
    algorithm = declared[0].strip().lower().removeprefix("x-amz-checksum-").upper()
    ours = checksums.get(algorithm)
    if ours is None:
        return declared
    value = declared[1].strip()
    _, dash, count = ours.rpartition("-")
    if dash and "-" not in value:
        value = f"{value}-{count}"
    if value != ours:
        raise S3Error(
            S3ErrorCode.BadDigest,
            f"The {algorithm} you specified did not match the calculated checksum.",
        )
    return declared[0], value
