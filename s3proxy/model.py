"""Plain values that flow between handlers and backends: nothing here knows HTTP or I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from s3proxy.quick_init import quick_init

Body = AsyncIterator[bytes]
"""A request or response body: bounded chunks, consumed once."""

Tags = tuple[tuple[str, str], ...]
"""An object's tag set, (key, value) pairs in the order given (s3proxy.tagging checks them)."""

STANDARD = "STANDARD"
"""The storage class of every object that names none; S3 omits it from HEAD/GET headers."""


@dataclass(frozen=True, slots=True)
class QuotaScope:
    """One quota a write must fit in (s3proxy.quotas): the upstream roots whose objects it
    counts, as (upstream, upstream bucket, key prefix), and its limits (None: no limit)."""

    name: str
    """What the quota is, for messages and the usage endpoint: ``tenant`` or ``bucket B``."""
    roots: tuple[tuple[str, str, str], ...]
    max_bytes: int | None = None
    max_objects: int | None = None


META_PREFIX = "x-amz-meta-"
"""User metadata headers; stored and returned with the prefix stripped."""

# Content headers stored with an object and returned verbatim on GET/HEAD (lower-case names).
CONTENT_HEADERS = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)


def without_aws_chunked(encoding: str) -> str | None:
    """A Content-Encoding without ``aws-chunked`` (a transfer detail, never part of an object);
    None when nothing else is left. The rest is kept as sent, spacing included (S3 returns
    ``deflate, gzip`` as it was given; botocore appends ``,aws-chunked`` with no space)."""
    parts = encoding.split(",")
    kept = [part for part in parts if part.strip().lower() != "aws-chunked"]
    if len(kept) == len(parts):
        return encoding
    return ",".join(kept).strip() or None


@quick_init
@dataclass(frozen=True, slots=True)
class ObjectAttributes:
    """What a client sets on PUT and reads back on GET/HEAD, byte-for-byte.

    ``headers`` holds the CONTENT_HEADERS that were given; ``metadata`` the ``x-amz-meta-*``
    pairs with the prefix stripped, names lower-cased as S3 does.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class WriteConditions:
    """Conditional PUT, passed to the backend so the check and the write are one atomic step."""

    if_match: str | None = None
    if_none_match: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """SSE-C: the key a client encrypts an object with, as sent (base64), its MD5 already
    checked by :mod:`s3proxy.sse`. Never logged or stored: it only travels upstream."""

    algorithm: str
    key: str = field(repr=False)
    key_md5: str


@dataclass(frozen=True, slots=True)
class Encryption:
    """The server-side encryption a write asks for (:mod:`s3proxy.sse`): SSE-S3
    (``x-amz-server-side-encryption: AES256``) or SSE-C (a customer key)."""

    algorithm: str | None = None
    customer_key: CustomerKey | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class ReadConditions:
    """Conditional GET/HEAD headers, passed through as the client sent them."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None
    customer_key: CustomerKey | None = None
    """Not a condition: the SSE-C key a read of an SSE-C object must present. It lives here
    because it travels with every read of the object exactly as the conditions do (copy
    sources included), and s3proxy.conditions ignores it."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A single satisfiable-or-not range as the client asked for it.

    Exactly one form: ``start``/``end`` (end inclusive, may be past EOF), ``start`` alone
    (``a-``), or ``suffix`` (``-n``).
    """

    start: int | None = None
    end: int | None = None
    suffix: int | None = None

    def header(self) -> str:
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        if self.end is None:
            return f"bytes={self.start}-"
        return f"bytes={self.start}-{self.end}"


