"""Settings: frozen pydantic models, loaded from YAML, then ``S3PROXY_A__B`` env overrides, then
CLI flags; secrets may be written as ``env:NAME`` or ``file:PATH``.

Relative paths (``file:`` references, ``server.tls_cert``/``tls_key``) are relative to the config
file's directory, or to the working directory when there is no file. Error messages name the
field (``tenants.alice.home.upstream: unknown upstream 'x'``) and never contain a secret.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator, Mapping
from itertools import combinations
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from s3proxy import event_loop
from s3proxy.layout import SHARD_COUNTS, KeyEncoding, TenantLayout, UpstreamRoot
from s3proxy.owner import OWNER_ID_RE, owner_id
from s3proxy.storage_classes import STORAGE_CLASSES

ENV_PREFIX = "S3PROXY_"
MASK = "********"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
CLIENT_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ConfigError(Exception):
    """An invalid configuration; the message names each bad field, one per line."""


def _rule(ok: Callable[[Any], object], message: str) -> AfterValidator:
    """A validator that rejects a value with ``message`` (which must not quote a secret)."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _domain(value: str) -> str:
    domain = value.strip().strip(".").lower()
    if not domain or "/" in domain or ":" in domain:
        raise ValueError("each domain must be a host name such as 's3.example.com'")
    return domain


