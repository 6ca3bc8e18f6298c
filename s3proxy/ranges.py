"""HTTP Range for GetObject, as S3 applies it. Pure.

S3 serves one range: ``bytes=a-b`` (end clamped to the object), ``bytes=a-`` and ``bytes=-n``.
A header it cannot parse, or one asking for several ranges, is ignored and the whole object is
returned with 200; a first byte at or past the end is 416 InvalidRange with
``Content-Range: bytes */N``, and so is ``bytes=-0``, which names no byte at all. A suffix of an
empty object is ignored: 200 with the empty object, as AWS answers (a tail read of an empty
file must not fail). Parsing is linear in the header's length.
"""

from __future__ import annotations

import re

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_HUGE = 10**18  # past any object size (5 TiB); keeps int() linear on absurd digit strings


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def parse_range(header: str | None) -> ByteRange | None:
    """The single range a Range header asks for, or None when S3 would ignore it."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first and last:
        start, end = _number(first), _number(last)
        return ByteRange(start=start, end=end) if start <= end else None
    if first:
        return ByteRange(start=_number(first))
    if last:
        return ByteRange(suffix=_number(last))  # -0 too: unsatisfiable, not ignored
    return None


def resolve_range(byte_range: ByteRange, size: int) -> tuple[int, int] | None:
    """(first, last) byte offsets, inclusive, within an object of ``size`` bytes; None when S3
    ignores the range and serves the whole object (a suffix of an empty object)."""
    if byte_range.suffix is not None:
        if byte_range.suffix == 0:
            raise invalid_range(size)
        if size == 0:
            return None
        return max(size - byte_range.suffix, 0), size - 1
    assert byte_range.start is not None
    if byte_range.start >= size:
        raise invalid_range(size)
    end = size - 1 if byte_range.end is None else min(byte_range.end, size - 1)
    return byte_range.start, end


def invalid_range(size: int, requested: str | None = None) -> S3Error:
    """416 InvalidRange as S3 writes it: the Range header as sent (``RangeRequested``, when the
    caller has it) and the object's size (``ActualObjectSize``, which SDKs read to ask again
    without a range) in the body, ``Content-Range: bytes */N`` in the head."""
    fields = {"RangeRequested": requested} if requested is not None else {}
    return S3Error(
        S3ErrorCode.InvalidRange,
        headers={"Content-Range": f"bytes */{size}"},
        **fields,
        ActualObjectSize=str(size),
    )