@quick_init
@dataclass(frozen=True, slots=True)
class PutObjectInput:
    bucket: str
    key: str
    body: Body
    content_length: int
    attributes: ObjectAttributes
    conditions: WriteConditions = WriteConditions()
    content_md5: str | None = None
    """Base64 MD5 the client sent; the proxy verifies it too, the backend may pass it on."""
    content_sha256: str | None = None
    """Lower-case hex SHA-256 the client signed; verified by the proxy, passed on when possible."""
    checksum: tuple[str, str] | None = None
    """(``x-amz-checksum-<alg>``, base64 value) declared up front; the upstream checks and
    stores it too."""
    trailer_checksum: tuple[str, Callable[[], str]] | None = None
    """(``x-amz-checksum-<alg>``, value getter) for a checksum known only once the body has been
    read (a client's trailer); the getter is valid after the body iterator is exhausted."""
    quota: tuple[QuotaScope, ...] = ()
    """The quotas the write must fit in, checked where the store can be exact (s3proxy.quotas)."""
    storage_class: str = STANDARD
    tags: Tags = ()
    """``x-amz-tagging``, already checked against S3's limits."""
    encryption: Encryption | None = None
    """SSE-S3 or SSE-C for the stored object (:mod:`s3proxy.sse`); None: none asked for."""


@dataclass(frozen=True, slots=True)
class PutObjectOutput:
    etag: str


@quick_init
@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An object's stored state as GET/HEAD report it."""

    size: int
    etag: str
    last_modified: str
    """HTTP-date exactly as the backend reported it."""
    attributes: ObjectAttributes
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    """Other response headers a client may rely on (``x-amz-checksum-*``, parts count)."""
    part_range: tuple[int, int, int] | None = None
    """(first, last, object size) of the part a ``partNumber`` HEAD asked for; None for the
    whole object (``size`` is then the object's size either way)."""
    storage_class: str = STANDARD
    tag_count: int = 0


@dataclass(slots=True)
class GetObjectOutput:
    """An object body being streamed. ``aclose`` must be awaited, even if the body is not read."""

    info: ObjectInfo
    body: Body
    content_range: tuple[int, int, int] | None
    """(first, last, total) when a range was served, else None."""
    content_length: int
    aclose: Callable[[], Awaitable[None]]


@quick_init
@dataclass(frozen=True, slots=True)
class ListEntry:
    """One object in a listing, as the backend reports it (no per-key HEAD). Built twice per
    listed key (upstream page, client page), hence :func:`quick_init`."""

    key: str
    etag: str
    size: int
    last_modified: str
    """ISO 8601, as listings carry it."""
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One upstream listing page: keys and common prefixes in the backend's order."""

    entries: list[ListEntry]
    prefixes: list[str]
    next_token: str | None
    """Opaque backend token for the next page; None when this was the last."""


@dataclass(frozen=True, slots=True)
class CopyObjectInput:
    source_bucket: str
    source_key: str
    bucket: str
    key: str
    replace_metadata: bool
    attributes: ObjectAttributes
    """Used only when ``replace_metadata``."""
    source_conditions: ReadConditions = ReadConditions()
    conditions: WriteConditions = WriteConditions()
    quota: tuple[QuotaScope, ...] = ()
    """The quotas the write must fit in, checked where the store can be exact (s3proxy.quotas)."""
    storage_class: str = STANDARD
    """The copy's class: S3 never copies the source's (absent header: STANDARD)."""
    tags: Tags | None = None
    """``x-amz-tagging-directive: REPLACE``: the request's tags; None (COPY): the source's."""
    encryption: Encryption | None = None
    """SSE-S3 or SSE-C for the copy (:mod:`s3proxy.sse`); the source's SSE-C key is in
    ``source_conditions``."""
    checksum_algorithm: str | None = None
    """``x-amz-checksum-algorithm``: the copy's checksum is summed anew in it
    (:mod:`s3proxy.backends.copy_checksum`); None: the source's is kept."""


@dataclass(frozen=True, slots=True)
class CopyObjectOutput:
    etag: str
    last_modified: str
    """ISO 8601."""
    checksums: Mapping[str, str] = field(default_factory=dict)
    """UploadPartCopy: the part's checksum of the upload's algorithm, where the backend
    computed it (S3's CopyPartResult shows it, and clients list it in Complete); CopyObject:
    the copy's FULL_OBJECT checksum (:mod:`s3proxy.backends.copy_checksum`)."""


@dataclass(frozen=True, slots=True)
class DeleteResult:
    key: str
    error: str | None = None
    """An S3 error code when this key could not be deleted."""


# --- multipart uploads ---------------------------------------------------------------------
# Backends see upstream upload ids only; the client's UploadId is an HMAC token the handlers
# issue and verify (s3proxy.handlers.multipart).


