"""The pure parts of s3proxy.handlers.multipart: upload-id tokens, part numbers, copy ranges,
the order and checksum rules of CompleteMultipartUpload."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.upload_records import UploadMarks
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.multipart import check_parts, copy_source_range, part_number
from s3proxy.handlers.upload_ids import issue_upload_id, verified_marks, verified_upload
from s3proxy.model import CompletedPart


def ctx(tenant: str = "alice", secret: str = "s" * 32) -> Any:
    return SimpleNamespace(tenant=tenant, secret=secret)


def test_upload_id_round_trip_and_determinism() -> None:
    token = issue_upload_id(ctx(), "docs", "k", "2~upstream")
    assert token == issue_upload_id(ctx(), "docs", "k", "2~upstream")
    assert verified_marks(ctx(), "docs", "k", token)[0] == "2~upstream"
    assert "docs" not in token and "2~upstream" not in token  # opaque on the wire


def test_an_sse_s3_upload_says_so_in_its_upload_id() -> None:
    """The flag UploadPart, UploadPartCopy and Complete answer SSE-S3 from; another
    (deterministic) token than a plain upload's."""
    encrypted = issue_upload_id(ctx(), "docs", "k", "2~upstream", sse_s3=True)
    plain = issue_upload_id(ctx(), "docs", "k", "2~upstream")
    assert encrypted == issue_upload_id(ctx(), "docs", "k", "2~upstream", sse_s3=True)
    assert verified_upload(ctx(), "docs", "k", encrypted)[3] is True
    assert verified_upload(ctx(), "docs", "k", plain)[3] is False
    assert verified_marks(ctx(), "docs", "k", encrypted)[2] == UploadMarks(sse_s3=True)
    assert verified_marks(ctx(), "docs", "k", plain)[:2] == ("2~upstream", None)
    marked = issue_upload_id(ctx(), "docs", "k", "2~upstream", None, UploadMarks(sse_s3=True))
    assert marked == encrypted  # ListMultipartUploads issues it from the .sse-s3 mark


@pytest.mark.parametrize(
    ("context", "bucket", "key"),
    [
        (ctx(tenant="bob"), "docs", "k"),
        (ctx(), "other", "k"),
        (ctx(), "docs", "k2"),
        (ctx(), "docs", "k "),
        (ctx(secret="t" * 32), "docs", "k"),
    ],
    ids=["tenant", "bucket", "key", "key-suffix", "secret"],
)
def test_upload_id_replayed_elsewhere_is_no_such_upload(
    context: Any, bucket: str, key: str
) -> None:
    token = issue_upload_id(ctx(), "docs", "k", "2~upstream")
    with pytest.raises(S3Error) as caught:
        verified_marks(context, bucket, key, token)
    assert caught.value.code is S3ErrorCode.NoSuchUpload


@pytest.mark.parametrize("token", ["", "garbage", "AAAA", "x" * 300, "é"])
def test_malformed_upload_ids_are_no_such_upload(token: str) -> None:
    with pytest.raises(S3Error) as caught:
        verified_marks(ctx(), "docs", "k", token)
    assert caught.value.code is S3ErrorCode.NoSuchUpload


@pytest.mark.parametrize("value", ["1", "9999", "10000", "007"])
def test_valid_part_numbers(value: str) -> None:
    assert part_number(value) == int(value)


@pytest.mark.parametrize("value", [None, "", "0", "10001", "-1", "1.5", "١", " 1"])
def test_invalid_part_numbers(value: str | None) -> None:
    with pytest.raises(S3Error) as caught:
        part_number(value)
    assert caught.value.code is S3ErrorCode.InvalidArgument


def test_copy_source_range() -> None:
    assert copy_source_range(None) is None
    assert copy_source_range("bytes=0-0") == (0, 0)
    assert copy_source_range(" bytes=5-10 ") == (5, 10)
    for bad in ("bytes=5-1", "bytes=-5", "bytes=5-", "5-10", "bytes=0-1,3-4", "items=0-1"):
        with pytest.raises(S3Error) as caught:
            copy_source_range(bad)
        assert caught.value.code is S3ErrorCode.InvalidArgument


def parts(*numbers: int, sums: list[dict[str, str]] | None = None) -> list[CompletedPart]:
    return [
        CompletedPart(n, f'"{n}"', (sums or [{}] * len(numbers))[i]) for i, n in enumerate(numbers)
    ]


def test_part_order() -> None:
    check_parts(parts(1, 2, 5))
    for numbers, code in (
        ((2, 1), S3ErrorCode.InvalidPartOrder),
        ((1, 1), S3ErrorCode.InvalidPartOrder),
        ((0, 1), S3ErrorCode.InvalidArgument),
        ((1, 10001), S3ErrorCode.InvalidArgument),
    ):
        with pytest.raises(S3Error) as caught:
            check_parts(parts(*numbers))
        assert caught.value.code is code


def test_per_part_checksums_all_or_none_of_one_algorithm() -> None:
    crc, sha = {"CRC32": "AAAAAA=="}, {"SHA1": "A" * 27 + "="}
    check_parts(parts(1, 2, sums=[crc, crc]))
    for sums in ([crc, {}], [{}, crc], [crc, sha]):
        with pytest.raises(S3Error) as caught:
            check_parts(parts(1, 2, sums=sums))
        assert caught.value.code is S3ErrorCode.InvalidRequest