Name = Annotated[str, _rule(NAME_RE.fullmatch, f"invalid name: must match ^{NAME_RE.pattern}$")]
Secret = Annotated[SecretStr, _rule(lambda s: s.get_secret_value(), "must not be empty")]
ClientSecret = Annotated[
    SecretStr, _rule(lambda s: len(s.get_secret_value()) >= 8, "must be at least 8 characters")
]
Prefix = Annotated[str, _rule(lambda p: p == "" or p.endswith("/"), "must end with '/'")]
ClientBucket = Annotated[
    str,
    _rule(
        lambda b: CLIENT_BUCKET_RE.fullmatch(b) and ".." not in b,
        "invalid bucket name: 3-63 lowercase letters, digits, '.' and '-'",
    ),
]
AccessKey = Annotated[
    str,
    Field(min_length=3, max_length=128),
    _rule(lambda k: not set(k) & set(" \t\n/:,"), "must not contain whitespace, '/', ':' or ','"),
]
UpstreamBucket = Annotated[str, _rule(lambda b: b and "/" not in b, "must be a bucket name")]
OwnerId = Annotated[
    str, _rule(OWNER_ID_RE.fullmatch, 'must be 12 digits, quoted in YAML ("012345678901")')
]
Port = Annotated[int, Field(ge=0, le=65535)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerLimits(_Frozen):
    """Defaults for every tenant's ``limits`` (s3proxy.limits); per worker process."""

    max_concurrent_requests: int = Field(default=64, ge=1)
    """Requests one tenant may have in progress; more wait ``max_wait``, then 503 SlowDown."""
    max_wait: float = Field(default=1.0, ge=0)
    """Seconds a request over its tenant's limit waits for a slot before 503 SlowDown."""
    requests_per_second: float = Field(default=0.0, ge=0)
    """Requests a second per tenant (token bucket, bursts of one second); 0: no limit."""
    bytes_per_second: float = Field(default=0.0, ge=0)
    """Request plus response body bytes a second per tenant; 0: no limit. While a tenant is
    over it, its new requests get 503 SlowDown; transfers in progress are not paused."""


class TenantLimits(_Frozen):
    max_concurrent_requests: int | None = Field(default=None, ge=1)
    """None: ``server.limits.max_concurrent_requests``."""
    requests_per_second: float | None = Field(default=None, ge=0)
    """None: ``server.limits.requests_per_second``; 0: no limit for this tenant."""
    bytes_per_second: float | None = Field(default=None, ge=0)
    """None: ``server.limits.bytes_per_second``; 0: no limit for this tenant."""


class Quota(_Frozen):
    """Storage limits (s3proxy.quotas): a write that would pass one gets 403 QuotaExceeded."""

    max_bytes: int | None = Field(default=None, ge=0)
    max_objects: int | None = Field(default=None, ge=0)


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: Port = 9000
    admin_host: str = "127.0.0.1"
    admin_port: Port = 9001
    region: str = Field(default="us-east-1", min_length=1)
    strict_region: bool = False
    virtual_host_domains: list[Annotated[str, AfterValidator(_domain)]] = []
    secret: Secret | None = None
    """HMAC secret for tokens; must be the same on every replica (check-config: 32+ bytes)."""
    bucket_cache_seconds: float = Field(default=10.0, ge=0)
    """How long a process trusts "this bucket exists" without asking the upstream. Workers of
    one server always agree; another replica may see a deleted bucket for this long (0: off)."""
    sse_c_over_http: bool = False
    """Accept SSE-C customer keys on plain-HTTP requests. S3 refuses them (400 InvalidRequest:
    the key would cross the network in clear); set true only where TLS ends in front of the
    proxy (a load balancer) and the hop to it is private."""
    quota_sync_seconds: float = Field(default=5.0, gt=0)
    """On S3 upstreams, how often each process publishes its quota usage changes and re-reads
    the other processes' (s3proxy.backends.usage_records): a write through one replica is
    counted by every other within twice this (README, "Quotas")."""
    max_skew_seconds: int = Field(default=900, ge=1)
    signature_v2: bool = True
    """Accept legacy Signature Version 2 (boto3's default presigned URLs, s3cmd option)."""
    shutdown_timeout: float = Field(default=30.0, ge=0)
    drain_delay: float = Field(default=0.0, ge=0)
    """Seconds between SIGTERM and closing the listener: /readyz answers 503 while requests are
    still served, so a load balancer takes the replica out before it stops accepting."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: Annotated[int, Field(ge=1, le=256)] | Literal["auto"] = "auto"
    """Processes serving the S3 port. One Python process uses one core; ``auto`` starts one per
    CPU this process may use (affinity and cgroup quota). The local store is served by one."""
    limits: ServerLimits = Field(default_factory=ServerLimits)
    body_idle_timeout: float = Field(default=20.0, gt=0)
    """Seconds a request body may send nothing before 400 RequestTimeout (S3 waits about 20)."""
    body_min_rate: float = Field(default=500.0, ge=0)
    """Bytes a second a request body must average over each ``body_idle_timeout`` the proxy
    spends waiting for it (Apache mod_reqtimeout's default), else 400 RequestTimeout."""
    max_client_connections: int = Field(default=10000, ge=1)
    """Open client connections per worker process; past it new ones get 503 SlowDown."""
    max_connections_per_client: int = Field(default=1000, ge=1)
    """Open connections per client address and worker process. Behind a load balancer every
    connection comes from its few addresses: raise this to max_client_connections there."""
    keep_alive_timeout: float = Field(default=75.0, gt=0)
    """Seconds an idle client connection is kept open between requests: longer than a load
    balancer's idle timeout (ALB: 60 s), so the balancer, not the proxy, closes idle ones."""
    engine: Literal["hypercorn", "uvicorn"] = "uvicorn"
    """The HTTP server of the S3 port: uvicorn with httptools (llhttp, a C HTTP/1.1 parser;
    s3proxy.uvicorn_engine), the default because it takes a quarter to two fifths less CPU per
    request than Hypercorn with h11 and passes the whole suite (BENCHMARKS.md, "Engine"); or
    ``hypercorn``, still supported. The admin port is served by Hypercorn either way."""
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    """The event loop of every serving process (s3proxy.event_loop): ``auto`` is uvloop where it
    is installed (less CPU per request), else asyncio's own loop."""
    allow_public_acls: bool = True
    """The operator's kill switch for public ACLs (s3proxy.acl): false refuses public-read and
    public-read-write with 403 AccessDenied and serves no anonymous request, whatever a bucket's
    record says."""
    ignore_unknown_headers: bool = False
    """Ignore ``x-amz-*`` request headers the header policy (s3proxy.header_policy) does not
    know, instead of refusing them with 501: a request may then be served without something it
    asked for. Headers the policy names keep their answers."""


class UpstreamConfig(_Frozen):
    """An S3 server the proxy forwards to (AWS S3, SeaweedFS, MinIO, Ceph RGW)."""

    type: Literal["s3"] = "s3"
    endpoint: str
    region: str = Field(default="us-east-1", min_length=1)
    access_key: Secret | None = None
    secret_key: Secret | None = None
    """Static keys. Without them the AWS credential chain provides them (environment, profile,
    ECS task role, EKS IRSA / pod identity, instance profile; s3proxy.backends.credentials)."""
    assume_role_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$"
    )
    """A role assumed with those credentials, refreshed before it expires: cross-account."""
    assume_role_external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    path_style: bool = True
    max_connections: int = Field(default=128, ge=1)
    """Connections to this upstream per tenant and worker: each tenant has its own pool, so a
    tenant whose requests stall cannot take another's connections (s3proxy.limits)."""
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=300.0, gt=0)
    verify_tls: bool = True
    request_style: Literal["plain", "aws-chunked"] = "plain"
    """How bodies go upstream. ``plain`` (Content-Length, checksum headers when known up front)
    works with every S3 server; ``aws-chunked`` also carries clients' trailer checksums, for
    upstreams that accept trailers (AWS S3, MinIO, SeaweedFS — not Ceph RGW 16)."""
    sse: tuple[Literal["SSE-C", "AES256"], ...] = ()
    """Server-side encryption this upstream really performs, forwarded for clients
    (s3proxy.sse): ``SSE-C`` (customer keys), ``AES256`` (SSE-S3). Anything not listed is 501:
    some servers answer 200 to what they do not do (Ceph RGW 16 ignores ``AES256``)."""
    storage_classes: tuple[str, ...] = ()
    """Storage classes besides STANDARD this upstream stores and reports in its listings (AWS
    S3: all; SeaweedFS: all; Ceph RGW: its placement's). Others are stored there as STANDARD
    and kept by the proxy in the tenant's home (s3proxy.backends.class_records)."""

    @field_validator("storage_classes")
    @classmethod
    def _storage_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - STORAGE_CLASSES)
        if unknown:
            raise ValueError(f"not S3 storage classes: {', '.join(unknown)}")
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: object) -> object:
        if value != "s3":
            raise ValueError("must be 's3' (an S3 server) or 'local' (the embedded store)")
        return value

    @model_validator(mode="after")
    def _keys_together(self) -> UpstreamConfig:
        if (self.access_key is None) != (self.secret_key is None):
            missing = "secret_key" if self.secret_key is None else "access_key"
            raise ValueError(
                f"{missing}: access_key and secret_key go together; give both, or neither to "
                "use the AWS credential chain"
            )
        if self.assume_role_external_id is not None and self.assume_role_arn is None:
            raise ValueError("assume_role_external_id: needs assume_role_arn")
        return self

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # Never echo the value: an endpoint may carry user:password.
        message = "must be an http:// or https:// URL without credentials"
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 — raises ValueError on a bad port
        except ValueError:
            raise ValueError(message) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError(message)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be a bare http(s)://host[:port] URL, without path or query")
        return f"{parts.scheme}://{parts.netloc}"


