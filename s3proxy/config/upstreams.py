"""The ``upstreams`` section: S3 servers the proxy forwards to, and the embedded local store.

``AnyUpstream`` tells the two apart by ``type`` (``s3`` when absent); an unknown type is
reported by the S3 model's own check, so the message lists both choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from s3proxy.config.fields import FrozenModel, Region, Secret
from s3proxy.storage_classes import STORAGE_CLASSES


class UpstreamConfig(FrozenModel):
    """An S3 server the proxy forwards to (AWS S3, SeaweedFS, MinIO, Ceph RGW)."""

    type: Literal["s3"] = "s3"
    endpoint: str
    region: Region = "us-east-1"
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
    max_connections_total: int | None = Field(default=None, ge=2)
    """Connections to this upstream per worker, all tenants together (native client; open,
    in use or idle), so many tenants cannot exhaust the worker's file descriptors: when spent,
    the oldest idle connection is closed, else a request waits ``connect_timeout`` for one,
    then 503 SlowDown (s3proxy.backends.upstream_budget). Must be above ``max_connections``.
    Unset: half the worker's open-file limit (``ulimit -n``), at least 2 × max_connections."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to open a connection, and (native client) the longest a request waits for one of
    its tenant's ``max_connections``: then 503 SlowDown, nothing sent (upstream_pool)."""
    read_timeout: float = Field(default=300.0, gt=0)
    verify_tls: bool = True
    client: Literal["native", "aiohttp"] = "native"
    """The HTTP/1.1 client of this hop: ``native`` (asyncio + httptools,
    s3proxy.backends.upstream_http; less CPU per request) or ``aiohttp`` (the one before)."""
    request_style: Literal["plain", "aws-chunked"] = "plain"
    """How bodies go upstream. ``plain`` (Content-Length, checksum headers when known up front)
    works with every S3 server, and sends a client's trailer checksum of a body over 64 KiB as
    an aws-chunked trailer only to servers known to keep it (SeaweedFS; AWS S3, MinIO over
    https); ``aws-chunked`` sends it so to any upstream, for those that accept trailers (AWS
    S3, MinIO, SeaweedFS — not Ceph RGW 16). See s3proxy.backends.upstream_chunked."""
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
        total = self.max_connections_total
        if total is not None and total <= self.max_connections:
            raise ValueError(
                f"max_connections_total ({total}) must be above max_connections "
                f"({self.max_connections}): a tenant whose requests stall could otherwise take "
                "every connection"
            )
        return self

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # Never echo the value: an endpoint may carry user:password.
        message = "must be an http:// or https:// URL without credentials"
        try:
            parts = urlsplit(value)
        except ValueError:
            raise ValueError(message) from None
        try:
            port = parts.port  # ValueError on a port out of range or not a number
        except ValueError:
            port = 0
        if port == 0:  # port 0 parsed, and was taken: every request then failed to connect
            raise ValueError("must name a port from 1 to 65535, or none (80, or 443 for https)")
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError(message)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be a bare http(s)://host[:port] URL, without path or query")
        return f"{parts.scheme}://{parts.netloc}"


class LocalStoreConfig(FrozenModel):
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
