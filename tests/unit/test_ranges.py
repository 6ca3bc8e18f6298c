import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange
from s3proxy.ranges import parse_range, resolve_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(start=0, end=9)),
        ("bytes=5-", ByteRange(start=5)),
        ("bytes=-3", ByteRange(suffix=3)),
        (" bytes=1-1 ", ByteRange(start=1, end=1)),
    ],
)
def test_single_ranges(header: str, expected: ByteRange) -> None:
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=",
        "bytes=-",
        "bytes=5-1",
        "bytes=0-1,3-4",
        "items=0-1",
        "bytes=a-b",
    ],
)
def test_unusable_ranges_mean_whole_object(header: str | None) -> None:
    assert parse_range(header) is None


@pytest.mark.parametrize(
    ("byte_range", "size", "span"),
    [
        (ByteRange(start=0, end=9), 100, (0, 9)),
        (ByteRange(start=90, end=200), 100, (90, 99)),
        (ByteRange(start=10), 100, (10, 99)),
        (ByteRange(suffix=10), 100, (90, 99)),
        (ByteRange(suffix=500), 100, (0, 99)),
    ],
)
def test_resolve_clamps(byte_range: ByteRange, size: int, span: tuple[int, int]) -> None:
    assert resolve_range(byte_range, size) == span


def test_start_past_end_is_416_with_size() -> None:
    with pytest.raises(S3Error) as caught:
        resolve_range(ByteRange(start=100), 100)
    assert caught.value.code is S3ErrorCode.InvalidRange
    assert caught.value.status == 416
    assert caught.value.headers["Content-Range"] == "bytes */100"


def test_huge_numbers_parse_in_linear_time() -> None:
    header = "bytes=" + "9" * 100_000 + "-"
    parsed = parse_range(header)
    assert parsed is not None
    with pytest.raises(S3Error):
        resolve_range(parsed, 10)
