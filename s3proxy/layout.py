"""The upstream layout: where a tenant's (bucket, key) lives upstream. Pure, no I/O.

This is a public contract (README, "Upstream layout"); operators find data with it:

- a client bucket B of tenant T in T's home maps to the home's upstream bucket, under the root
  ``R = home.prefix + B + "/"``; an explicitly mapped bucket uses its configured upstream bucket
  and prefix as ``R``;
- client key K maps to upstream key ``R + shard(K) + "/" + part(K)``, where ``shard(K)`` is the
  first ``log16(shards)`` lowercase hex digits of SHA-256(K's UTF-8 bytes) — no segment when
  shards = 1 — and ``part(K)`` is K itself under key encoding ``plain`` (byte-for-byte, no
  normalisation of ``.``, ``..``, ``//`` or Unicode) or :func:`s3proxy.keycodec.encode` (K)
  under ``flat``;
- a client key over 1024 UTF-8 bytes, or one whose upstream key would pass 1024 bytes on an
  S3 upstream (the limit of AWS S3, Ceph RGW and SeaweedFS alike; the local store has none),
  is rejected with KeyTooLongError before any byte of a body moves. Under ``flat`` the
  upstream key is longer (3 bytes for each byte that is not an ASCII letter or digit), so
  fewer client keys fit. Such a key of up to 1024 bytes (:class:`UnstorableKey`) is legal on
  S3, and no write can store it here: where it must already be stored (a read, a delete, a
  copy source) it is answered as a missing key (:func:`absent_if_unstorable`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from s3proxy import keycodec
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.quick_init import quick_init

MAX_KEY_BYTES = 1024
SHARD_COUNTS = {1: 0, 16: 1, 256: 2, 4096: 3}
"""Allowed shard counts and the number of hex digits each uses."""

KeyEncoding = Literal["plain", "flat"]


@dataclass(frozen=True, slots=True)
class UpstreamRoot:
    """Where one client bucket's keys start upstream."""

    upstream: str
    bucket: str
    prefix: str


@dataclass(frozen=True, slots=True)
class TenantLayout:
    """A tenant's storage: its home (for buckets it creates) and explicitly mapped buckets."""

    name: str
    home: UpstreamRoot | None = None
    buckets: Mapping[str, UpstreamRoot] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class UpstreamLocation:
    upstream: str
    bucket: str
    key: str


def shard_digits(shards: int) -> int:
    try:
        return SHARD_COUNTS[shards]
    except KeyError:
        raise ValueError(f"shards must be one of {sorted(SHARD_COUNTS)}, not {shards}") from None


def shard_of(key: str, digits: int) -> str:
    """The shard segment of a key: the first ``digits`` hex digits of SHA-256(key)."""
    if digits == 0:
        return ""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


def bucket_root(tenant: TenantLayout, bucket: str) -> UpstreamRoot | None:
    """The root of a client bucket, or None when the tenant has no place for it."""
    mapped = tenant.buckets.get(bucket)
    if mapped is not None:
        return mapped
    if tenant.home is None:
        return None
    home = tenant.home
    return UpstreamRoot(home.upstream, home.bucket, f"{home.prefix}{bucket}/")


def key_part(key: str, encoding: KeyEncoding) -> str:
    """How client key ``key`` is written below its shard directory."""
    return keycodec.encode(key) if encoding == "flat" else key


def prefix_part(prefix: str, encoding: KeyEncoding) -> str:
    """What the key part of every key starting with client prefix ``prefix`` starts with."""
    return keycodec.encode_prefix(prefix) if encoding == "flat" else prefix


def client_key(part: str, encoding: KeyEncoding) -> str | None:
    """The client key written as key part ``part``; None when no client key is written so."""
    return keycodec.decode(part) if encoding == "flat" else part


def key_too_long(key: str) -> S3Error:
    """S3's KeyTooLongError for a key over 1024 UTF-8 bytes, with the ``<Size>`` of the key
    and the ``<MaxSizeAllowed>`` that S3's error document names."""
    size = len(key.encode("utf-8", "surrogatepass"))
    return S3Error(S3ErrorCode.KeyTooLongError, Size=str(size), MaxSizeAllowed=str(MAX_KEY_BYTES))


