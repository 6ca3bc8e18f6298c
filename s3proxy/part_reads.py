"""``?partNumber=1`` of an object that was not uploaded in parts, answered as S3 answers it.

S3 counts a plain object as one part, the whole of it, and serves part 1 as a range of every
byte: 206 Partial Content with ``Content-Range: bytes 0-(n-1)/n`` and no
``x-amz-mp-parts-count`` (that header is for multipart objects). The backends differ: the
local store and Ceph RGW 16 answer 200 without a range, SeaweedFS 4.48 answers the 206 but adds
``x-amz-mp-parts-count: 1``. Both are mended here, once, for GET and HEAD alike.

A multipart object's ETag ends in ``-N``; any other is a plain object's. An empty object has no
byte to name in a range and keeps its 200.
"""

from __future__ import annotations

import dataclasses

from s3proxy.model import ObjectInfo

PARTS_COUNT = "x-amz-mp-parts-count"


def _plain(info: ObjectInfo) -> bool:
    return "-" not in info.etag


def whole_object_part(
    info: ObjectInfo, part_number: int | None, served: tuple[int, int, int] | None
) -> tuple[int, int, int] | None:
    """The range a ``partNumber`` read serves: ``served`` as the backend said, or, for part 1
    of a plain object the backend answered whole, all of its bytes."""
    if part_number is None or served is not None or not _plain(info) or info.size == 0:
        return served
    return (0, info.size - 1, info.size)


def plain_part_info(info: ObjectInfo, part_number: int | None) -> ObjectInfo:
    """``info`` without a parts count an upstream gave a plain object's part read."""
    if part_number is None or PARTS_COUNT not in info.extra_headers or not _plain(info):
        return info
    extra = {name: value for name, value in info.extra_headers.items() if name != PARTS_COUNT}
    return dataclasses.replace(info, extra_headers=extra)
