"""A whole-object ``x-amz-checksum-<alg>`` on CompleteMultipartUpload of another algorithm than
the upload's, or any in an upload created without one (wave 16 C2, wave 17 C): the gateway
compares such a checksum only in the upload's algorithm, so these were answered 200 on every
lane with nothing checked. One of another algorithm is S3's 400 BadDigest naming the upload's
algorithm; one in an upload created without an algorithm, which nothing can be compared with,
is 400 InvalidRequest ("expected checksum Type: null", UploadPart's wording), wherever that is
known: from the UploadId, the gateway's records (no record: no
algorithm) or the upstream's ListParts; a tenant without a home on an upstream that lists none
cannot tell, and gets 501. (Wave 16 C2 answered both 400 InvalidRequest "Checksum Type
mismatch …" while S3's answer was unknown.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_records import UploadChecksum, UploadMarks
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.multipart import _check_checksum_type
from s3proxy.part_algorithm import check_object_algorithm
from tests.unit.test_complete_checksum_type import ListingUpstream
from tests.unit.test_upload_marks import HOME, TaggingStorage

WHOLE = ("x-amz-checksum-sha256", "n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU=")


def _message(expected: str) -> str:
    return f"The {expected} you specified did not match the calculated checksum."


def _null_mismatch(given: str) -> str:
    return (
        "Checksum Type mismatch occurred, expected checksum Type: null, "
        f"actual checksum Type: {given}"
    )


def check(
    upstream: ListingUpstream, home: Any = None, recorded: UploadChecksum | None = None
) -> S3Error | tuple[str, str] | None:
    """The refusal, or the whole-object checksum the Complete goes on with."""
    storage = TaggingStorage(upstream, home)
    uploads = MappedUploads(storage, {"up": upstream, "home": upstream})  # type: ignore[arg-type, dict-item]
    request = SimpleNamespace(bucket="b", key="k", header={}.get, query={})
    ctx = SimpleNamespace(request=request, storage=SimpleNamespace(uploads=uploads))
    try:
        return asyncio.run(_check_checksum_type(ctx, "u1", recorded, UploadMarks(), WHOLE))  # type: ignore[arg-type]
    except S3Error as error:
        return error


@pytest.mark.parametrize(
    ("expected", "given", "refused"),
    [
        ("CRC32", "CRC32", False),
        ("crc32", "CRC32", False),
        (None, None, False),
        ("CRC32", None, False),
        ("CRC32", "SHA256", True),
        (None, "CRC32", True),
        (None, "CRC64NVME", True),
    ],
)
def test_a_whole_object_checksum_must_be_of_the_uploads_algorithm(
    expected: str | None, given: str | None, refused: bool
) -> None:
    if not refused:
        check_object_algorithm(expected, given)
        return
    with pytest.raises(S3Error) as caught:
        check_object_algorithm(expected, given)
    assert given is not None
    if expected is None:  # nothing to compare it with: refused, never a 200 that checked nothing
        answer = (S3ErrorCode.InvalidRequest, _null_mismatch(given.lower()))
    else:
        answer = (S3ErrorCode.BadDigest, _message(expected.lower()))
    assert (caught.value.code, caught.value.message) == answer


def test_the_upload_id_names_the_algorithm_without_a_request() -> None:
    upstream = ListingUpstream(None)
    error = check(upstream, HOME, UploadChecksum("CRC32", "COMPOSITE"))
    assert isinstance(error, S3Error) and error.message == _message("crc32")
    assert upstream.listings == 0
    assert check(ListingUpstream(None), HOME, UploadChecksum("SHA256", "COMPOSITE")) == WHOLE


@pytest.mark.parametrize("home", [None, HOME], ids=["local-store", "home"])
def test_an_upload_without_an_algorithm_is_null_where_that_is_known(home: Any) -> None:
    """The local store lists what it keeps; a tenant with a home records every checksum."""
    error = check(ListingUpstream(None, records=home is not None), home)
    assert isinstance(error, S3Error) and error.code is S3ErrorCode.InvalidRequest
    assert error.message == _null_mismatch("sha256")


def test_an_algorithm_the_upstream_lists_is_checked() -> None:
    error = check(ListingUpstream(("CRC32", "FULL_OBJECT")))
    assert isinstance(error, S3Error) and error.message == _message("crc32")
    assert check(ListingUpstream(("SHA256", "COMPOSITE"))) == WHOLE


def test_an_algorithm_nobody_recorded_or_listed_is_refused_not_called_null() -> None:
    error = check(ListingUpstream(None))
    assert isinstance(error, S3Error) and error.code is S3ErrorCode.NotImplemented
    assert "null" not in str(error.message)
    assert error.message.startswith("x-amz-checksum-sha256 on CompleteMultipartUpload")
