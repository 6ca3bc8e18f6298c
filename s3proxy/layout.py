"""The upstream layout: where a tenant's (bucket, key) lives upstream. Pure, no I/O.

This is a public contract (README, "Upstream layout"); operators find data with it:

- a client bucket B of tenant T in T's home maps to the home's upstream bucket, under the root
  ``R = home.prefix + B + "/"``; an explicitly mapped bucket uses its configured upstream bucket
  and prefix as ``R``;
- client key K maps to upstream key ``R + shard(K) + "/" + K``, where ``shard(K)`` is the first
  ``log16(shards)`` lowercase hex digits of SHA-256(K's UTF-8 bytes) — no segment when shards = 1;
- keys are written byte-for-byte (no normalisation of ``.``, ``..``, ``//`` or Unicode);
- a client key over 1024 UTF-8 bytes, or one whose upstream key would pass 1024 bytes, is
  rejected with KeyTooLongError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from s3proxy.errors import S3Error, S3ErrorCode

MAX_KEY_BYTES = 1024
SHARD_COUNTS = {1: 0, 16: 1, 256: 2, 4096: 3}
"""Allowed shard counts and the number of hex digits each uses."""


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


def object_key(root: UpstreamRoot, key: str, digits: int) -> str:
    """The upstream key of client key ``key`` under ``root``; raises KeyTooLongError."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error(S3ErrorCode.KeyTooLongError)
    shard = shard_of(key, digits)
    upstream_key = f"{root.prefix}{shard}/{key}" if digits else f"{root.prefix}{key}"
    if len(upstream_key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error(S3ErrorCode.KeyTooLongError)
    return upstream_key


def locate(tenant: TenantLayout, bucket: str, key: str, digits: int) -> UpstreamLocation:
    """Map a client (bucket, key) to its upstream location; NoSuchBucket if it has no place."""
    root = bucket_root(tenant, bucket)
    if root is None:
        raise S3Error(S3ErrorCode.NoSuchBucket, BucketName=bucket)
    return UpstreamLocation(root.upstream, root.bucket, object_key(root, key, digits))
