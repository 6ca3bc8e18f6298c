"""The values the upload records (:mod:`s3proxy.backends.upload_records`) hold and are found
by: an upload's checksum algorithm and type, its other marks (tags, SSE-C, SSE-S3, storage
class, public ACL), the digests that name an upload and a part's ETag, and what one listing of a
bucket's records found. Kept apart from the records' reads and writes: the handlers that carry
these values in UploadIds and answers (:mod:`s3proxy.handlers.upload_ids`, the multipart
handlers and listings) need them without the upstream calls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from s3proxy.checksums import ALGORITHMS, CHECKSUM_TYPES


@dataclass(frozen=True, slots=True)
class UploadChecksum:
    """The checksum an upload was created with: algorithm and type (S3's 2025 rules)."""

    algorithm: str
    type: str

    def token(self) -> str:
        return f"{self.algorithm}.{self.type}"

    @classmethod
    def from_token(cls, value: object) -> UploadChecksum | None:
        """The value :meth:`token` wrote, or None for anything else."""
        if not isinstance(value, str):
            return None
        algorithm, _, kind = value.partition(".")
        if algorithm not in ALGORITHMS or kind not in CHECKSUM_TYPES:
            return None
        return cls(algorithm, kind)


def upload_digest(key: str, upload_id: str) -> str:
    material = key.encode("utf-8", "surrogatepass") + b"\x00" + upload_id.encode()
    return hashlib.sha256(material).hexdigest()[:32]


def etag_digest(etag: str) -> str:
    return hashlib.sha256(etag.strip().strip('"').lower().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class UploadMarks:
    """What an upload has records of besides checksums: its tags, its SSE-C key's use, its
    storage class (None: STANDARD, no record), its public ACL (None: private, no record), its
    creation with SSE-S3."""

    tagged: bool = False
    customer_key: bool = False
    storage_class: str | None = None
    acl: str | None = None
    sse_s3: bool = False

    @property
    def any(self) -> bool:
        return (
            self.tagged
            or self.customer_key
            or self.storage_class is not None
            or self.acl is not None
            or self.sse_s3
        )


@dataclass(frozen=True, slots=True)
class BucketRecords:
    """What :meth:`UploadRecords.read` found of one bucket's uploads, by
    :func:`upload_digest`."""

    checksums: dict[str, UploadChecksum]
    marks: dict[str, UploadMarks]
    tags_written: dict[str, str]
    """The upstream's LastModified of each tags record (the sweep's grace period)."""
