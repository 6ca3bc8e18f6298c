"""The ``tenants`` section: client keys and their grants, homes, mapped buckets, limits, quotas.

``build_layouts`` turns it into the ``TenantLayout`` values the request path uses (where each
tenant's buckets live upstream); ``Settings`` builds them once per tenants mapping.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from s3proxy.config.fields import (
    AccessKey,
    ClientBucket,
    ClientSecret,
    FrozenModel,
    OwnerId,
    Prefix,
    UpstreamBucket,
)
from s3proxy.layout import TenantLayout, UpstreamRoot


class TenantLimits(FrozenModel):
    max_concurrent_requests: int | None = Field(default=None, ge=1)
    """None: ``server.limits.max_concurrent_requests``."""
    max_concurrent_expensive: int | None = Field(default=None, ge=1)
    """None: ``server.limits.max_concurrent_expensive``."""
    requests_per_second: float | None = Field(default=None, ge=0)
    """None: ``server.limits.requests_per_second``; 0: no limit for this tenant."""
    bytes_per_second: float | None = Field(default=None, ge=0)
    """None: ``server.limits.bytes_per_second``; 0: no limit for this tenant."""
    max_buckets: int | None = Field(default=None, ge=0)
    """None: ``server.limits.max_buckets``."""


class Quota(FrozenModel):
    """Storage limits (s3proxy.quotas): a write that would pass one gets 403 QuotaExceeded."""

    max_bytes: int | None = Field(default=None, ge=0)
    max_objects: int | None = Field(default=None, ge=0)


Glob = Annotated[str, Field(min_length=1, max_length=1024)]


class GrantConfig(FrozenModel):
    """One grant of a scoped key (s3proxy.grants): actions on buckets, optionally on prefixes.

    Globs take ``*`` (any run, '/' included) and ``?``; bucket globs match the whole name,
    prefix globs the start of a key."""

    actions: list[Literal["read", "write", "delete", "list", "admin"]] = Field(min_length=1)
    buckets: list[Glob] = Field(default=["*"], min_length=1)
    prefixes: list[Annotated[str, Field(max_length=1024)]] | None = Field(
        default=None, min_length=1
    )
    """None: every key of the buckets."""

    @model_validator(mode="after")
    def _admin_whole_buckets(self) -> GrantConfig:
        if "admin" in self.actions and self.prefixes is not None:
            raise ValueError(
                "admin acts on whole buckets (create, delete, versioning): "
                "put it in a grant without prefixes"
            )
        return self


class KeyPair(FrozenModel):
    access_key: AccessKey
    secret_key: ClientSecret
    allow: list[GrantConfig] | None = Field(default=None, min_length=1)
    """What this key may do (s3proxy.grants); None: everything its tenant owns."""


class HomeConfig(FrozenModel):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix | None = None
    """None means ``"<tenant>/"``; ``""`` puts the tenant's buckets at the bucket's top level."""


class BucketMapping(FrozenModel):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix = ""


class TenantConfig(FrozenModel):
    keys: list[KeyPair] = Field(min_length=1)
    home: HomeConfig | None = None
    buckets: dict[ClientBucket, BucketMapping] = Field(default_factory=dict)
    limits: TenantLimits = Field(default_factory=TenantLimits)
    quota: Quota | None = None
    """Over all the tenant's buckets (its home and its mapped buckets)."""
    bucket_quotas: dict[ClientBucket, Quota] = Field(default_factory=dict)
    """Per client bucket, on top of ``quota``."""
    owner_id: OwnerId | None = None
    """12 digits, shown as the Owner ID in listings and checked against
    x-amz-expected-bucket-owner; None derives one from the tenant name (s3proxy.owner)."""

    @field_validator("owner_id", mode="before")
    @classmethod
    def _owner_id(cls, value: object) -> object:
        # YAML reads an unquoted 123456789012 as a number; only 12 digits say it unambiguously
        # (a shorter number may have lost leading zeros, or been read as octal).
        if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 12:
            return str(value)
        return value


def build_layouts(tenants: Mapping[str, TenantConfig]) -> dict[str, TenantLayout]:
    layouts = {}
    for name, tenant in tenants.items():
        home = None
        if tenant.home is not None:
            prefix = f"{name}/" if tenant.home.prefix is None else tenant.home.prefix
            home = UpstreamRoot(tenant.home.upstream, tenant.home.bucket, prefix)
        buckets = {
            bucket: UpstreamRoot(mapping.upstream, mapping.bucket, mapping.prefix)
            for bucket, mapping in tenant.buckets.items()
        }
        layouts[name] = TenantLayout(name, home, types.MappingProxyType(buckets))
    return layouts
