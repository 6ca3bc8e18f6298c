"""A part's checksum must be of its upload's algorithm, as S3 checks on UploadPart and Complete.

Why: S3 answers an UploadPart whose ``x-amz-checksum-<alg>`` names another algorithm than the
one the upload was created with 400 InvalidRequest ("Checksum Type mismatch occurred, expected
checksum Type: crc32, actual checksum Type: sha256"). Ceph RGW 16 and the local store stored
such a part, and the Complete that followed made an object with no checksum at all, answered
200 to a client that had asked for one. Decided before any body byte moves.

A part sent with no checksum at all (a client that sends checksums only when required) is the
same mismatch ("actual checksum Type: null") in a COMPOSITE upload, whose object checksum is
made of the parts' own; in a FULL_OBJECT upload S3 computes the part's checksum itself
(:func:`sums_missing_part`). And Complete of a COMPOSITE upload must list every part's
checksum, and no part may list another algorithm's (:func:`check_listed_checksums`): every
lane completed such uploads with 200 (Ceph RGW 16, the local store; SeaweedFS 4.48 refused
some with no reason). versitygw's integration tests, which run against S3, pin these answers
(UploadPart_no_checksum_with_{composite,full_object}_checksum_type,
CompleteMultipartUpload_missing_part_checksum, CompleteMultipartUpload_different_checksum_part).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from s3proxy.errors import S3Error, S3ErrorCode


class ListedPart(Protocol):
    """A part as CompleteMultipartUpload lists it (:class:`s3proxy.model.CompletedPart`)."""

    @property
    def part_number(self) -> int: ...

    @property
    def checksums(self) -> Mapping[str, str]: ...


def _mismatch(expected: str, given: str) -> S3Error:
    return S3Error(
        S3ErrorCode.InvalidRequest,
        f"Checksum Type mismatch occurred, expected checksum Type: {expected.lower()}, "
        f"actual checksum Type: {given.lower()}",
    )


PART_NOT_FOUND = (
    "One or more of the specified parts could not be found. The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag."
)
"""S3's InvalidPart message for a Complete naming a part it cannot match (:mod:`.completion`)."""


def check_part_algorithm(
    expected: str | None, given: str | None, checksum_type: str | None = None
) -> None:
    """``expected``: the upload's algorithm (None: the upload has none, any part checksum
    is the part's own); ``given``: the algorithm of the part's checksum header or trailer
    (None: the part carries none); ``checksum_type``: the upload's type."""
    if expected is None:
        return
    if given is None:
        if checksum_type == "COMPOSITE":
            raise _mismatch(expected, "null")
        return
    if given.upper() != expected.upper():
        raise _mismatch(expected, given)


def check_object_algorithm(expected: str | None, given: str | None) -> None:
    """A whole-object ``x-amz-checksum-<alg>`` sent with Complete (``given``: its algorithm,
    None: none sent) against the upload's ``expected`` algorithm (None: created without one).

    The gateway compares such a checksum with the object's only in the upload's algorithm.
    One of another algorithm is S3's 400 BadDigest naming the upload's algorithm ("The crc32
    you specified did not match the calculated checksum."). One in an upload created without
    an algorithm can be compared with nothing: LocalStack's code completes such an upload
    without looking at the header, but a 200 would tell the client its checksum was checked,
    so it stays refused with S3's InvalidRequest for a checksum of another algorithm than the
    upload's, as UploadPart answers it ("expected checksum Type: null"; wave 16 C2)."""
    if given is not None and expected is None:
        raise _mismatch("null", given)
    if given is not None and expected is not None and given.upper() != expected.upper():
        raise S3Error(
            S3ErrorCode.BadDigest,
            f"The {expected.lower()} you specified did not match the calculated checksum.",
        )


def sums_missing_part(expected: str | None, given: str | None) -> str | None:
    """The algorithm the gateway sums a part in, as S3 does, when the part carries no checksum
    of its own in an upload with one (FULL_OBJECT: :func:`check_part_algorithm` refuses the
    COMPOSITE case first); None when the part's own checksum is verified instead, or the upload
    has none."""
    return expected if expected is not None and given is None else None


def check_listed_checksums(
    algorithm: str | None, checksum_type: str | None, parts: Iterable[ListedPart]
) -> None:
    """The part checksums Complete lists, against the upload's ``algorithm`` (None: an upload
    created without one, whose parts keep no checksum a Complete could name: a part listed
    with one is 400 InvalidPart, S3's answer, where every lane answered 200 and kept no
    checksum; versitygw's validatePartChecksum and aws-sdk-go-v2#3005 pin it): a COMPOSITE
    upload's object checksum is made of its parts', so each part must list its own (else 400
    InvalidRequest naming the first part without one); a part that lists one checksum of
    another algorithm declares a value nothing verified, 400 BadDigest as S3 answers (every
    lane answered 200). Several checksums on one part never get here: the parse refuses them
    (:func:`s3proxy.multipart_xml.completed_part`, 400 InvalidArgument)."""
    if algorithm is None:
        if any(part.checksums for part in parts):
            raise S3Error(S3ErrorCode.InvalidPart, PART_NOT_FOUND)
        return
    for part in parts:
        if not part.checksums:
            if checksum_type == "COMPOSITE":
                raise S3Error(
                    S3ErrorCode.InvalidRequest,
                    f"The upload was created using a {algorithm.lower()} checksum. The complete "
                    "request must include the checksum for each part. It was missing for part "
                    f"{part.part_number} in the request.",
                )
            continue
        if len(part.checksums) == 1 and algorithm.upper() not in part.checksums:
            other = next(iter(part.checksums)).lower()
            raise S3Error(
                S3ErrorCode.BadDigest,
                f"The {other} you specified for part {part.part_number} did not match what we "
                "received.",
            )
