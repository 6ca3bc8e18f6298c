"""GetObject and HeadObject on the local store: the reads of :class:`~.store.LocalStore`.

Split from :mod:`.store` (a pure move, wave 16) to keep that module well under the 500-line
limit: the object read path is one concern of its own, what a GET/HEAD answers from the
object's row, and a ``partNumber`` read above all: where the part lies, which numbering it is
read by (:func:`_check_numbering`) and which checksums it answers (:func:`_part_checksums`).
A GET pins the object's blobs until its body is closed, so a delete or overwrite meanwhile
frees them only after (:meth:`~.core.StoreCore._pin`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from s3proxy.backends.local.blobs import open_first, read_segments
from s3proxy.backends.local.conditions import check_read, http_date
from s3proxy.backends.local.core import CHECKSUM_HEADER, StoreCore
from s3proxy.backends.local.index import ObjectRecord, StoredPart
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange, GetObjectOutput, ObjectAttributes, ObjectInfo, ReadConditions
from s3proxy.range_checksums import covers_whole, ranged_headers
from s3proxy.ranges import resolve_range

log = logging.getLogger("s3proxy.local")


class LocalReads(StoreCore):
    """GET/HEAD of :class:`~.store.LocalStore` (module docstring)."""

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo:
        record = await self._run(self._lookup, bucket, key, conditions, False)
        return _info(record, checksum_mode, part_number)

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput:
        record = await self._run(
            self._lookup, bucket, key, conditions, True, abandoned=self._unpin_record
        )
        pinned = [part.sha256 for part in record.segments]
        try:
            info = _info(record, checksum_mode, part_number)
            content_range: tuple[int, int, int] | None = None
            first, last = 0, record.size - 1
            if info.part_range is not None:
                first, last, _ = content_range = info.part_range
            elif byte_range is not None:
                resolved = resolve_range(byte_range, record.size)
                if resolved is not None:  # None: S3 ignores this range, serves the object
                    first, last = resolved
                    content_range = (first, last, record.size)
                    whole = covers_whole(first, last, record.size)
                    extra = ranged_headers(info.extra_headers, whole)  # (s3proxy.range_checksums)
                    info = dataclasses.replace(info, extra_headers=extra)
            segments = record.blob_segments()
            opened = await asyncio.to_thread(open_first, self.files, segments, first, last)
        except FileNotFoundError as exc:
            await self._unpin(pinned)
            log.error("local store %s: a blob is missing: %s", self.name, exc.filename)
            raise S3Error(S3ErrorCode.InternalError) from None
        except BaseException:
            await self._unpin(pinned)
            raise
        body = read_segments(self.files, segments, first, last, opened)

        async def aclose() -> None:
            try:
                await body.aclose()
            finally:
                if opened is not None:
                    await asyncio.shield(asyncio.to_thread(opened.close))
                await self._unpin(pinned)

        return GetObjectOutput(
            info=info,
            body=body,
            content_range=content_range,
            content_length=max(last - first + 1, 0),
            aclose=aclose,
        )

    def _lookup(self, bucket: str, key: str, conditions: ReadConditions, pin: bool) -> ObjectRecord:
        record = self.index.find_object(bucket, key, with_segments=True)
        if record is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        check_read(conditions, record.etag, record.modified_ms)
        if pin:
            self._pin(part.sha256 for part in record.segments)
        return record


def _check_numbering(segments: Sequence[StoredPart], part_number: int) -> None:
    """Refuse (501) a part read that an object completed from sparse part numbers (1 and 3,
    say) would answer differently by position and by uploaded number. S3 documents neither
    reading (SeaweedFS 4.48 reads by number: part 2 of 1 and 3 is 416, part 3 the third
    upload's bytes), and serving bytes under a number that may be wrong is worse than refusing.
    Where both readings agree (part 1 of 1 and 3; part 4, which neither has) it is served."""
    numbers = {part.part_number for part in segments}
    if part_number <= len(segments):
        agreed = segments[part_number - 1].part_number in (0, part_number)
    else:
        agreed = part_number not in numbers
    if not agreed:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "A partNumber read of an object completed from non-consecutive part numbers"
            " is not implemented",
        )


def _part_checksums(record: ObjectRecord, part_number: int) -> dict[str, str]:
    """The checksums a ``partNumber`` read of a multipart object answers, as S3 answers them:
    a part's own checksum where the object's is COMPOSITE (made of its parts', ``…-N``); a
    FULL_OBJECT one is the whole object's, no part's, so none, unless the object is its one
    part (then the two are equal). The store answered the part's own in every case before;
    its type is the object's, COMPOSITE (:func:`_info`; it said FULL_OBJECT before wave 16)."""
    own = record.segments[part_number - 1].checksums
    return {
        algorithm: value
        for algorithm, value in own.items()
        if algorithm in record.checksums
        and (record.parts_count == 1 or _composite(record.checksums[algorithm]))
    }


def _composite(value: str) -> bool:
    """A COMPOSITE checksum ends in ``-N``, the part count (:func:`s3proxy.checksums.
    checksum_type_of`, not imported: its awscrt import is what ``s3proxy stats`` avoids)."""
    _, dash, count = value.rpartition("-")
    return bool(dash) and count.isdigit()


def _info(record: ObjectRecord, checksum_mode: bool, part_number: int | None) -> ObjectInfo:
    """What GET/HEAD report; with ``part_number``, where that part lies (S3: a plain object
    has one part, the whole of it; a part past the last is InvalidPartNumber)."""
    extra: dict[str, str] = {}
    checksums = record.checksums
    part_range: tuple[int, int, int] | None = None
    if part_number is not None:
        if record.parts_count == 0 and part_number != 1:
            raise S3Error(S3ErrorCode.InvalidPartNumber)
        if record.parts_count:
            _check_numbering(record.segments, part_number)
            if part_number > len(record.segments):
                raise S3Error(S3ErrorCode.InvalidPartNumber)
            first = sum(part.size for part in record.segments[: part_number - 1])
            size = record.segments[part_number - 1].size
            part_range = (first, first + size - 1, record.size)
            checksums = _part_checksums(record, part_number)
            extra["x-amz-mp-parts-count"] = str(record.parts_count)
    if checksum_mode:
        for algorithm, value in checksums.items():
            extra[CHECKSUM_HEADER + algorithm.lower()] = value
        if part_range and checksums and any(map(_composite, record.checksums.values())):
            extra[CHECKSUM_HEADER + "type"] = "COMPOSITE"  # a part's own sum, its object's type
    return ObjectInfo(
        size=record.size,
        etag=record.etag,
        last_modified=http_date(record.modified_ms),
        attributes=ObjectAttributes(headers=dict(record.headers), metadata=dict(record.metadata)),
        extra_headers=extra,
        part_range=part_range,
        storage_class=record.storage_class,
        tag_count=len(record.tags),
    )
