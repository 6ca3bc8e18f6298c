"""Settings: frozen pydantic models, loaded from YAML, then ``S3PROXY_A__B`` env overrides, then
CLI flags; secrets may be written as ``env:NAME`` or ``file:PATH``.

Relative paths (``file:`` references, ``server.tls_cert``/``tls_key``) are relative to the config
file's directory, or to the working directory when there is no file. Error messages name the
field (``tenants.alice.home.upstream: unknown upstream 'x'``) and never contain a secret.

The sections live in their own modules (fields, server, upstreams, tenants); this one holds the
root ``Settings`` with the checks across sections, and re-exports every model so
``s3proxy.config.models`` stays the one place to import them from.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, model_validator

from s3proxy import event_loop
from s3proxy.backends.upstream_kind import is_aws
from s3proxy.config import tls_files
from s3proxy.config.fields import (
    CLIENT_BUCKET_RE,
    ENV_PREFIX,
    MASK,
    NAME_RE,
    ConfigError,
    FrozenModel,
    Name,
    rule,
)
from s3proxy.config.server import ServerConfig, ServerLimits
from s3proxy.config.tenants import (
    BucketMapping,
    GrantConfig,
    HomeConfig,
    KeyPair,
    Quota,
    TenantConfig,
    TenantLimits,
    build_layouts,
)
from s3proxy.config.upstreams import AnyUpstream, LocalStoreConfig, UpstreamConfig
from s3proxy.layout import SHARD_COUNTS, KeyEncoding, TenantLayout, UpstreamRoot
from s3proxy.owner import owner_id

__all__ = [
    "CLIENT_BUCKET_RE",
    "ENV_PREFIX",
    "MASK",
    "NAME_RE",
    "AnyUpstream",
    "BucketMapping",
    "ConfigError",
    "GrantConfig",
    "HomeConfig",
    "KeyPair",
    "LayoutConfig",
    "LocalStoreConfig",
    "LoggingConfig",
    "Quota",
    "ServerConfig",
    "ServerLimits",
    "Settings",
    "TenantConfig",
    "TenantLimits",
    "UpstreamConfig",
]


class LayoutConfig(FrozenModel):
    shards: Annotated[int, rule(SHARD_COUNTS.__contains__, "must be 1, 16, 256 or 4096")] = 16
    key_encoding: Literal["plain", "flat"] | None = None
    """How a client key is written upstream (README, "Upstream layout"). None: a new layout
    root gets ``flat`` on S3 upstreams and ``plain`` on the local store; an existing root keeps
    the encoding it was written with (s3proxy.backends.key_encoding)."""


class LoggingConfig(FrozenModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    access_log_keys: Literal["plain", "hash"] = "plain"
    """How access lines show object keys: as sent, or as a keyed hash (s3proxy.app._logged_key)."""


class Settings(FrozenModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    upstreams: dict[Name, AnyUpstream]
    tenants: dict[Name, TenantConfig]
    layout: LayoutConfig = Field(default_factory=LayoutConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    _layouts: dict[str, TenantLayout] = PrivateAttr(default_factory=dict)
    _secrets: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)
    _built_from: object = PrivateAttr(None)

    @model_validator(mode="after")
    def _cross_check(self) -> Settings:
        problems = [*self._check_server(), *self._check_tenants(), *self._check_overlaps()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _check_server(self) -> Iterator[str]:
        server = self.server
        if (server.tls_cert is None) != (server.tls_key is None):
            missing = "tls_key" if server.tls_key is None else "tls_cert"
            yield f"server.{missing}: tls_cert and tls_key must be given together"
        unfound = False
        for field in ("tls_cert", "tls_key"):
            path = getattr(server, field)
            if path is not None and not path.is_file():
                yield f"server.{field}: no such file '{path}'"
                unfound = True
        if server.tls_cert is not None and server.tls_key is not None and not unfound:
            yield from tls_files.pair_problems(server.tls_cert, server.tls_key)
        same_host = server.host == server.admin_host
        if same_host and server.port == server.admin_port and server.port != 0:
            yield f"server.admin_port: the same as server.port ({server.port})"
        if server.event_loop == "uvloop" and not event_loop.uvloop_available():
            yield "server.event_loop: uvloop is not installed (auto falls back to asyncio)"

    def _check_tenants(self) -> Iterator[str]:
        if not self.tenants:
            yield "tenants: at least one tenant is required"
        owners: dict[str, str] = {}
        for name, tenant in self.tenants.items():
            if tenant.home is not None and tenant.home.upstream not in self.upstreams:
                yield f"tenants.{name}.home.upstream: unknown upstream {tenant.home.upstream!r}"
            for bucket, mapping in tenant.buckets.items():
                if mapping.upstream not in self.upstreams:
                    path = f"tenants.{name}.buckets.{bucket}.upstream"
                    yield f"{path}: unknown upstream {mapping.upstream!r}"
            if tenant.quota is not None or tenant.bucket_quotas:
                yield from self._check_quota_upstreams(name, tenant)
            for index, pair in enumerate(tenant.keys):
                here = f"tenants.{name}.keys[{index}].access_key"
                first = owners.setdefault(pair.access_key, here)
                if first != here:
                    yield f"{here}: access key {pair.access_key!r} is already used at {first}"
        yield from self._check_owner_ids()

    def _check_quota_upstreams(self, name: str, tenant: TenantConfig) -> Iterator[str]:
        """The local store counts exactly, in its own index; S3 upstreams count through usage
        records under the tenant's home (README, "Quotas"). One scope cannot mix the two."""
        used = [tenant.home.upstream] if tenant.home is not None else []
        used += [mapping.upstream for mapping in tenant.buckets.values()]
        local = {u for u in used if isinstance(self.upstreams.get(u), LocalStoreConfig)}
        if tenant.quota is not None and local and len(set(used)) > 1:
            yield (
                f"tenants.{name}.quota: a tenant quota on a local store needs all the tenant's "
                "buckets on that store (use bucket_quotas for buckets elsewhere)"
            )
        limited = set(used) if tenant.quota is not None else set()
        for bucket in tenant.bucket_quotas:
            mapping = tenant.buckets.get(bucket)
            limited |= {mapping.upstream} if mapping is not None else set(used[:1])
        if limited - local and tenant.home is None:
            yield (
                f"tenants.{name}.quota: quotas on an S3 upstream keep their usage records in "
                "the tenant's home, and this tenant has none"
            )

    def _check_owner_ids(self) -> Iterator[str]:
        """Distinct tenants, distinct owner ids: a bucket owner condition must tell them apart."""
        seen: dict[str, str] = {}
        for name, tenant in self.tenants.items():
            owner = owner_id(name, tenant.owner_id)
            first = seen.setdefault(owner, name)
            if first != name:
                how = "configured" if tenant.owner_id is not None else "derived from the name"
                yield (
                    f"tenants.{name}.owner_id: owner id {owner} ({how}) is already "
                    f"tenants.{first}'s; give each tenant its own"
                )

    def _check_overlaps(self) -> Iterator[str]:
        """No two tenants' roots on one upstream bucket may contain one another.

        A home's root is its prefix (its client buckets live below it), so a mapping inside
        another tenant's home prefix is an overlap too. A tenant's own roots may nest, except
        that a mapped bucket may not hold its own tenant's home: with one shard and ``plain``
        keys, its client keys ``.buckets/…``, ``.usage/…`` would be the home's records.
        """
        store = {name: _store(config) for name, config in self.upstreams.items()}

        def bucket_of(root: UpstreamRoot) -> tuple[object, str]:
            return store.get(root.upstream, (root.upstream,)), root.bucket

        roots: list[tuple[str, str, UpstreamRoot]] = []
        for name, layout in build_layouts(self.tenants).items():
            if layout.home is not None:
                roots.append((f"tenants.{name}.home", name, layout.home))
            for bucket, root in layout.buckets.items():
                roots.append((f"tenants.{name}.buckets.{bucket}", name, root))
        for (first, owner, one), (path, tenant, root) in combinations(roots, 2):
            same_bucket = bucket_of(root) == bucket_of(one)
            nested = root.prefix.startswith(one.prefix) or one.prefix.startswith(root.prefix)
            if tenant != owner and same_bucket and nested:
                where = f"{root.upstream}:{root.bucket}/{root.prefix}"
                yield f"{path}: upstream root {where} overlaps {first} ({one.bucket}/{one.prefix})"
            elif (
                tenant == owner
                and same_bucket
                and first.endswith(".home")
                and one.prefix.startswith(root.prefix)  # the mapped root holds the home
            ):
                where = f"{root.upstream}:{root.bucket}/{root.prefix}"
                yield (
                    f"{path}: upstream root {where} holds {first} ({one.bucket}/{one.prefix}),"
                    " whose records would be keys of this bucket"
                )

    def model_post_init(self, context: Any, /) -> None:
        self._build()

    def _build(self) -> None:
        self._layouts = build_layouts(self.tenants)
        self._secrets = {
            pair.access_key: (name, pair.secret_key.get_secret_value())
            for name, tenant in self.tenants.items()
            for pair in tenant.keys
        }
        self._built_from = self.tenants

    def _fresh(self) -> None:
        if self._built_from is not self.tenants:  # model_copy(update={"tenants": …}) keeps privates
            self._build()

    def tenant_layouts(self) -> dict[str, TenantLayout]:
        self._fresh()
        return dict(self._layouts)

    def key_encoding_defaults(self) -> dict[str, KeyEncoding]:
        """Upstream name → the key encoding a new layout root on it gets."""
        configured = self.layout.key_encoding
        return {
            name: configured or ("plain" if isinstance(upstream, LocalStoreConfig) else "flat")
            for name, upstream in self.upstreams.items()
        }

    def owner_ids(self) -> dict[str, str]:
        """Tenant name → its owner id, configured or derived."""
        return {name: owner_id(name, tenant.owner_id) for name, tenant in self.tenants.items()}

    def secret_for(self, access_key: str) -> tuple[str, str] | None:
        """(tenant name, secret key) of a client access key, or None when it is unknown."""
        self._fresh()
        return self._secrets.get(access_key)


def _store(config: UpstreamConfig | LocalStoreConfig) -> tuple[str, ...]:
    """Which store an upstream entry names, for the overlap check: two entries may name one
    S3 service (another name for other credentials or pool settings, a default port written
    out, a host in capitals), and their buckets are then one bucket; on AWS a bucket name is
    global, whatever the endpoint. Compared by name, two tenants' roots there passed as apart.
    Only an S3 endpoint is AWS S3 (:func:`~s3proxy.backends.upstream_kind.is_aws`): a load
    balancer's or an instance's name under amazonaws.com is an operator's own store, and two of
    them are two stores (wave 15 R2: any such host counted as one AWS, so two tenants on two
    SeaweedFS behind two ELBs were refused as overlapping)."""
    if isinstance(config, LocalStoreConfig):
        return ("local", str(config.path))
    parts = urlsplit(config.endpoint)
    host = (parts.hostname or "").lower().rstrip(".")
    if is_aws(host, ""):
        return ("aws",)
    return (parts.scheme, host, str(parts.port or (443 if parts.scheme == "https" else 80)))