@dataclass(frozen=True, slots=True)
class CreateMultipartInput:
    bucket: str
    key: str
    attributes: ObjectAttributes
    checksum_algorithm: str | None = None
    """``x-amz-checksum-algorithm`` (``CRC32`` …): the upstream checks and combines part sums."""
    checksum_type: str | None = None
    """``x-amz-checksum-type`` (``COMPOSITE`` / ``FULL_OBJECT``), passed on as given."""
    storage_class: str = STANDARD
    tags: Tags = ()
    """The completed object's tags (``x-amz-tagging`` on Create)."""
    encryption: Encryption | None = None
    """SSE-S3 or SSE-C for the stored object (:mod:`s3proxy.sse`); None: none asked for."""


@dataclass(frozen=True, slots=True)
class UploadPartInput:
    bucket: str
    key: str
    upload_id: str
    part_number: int
    body: Body
    content_length: int
    content_md5: str | None = None
    content_sha256: str | None = None
    checksum: tuple[str, str] | None = None
    """As in :class:`PutObjectInput`: a checksum declared up front, passed on."""
    trailer_checksum: tuple[str, Callable[[], str]] | None = None
    """As in :class:`PutObjectInput`: a checksum known once the body has been read."""
    encryption: Encryption | None = None
    """SSE-C: the upload's customer key, which every part must present."""
    quota: tuple[QuotaScope, ...] = ()
    """The quotas the part's bytes must fit in, checked where the store can be exact."""


@dataclass(frozen=True, slots=True)
class UploadPartCopyInput:
    source_bucket: str
    source_key: str
    bucket: str
    key: str
    upload_id: str
    part_number: int
    source_range: tuple[int, int] | None = None
    """(first, last) byte offsets, inclusive, from ``x-amz-copy-source-range``."""
    source_conditions: ReadConditions = ReadConditions()
    encryption: Encryption | None = None
    """SSE-C: the upload's customer key (the source's is in ``source_conditions``)."""
    quota: tuple[QuotaScope, ...] = ()
    """The quotas the part's bytes must fit in, checked where the store can be exact."""


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One ``<Part>`` of a CompleteMultipartUpload request."""

    part_number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)
    """Algorithm (``CRC32`` …) → base64 value, as the client listed it."""


@dataclass(frozen=True, slots=True)
class CompleteMultipartInput:
    bucket: str
    key: str
    upload_id: str
    parts: list[CompletedPart]
    conditions: WriteConditions = WriteConditions()
    checksum: tuple[str, str] | None = None
    """A whole-object ``x-amz-checksum-<alg>`` header the client sent, passed on."""
    quota: tuple[QuotaScope, ...] = ()
    """The quotas the write must fit in, checked where the store can be exact (s3proxy.quotas)."""
    encryption: Encryption | None = None
    """SSE-C: the upload's customer key, passed on when the client sent it."""
    object_size: int | None = None
    """``x-amz-mp-object-size``: the size the client expects, checked against the parts'."""


@dataclass(frozen=True, slots=True)
class CompleteMultipartOutput:
    etag: str
    """Always S3's ``"md5-of-part-md5s-N"`` form, never empty."""
    checksums: Mapping[str, str] = field(default_factory=dict)
    """The object's checksums as the upstream reported them (``CRC32`` → ``…-N``)."""


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified: str
    """ISO 8601."""
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartsPage:
    parts: list[PartInfo]
    next_marker: int | None
    """The ``part-number-marker`` of the next page when truncated, else None."""
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    """``COMPOSITE`` / ``FULL_OBJECT`` when the upload has a checksum algorithm."""


@dataclass(frozen=True, slots=True)
class UploadInfo:
    key: str
    upload_id: str
    initiated: str
    """ISO 8601."""
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    """The upload's checksum, where the listing knows it (ListMultipartUploads reports both)."""


@dataclass(frozen=True, slots=True)
class UploadsPage:
    """One upstream ListMultipartUploads page, in the upstream's order."""

    uploads: list[UploadInfo]
    prefixes: list[str]
    next_marker: tuple[str, str] | None
    """(key marker, upload id marker) to resume from when truncated, else None."""
