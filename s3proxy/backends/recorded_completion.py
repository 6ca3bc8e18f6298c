"""CompleteMultipartUpload and ListParts of an upload with checksum records: the stored parts
get the checksums recorded for them (:mod:`s3proxy.backends.upload_records`), and the object's
checksum is combined from them as S3 does (the local store's rules,
:mod:`s3proxy.backends.local.combined`). Kept apart from the records' reads and writes: this is
the arithmetic over what they hold, used by the multipart calls
(:mod:`s3proxy.backends.mapped_completion`, :mod:`s3proxy.backends.mapped_multipart`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from s3proxy.backends.local.combined import check_declared, object_checksum
from s3proxy.backends.local.index import StoredPart
from s3proxy.backends.upload_record_values import UploadChecksum, etag_digest
from s3proxy.model import CompleteMultipartInput, PartInfo

if TYPE_CHECKING:
    from s3proxy.backends.upload_records import UploadRecords


def part_with(
    part: PartInfo, checksum: UploadChecksum, found: Mapping[tuple[int, str], str]
) -> PartInfo:
    """``part`` with its recorded checksum, unless the upstream listed one."""
    if part.checksums:
        return part
    value = found.get((part.part_number, etag_digest(part.etag)))
    if value is None:
        return part
    return dataclasses.replace(part, checksums={checksum.algorithm: value})


class RecordedCompletion:
    """CompleteMultipartUpload of an upload with records: the stored parts get their recorded
    checksums before :func:`~s3proxy.completion.check_completion` compares the listed ones,
    and the object's checksum is combined from them as S3 does, for an upstream that answers
    none (Ceph RGW 16)."""

    def __init__(self, records: UploadRecords, checksum: UploadChecksum) -> None:
        self.records = records
        self.checksum = checksum
        self.combined: str | None = None
        self.declared: tuple[str, str] | None = None
        """The client's whole-object checksum once checked, as the upstream is sent it."""

    async def merge(
        self, request: CompleteMultipartInput, stored: list[PartInfo]
    ) -> list[PartInfo]:
        found = await self.records.part_checksums(
            request.bucket, request.key, request.upload_id, self.checksum
        )
        return [part_with(part, self.checksum, found) for part in stored]

    def combine(self, request: CompleteMultipartInput, stored: list[PartInfo]) -> None:
        """After check_completion (every listed part is stored): the object's checksum; a
        whole-object checksum the client sent must match it (BadDigest, nothing assembled).
        None when a part has no checksum of the upload's algorithm: nothing is claimed."""
        by_tag = {(part.part_number, etag_digest(part.etag)): part for part in stored}
        chosen = [by_tag[(part.part_number, etag_digest(part.etag))] for part in request.parts]
        self.combined = object_checksum(
            self.checksum.algorithm,
            self.checksum.type,
            [StoredPart("", part.size, part.checksums) for part in chosen],
        )
        combined = {} if self.combined is None else {self.checksum.algorithm: self.combined}
        self.declared = check_declared(request.checksum, combined)