class LocalStoreConfig(_Frozen):
    """The embedded store: objects in a local directory, identical contents stored once."""

    type: Literal["local"]
    path: Path = Path("s3proxy-data")
    """Data directory (SQLite index and content-addressed blobs); relative to the config file."""


def _upstream_type(value: Any) -> str:
    kind = value.get("type", "s3") if isinstance(value, dict) else getattr(value, "type", "s3")
    return kind if kind in ("s3", "local") else "s3"  # an unknown type fails on the s3 Literal


AnyUpstream = Annotated[
    Annotated[UpstreamConfig, Tag("s3")] | Annotated[LocalStoreConfig, Tag("local")],
    Discriminator(_upstream_type),
]


Glob = Annotated[str, Field(min_length=1, max_length=1024)]


class GrantConfig(_Frozen):
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


class KeyPair(_Frozen):
    access_key: AccessKey
    secret_key: ClientSecret
    allow: list[GrantConfig] | None = Field(default=None, min_length=1)
    """What this key may do (s3proxy.grants); None: everything its tenant owns."""


class HomeConfig(_Frozen):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix | None = None
    """None means ``"<tenant>/"``; ``""`` puts the tenant's buckets at the bucket's top level."""


class BucketMapping(_Frozen):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix = ""


class TenantConfig(_Frozen):
    keys: list[KeyPair] = Field(min_length=1)
    home: HomeConfig | None = None
    buckets: dict[ClientBucket, BucketMapping] = {}
    limits: TenantLimits = Field(default_factory=TenantLimits)
    quota: Quota | None = None
    """Over all the tenant's buckets (its home and its mapped buckets)."""
    bucket_quotas: dict[ClientBucket, Quota] = {}
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


class LayoutConfig(_Frozen):
    shards: Annotated[int, _rule(SHARD_COUNTS.__contains__, "must be 1, 16, 256 or 4096")] = 16
    key_encoding: Literal["plain", "flat"] | None = None
    """How a client key is written upstream (README, "Upstream layout"). None: a new layout
    root gets ``flat`` on S3 upstreams and ``plain`` on the local store; an existing root keeps
    the encoding it was written with (s3proxy.backends.key_encoding)."""


class LoggingConfig(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    access_log_keys: Literal["plain", "hash"] = "plain"
    """How access lines show object keys: as sent, or as a keyed hash (s3proxy.app._logged_key)."""


class Settings(_Frozen):
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
        for field in ("tls_cert", "tls_key"):
            path = getattr(server, field)
            if path is not None and not path.is_file():
                yield f"server.{field}: no such file '{path}'"
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
        another tenant's home prefix is an overlap too. A tenant's own roots may nest.
        """
        roots: list[tuple[str, str, UpstreamRoot]] = []
        for name, layout in _build_layouts(self.tenants).items():
            if layout.home is not None:
                roots.append((f"tenants.{name}.home", name, layout.home))
            for bucket, root in layout.buckets.items():
                roots.append((f"tenants.{name}.buckets.{bucket}", name, root))
        for (first, owner, one), (path, tenant, root) in combinations(roots, 2):
            same_bucket = (root.upstream, root.bucket) == (one.upstream, one.bucket)
            nested = root.prefix.startswith(one.prefix) or one.prefix.startswith(root.prefix)
            if tenant != owner and same_bucket and nested:
                where = f"{root.upstream}:{root.bucket}/{root.prefix}"
                yield f"{path}: upstream root {where} overlaps {first} ({one.bucket}/{one.prefix})"

    def model_post_init(self, context: Any, /) -> None:
        self._build()

    def _build(self) -> None:
        self._layouts = _build_layouts(self.tenants)
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


def _build_layouts(tenants: Mapping[str, TenantConfig]) -> dict[str, TenantLayout]:
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
