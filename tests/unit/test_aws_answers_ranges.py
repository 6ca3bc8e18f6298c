"""Range answers AWS gives that RFC 9110 alone does not settle (s3proxy.ranges)."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange
from s3proxy.ranges import parse_range, resolve_range


@pytest.mark.parametrize("size", [0, 10])
def test_a_suffix_of_zero_bytes_is_416_whatever_the_size(size: int) -> None:
    parsed = parse_range("bytes=-0")
    assert parsed == ByteRange(suffix=0)
    with pytest.raises(S3Error) as caught:
        resolve_range(parsed, size)
    assert caught.value.code is S3ErrorCode.InvalidRange
    assert caught.value.headers["Content-Range"] == f"bytes */{size}"


def test_a_suffix_of_an_empty_object_is_ignored() -> None:
    assert resolve_range(ByteRange(suffix=5), 0) is None  # 200, the empty object


def test_a_first_byte_of_an_empty_object_stays_unsatisfiable() -> None:
    with pytest.raises(S3Error) as caught:
        resolve_range(ByteRange(start=0), 0)
    assert caught.value.code is S3ErrorCode.InvalidRange
