"""The ``server`` section: listeners, region, tokens, timeouts, connection and rate limits.

Per-process settings of the serving side; nothing here names an upstream or a tenant, so the
checks that relate them (ports, TLS files, the event loop) live in ``Settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from s3proxy.config.fields import Domain, FrozenModel, Port, Region, Secret


class ServerLimits(FrozenModel):
    """Defaults for every tenant's ``limits`` (s3proxy.limits); per worker process."""

    max_concurrent_requests: int = Field(default=64, ge=1)
    """Requests one tenant may have in progress; more wait ``max_wait``, then 503 SlowDown."""
    max_wait: float = Field(default=1.0, ge=0)
    """Seconds a request over its tenant's limit waits for a slot, or for its rate token, before
    503 SlowDown (an expensive-operation slot is waited for while its queue moves, and a byte
    debt's repayment, up to 10 times this: s3proxy.limits)."""
    max_concurrent_expensive: int = Field(default=4, ge=1)
    """Expensive operations (listings, DeleteObjects, ...: s3proxy.expensive) one tenant may
    have running at once; more wait ``max_wait``, then 503 SlowDown."""
    requests_per_second: float = Field(default=0.0, ge=0)
    """Requests a second per tenant (token bucket, bursts of one second); 0: no limit."""
    max_buckets: int = Field(default=10000, ge=0)
    """Buckets one tenant may have (those mapped in its configuration and those it created);
    CreateBucket past it gets 400 TooManyBuckets. S3's default per account is 10,000."""
    bytes_per_second: float = Field(default=0.0, ge=0)
    """Request plus response body bytes a second per tenant; 0: no limit. While a tenant is
    over it, its new requests wait, then get 503 SlowDown; transfers in progress are not
    paused (s3proxy.limits)."""


class ServerConfig(FrozenModel):
    host: str = "127.0.0.1"
    port: Port = 9000
    admin_host: str = "127.0.0.1"
    admin_port: Port = 9001
    region: Region = "us-east-1"
    strict_region: bool = False
    virtual_host_domains: list[Domain] = Field(default_factory=list)
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
    quota_fold_after_seconds: float = Field(default=3600.0, gt=0)
    """On S3 upstreams, how long a process's usage record must stay unchanged before another
    process takes it for an exited one's and folds it into the baseline (live processes
    rewrite theirs every sixth of this; README, "Quotas")."""
    max_skew_seconds: int = Field(default=900, ge=1)
    signature_v2: bool = True
    """Accept legacy Signature Version 2 (boto3's default presigned URLs, s3cmd option)."""
    shutdown_timeout: float = Field(default=30.0, ge=0)
    drain_delay: float = Field(default=0.0, ge=0)
    """Seconds between SIGTERM and closing the listener: /readyz answers 503 while requests are
    still served, so a load balancer takes the replica out before it stops accepting."""
    readiness_timeout: float = Field(default=3.0, gt=0, le=60)
    """Seconds each upstream bucket has to answer /readyz's check (all are checked at once);
    one slower is "timeout" (whether the replica is then unready: ``readiness_requires``).
    Keep it below the probe's own timeout (the Helm chart derives it from
    probes.readiness.timeoutSeconds): then a slow upstream is named in /readyz's answer,
    instead of probes that time out now and then."""
    readiness_requires: Literal["one_upstream", "every_upstream"] = "one_upstream"
    """What /readyz needs from the upstream buckets (s3proxy.readiness): ``one_upstream``, at
    least one answering (and every local store), so that one upstream's outage reaches only
    the tenants on it instead of taking every replica out of its load balancer; or
    ``every_upstream``, every one answering (the strict behaviour of earlier releases)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: Annotated[int, Field(ge=1, le=256)] | Literal["auto"] = "auto"
    """Processes serving the S3 port. One Python process uses one core; ``auto`` starts one per
    CPU this process may use (affinity and cgroup quota). The local store is served by one."""
    limits: ServerLimits = Field(default_factory=ServerLimits)
    body_idle_timeout: float = Field(default=20.0, gt=0)
    """Seconds a request body may send nothing before 400 RequestTimeout (S3 waits about 20),
    and a response may wait for its client to read before the connection is dropped."""
    body_min_rate: float = Field(default=500.0, ge=0)
    """Bytes a second a request body must average over each ``body_idle_timeout`` the proxy
    spends waiting for it (Apache mod_reqtimeout's default), else 400 RequestTimeout."""
    early_answer_seconds: float = Field(default=5.0, gt=0)
    """Seconds a CopyObject, UploadPartCopy or CompleteMultipartUpload may work before its 200
    goes out, with a space every as many seconds until its result, or an ``<Error>`` in the
    200, as S3 answers them (s3proxy.early_answer): keep it well below clients' read timeouts."""
    max_client_connections: int = Field(default=10000, ge=1)
    """Open client connections per worker process; past it new ones get 503 SlowDown."""
    max_stalled_answers: int = Field(default=32, ge=0)
    """Answers per worker process whose client took less than 8 KiB a second for a second or
    more while the answer waited for it; past it the longest-stalled answer of whoever holds the
    most (a tenant, or every anonymous connection as one) is ended with a reset
    (s3proxy.stalled_answers). Each holds ~1.4 MiB of the worker and up to ~7 MiB of socket
    buffers: 32 keep two workers within the chart's 1 GiB. 0: no bound."""
    max_connections_per_client: int = Field(default=1000, ge=1)
    """Open connections per client address and worker process. Behind a load balancer every
    connection comes from its few addresses: raise this to max_client_connections there."""
    admin_max_connections: int = Field(default=256, ge=1)
    """Open connections to the admin port (probes, scrapes, /usage); past it new ones get 503."""
    admin_max_connections_per_client: int = Field(default=32, ge=1)
    """Open admin-port connections per client address, so that one client cannot take them all
    from the probes and the scraper."""
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
