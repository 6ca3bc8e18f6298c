"""GetObject/HeadObject ``?partNumber=`` on an S3 upstream: the query and where the part lies.

Split from :mod:`s3proxy.backends.s3_multipart`: these serve reads of an object's part
(:mod:`s3proxy.backends.s3`), not the multipart upload calls that module holds.
"""

from __future__ import annotations

from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.wire import parse_content_range
from s3proxy.errors import S3Error, S3ErrorCode


def part_query(part_number: int | None) -> str:
    return "" if part_number is None else f"partNumber={part_number}"


def part_range_of(response: UpstreamResponse, part_number: int) -> tuple[int, int, int] | None:
    """Where part ``part_number`` lies in the object, from a ``?partNumber=`` answer.

    An upstream that ignores ``partNumber`` (Ceph RGW 16) answers 200 with the whole object:
    that is part 1 of a single-part object, past its only part for a higher number (416
    InvalidPartNumber, as S3 answers), and wrong for a multipart object, so it is refused
    rather than served as the part.
    """
    if response.status == 206:
        part_range = parse_content_range(response.headers.get("Content-Range", ""))
        if part_range is None:
            raise S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
        return part_range
    if "-" not in response.headers.get("ETag", ""):  # a plain object: one part, all of it
        if part_number == 1:
            return None
        raise S3Error(S3ErrorCode.InvalidPartNumber)
    raise S3Error(S3ErrorCode.NotImplemented, "This upstream does not serve partNumber reads.")