class UnstorableKey(S3Error):
    """KeyTooLongError for a key of at most 1024 bytes whose upstream key would pass the
    upstream's limit: S3 takes it, but no write can store it under this layout (README, "The
    upstream layout"). A write is refused with it; no ``<Size>``, which S3 says only of keys
    over its own limit."""

    def __init__(self) -> None:
        super().__init__(S3ErrorCode.KeyTooLongError)


class absent_if_unstorable:  # named as the function it replaced: ``with absent_if_unstorable():``
    """Around the look-up of a key that must already be stored (a read, a copy's source): an
    :class:`UnstorableKey` was never stored, so it is S3's answer for a missing key, 404
    NoSuchKey (a HEAD before an upload was 400 where S3 says 404). A copy's names its
    ``source_key``, as S3's does (s3proxy.copy_errors); any other, the request's key.

    A class, not a ``contextlib.contextmanager``: it is entered on every read, and a
    generator-based one costs a generator and its frames each time (~1 µs of a small GET's
    ~70 in process, BENCHMARKS.md "Wave 16 G")."""

    __slots__ = ("_source_key",)

    def __init__(self, source_key: str | None = None) -> None:
        self._source_key = source_key

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> None:
        if kind is None or not issubclass(kind, UnstorableKey):
            return  # no exception, or another: it goes on as it was
        missing = S3Error(S3ErrorCode.NoSuchKey)
        if self._source_key is not None:
            missing.fields["Key"] = self._source_key
        raise missing from None


def absent_delete(if_match: str | None) -> None:
    """DeleteObject of an :class:`UnstorableKey`: S3 deletes a missing key (204), and a
    conditional delete of one is 404 NoSuchKey."""
    if if_match is not None:
        raise S3Error(S3ErrorCode.NoSuchKey)


def object_key(
    root: UpstreamRoot,
    key: str,
    digits: int,
    encoding: KeyEncoding = "plain",
    key_limit: int | None = MAX_KEY_BYTES,
) -> str:
    """The upstream key of client key ``key`` under ``root``; raises KeyTooLongError
    (:func:`key_too_long`, or :class:`UnstorableKey` for a key S3 would take).

    ``key_limit`` is the upstream's own limit on its keys (None: none, as in the local store,
    whose keys are column values: there every client key up to 1024 bytes fits, as on S3)."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise key_too_long(key)
    shard = shard_of(key, digits)
    part = key_part(key, encoding)
    upstream_key = f"{root.prefix}{shard}/{part}" if digits else f"{root.prefix}{part}"
    if key_limit is not None and len(upstream_key.encode("utf-8", "surrogatepass")) > key_limit:
        raise UnstorableKey
    return upstream_key


def locate(
    tenant: TenantLayout, bucket: str, key: str, digits: int, encoding: KeyEncoding = "plain"
) -> UpstreamLocation:
    """Map a client (bucket, key) to its upstream location; NoSuchBucket if it has no place."""
    return locate_under(bucket_root(tenant, bucket), bucket, key, digits, encoding)


def locate_under(
    root: UpstreamRoot | None,
    bucket: str,
    key: str,
    digits: int,
    encoding: KeyEncoding = "plain",
    key_limit: int | None = MAX_KEY_BYTES,
) -> UpstreamLocation:
    """:func:`locate` for a caller that has ``bucket_root(tenant, bucket)`` already."""
    if root is None:
        raise S3Error(S3ErrorCode.NoSuchBucket, BucketName=bucket)
    return UpstreamLocation(
        root.upstream, root.bucket, object_key(root, key, digits, encoding, key_limit)
    )


def layout_root(tenant: TenantLayout, bucket: str) -> UpstreamRoot | None:
    """The root whose marker records the key encoding of ``bucket``'s keys: the home for the
    buckets a tenant creates (one encoding for the whole home), the mapping's own root for an
    explicitly mapped bucket."""
    return tenant.buckets.get(bucket) or tenant.home
