"""Prometheus metrics, exposed on the admin port only (``GET /metrics``).

Label values are bounded: operations are the Operation enum, statuses HTTP codes, tenants and
upstreams come from the configuration. Bucket names and keys are never labels.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from s3proxy import metrics_mmap

metrics_mmap.install()  # before the first metric: no process SIGBUSes on a full metrics disk

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("s3proxy_requests", "S3 requests answered", ["operation", "status", "tenant"])
ERRORS = Counter(
    "s3proxy_errors",
    "S3 requests answered with an error or cut short, by the access log's error: an S3 error"
    " code (AccessDenied, SlowDown, NotImplemented, InvalidRequest for unreadable HTTP ...),"
    " ClientDisconnected, Cancelled (cut by the shutdown timeout) or ResponseAborted",
    ["operation", "code"],
)
REQUEST_SECONDS = Histogram(
    "s3proxy_request_duration_seconds",
    "Time from request to the end of the response",
    ["operation"],
    buckets=DURATION_BUCKETS,
)
BYTES_IN = Counter("s3proxy_received_bytes", "Request body bytes received", ["tenant"])
BYTES_OUT = Counter("s3proxy_sent_bytes", "Response body bytes sent", ["tenant"])
IN_FLIGHT = Gauge(
    "s3proxy_requests_in_flight", "S3 requests being served", multiprocess_mode="livesum"
)
UPSTREAM_SECONDS = Histogram(
    "s3proxy_upstream_request_duration_seconds",
    "Time to the upstream's response headers",
    ["upstream", "method"],
    buckets=DURATION_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "s3proxy_upstream_errors",
    "Upstream requests that failed: connection errors, 5xx answers, and requests that could"
    " not be signed for want of credentials (kind credentials: none on this replica, or a"
    " credential endpoint such as STS refused or did not answer)",
    ["upstream", "kind"],
)
MULTIPART_STARTED = Counter("s3proxy_multipart_uploads_started", "CreateMultipartUpload calls")
MULTIPART_COMPLETED = Counter(
    "s3proxy_multipart_uploads_completed", "CompleteMultipartUpload successes"
)
LIMITED = Counter(
    "s3proxy_limited_requests",
    "Requests a tenant limit acted on: limit is max_concurrent_requests,"
    " max_concurrent_expensive, requests_per_second, bytes_per_second, bucket_creation (one"
    " CreateBucket of a tenant at a time, for its bucket cap), upstream_connections"
    " (the tenant's pool) or upstream_connections_total"
    " (an upstream's connections per process, all tenants); answer is SlowDown (refused, 503)"
    " or waited (let on after waiting for a slot or a rate token)",
    ["tenant", "limit", "answer"],
)


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}
_MAX_CHILDREN = 10_000


def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """``metric.labels(*values)``, remembered: ``labels()`` takes a lock and re-validates its
    arguments on every call, ~5 µs each, and every request made four such calls (profiled
    with py-spy). Label values are bounded (see above), so the memo is too; the cap is a
    backstop."""
    key = (id(metric), values)
    child = _CHILDREN.get(key)
    if child is None:
        child = metric.labels(*values)
        if len(_CHILDREN) < _MAX_CHILDREN:
            _CHILDREN[key] = child
    return child


_ANSWERED: dict[tuple[str, int, str], tuple[Any, Any]] = {}


def error_code(error: str) -> str:
    """The ``code`` label of an access line's ``error``: ``aborted: <cause>`` (a body cut after
    the head went out) is one value, whatever the cause."""
    return "ResponseAborted" if error.startswith("aborted") else error


def observe_request(
    operation: str,
    status: int,
    tenant: str,
    seconds: float,
    bytes_in: int,
    bytes_out: int,
    error: str | None = None,
) -> None:
    """One answered request. ``tenant`` is "-" until a signature is verified: an unknown
    access key never becomes a label value. A 304 (``NotModified``) is an answer, not an error."""
    if error is not None and error != "NotModified":
        labelled(ERRORS, operation, error_code(error)).inc()
    key = (operation, status, tenant)
    answered = _ANSWERED.get(key)
    if answered is None:  # one lookup a request instead of two, with no label strings built
        answered = (
            labelled(REQUESTS, operation, str(status), tenant),
            labelled(REQUEST_SECONDS, operation),
        )
        if len(_ANSWERED) < _MAX_CHILDREN:
            _ANSWERED[key] = answered
    answered[0].inc()
    answered[1].observe(seconds)
    if bytes_in:
        labelled(BYTES_IN, tenant).inc(bytes_in)
    if bytes_out:
        labelled(BYTES_OUT, tenant).inc(bytes_out)


TRANSPORT_NOISE = Counter(
    "s3proxy_transport_noise",
    "asyncio's 'socket.send() raised exception.' warnings (writes to a connection the client had"
    " already closed), counted instead of logged",
)


UPSTREAM_READY = Gauge(
    "s3proxy_upstream_ready",
    "1 if the last /readyz probe found the upstream bucket usable, else 0 (target:"
    " upstream/bucket); set each time /readyz is asked, as the kubelet does every few seconds",
    ["target"],
    multiprocess_mode="livemax",
)
