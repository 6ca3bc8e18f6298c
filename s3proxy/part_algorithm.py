"""A part's checksum must be of its upload's algorithm, as S3 checks on UploadPart.

Why: S3 answers an UploadPart whose ``x-amz-checksum-<alg>`` names another algorithm than the
one the upload was created with 400 InvalidRequest ("Checksum Type mismatch occurred, expected
checksum Type: crc32, actual checksum Type: sha256"). Ceph RGW 16 and the local store stored
such a part, and the Complete that followed made an object with no checksum at all, answered
200 to a client that had asked for one. Decided before any body byte moves.
"""

from __future__ import annotations

from s3proxy.errors import S3Error, S3ErrorCode


def check_part_algorithm(expected: str | None, given: str | None) -> None:
    """``expected``: the upload's algorithm (None: the upload has none, any part checksum
    is the part's own); ``given``: the algorithm of the part's checksum header or trailer."""
    if expected is None or given is None or given.upper() == expected.upper():
        return
    raise S3Error(
        S3ErrorCode.InvalidRequest,
        f"Checksum Type mismatch occurred, expected checksum Type: {expected.lower()}, "
        f"actual checksum Type: {given.lower()}",
    )
