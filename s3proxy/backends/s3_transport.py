"""How requests reach an S3 upstream: per-tenant connection pools, SigV4 signing, and the one
place upstream failures become client errors.

The HTTP/1.1 client is the upstream's ``client`` setting: ``native``
(:mod:`s3proxy.backends.upstream_pool`, asyncio + httptools) or ``aiohttp``. Both give responses
of the one shape the backend reads (:class:`~s3proxy.backends.upstream_http.UpstreamResponse`)
and fail with the exceptions in :data:`BODY_ERRORS`.

Requests are signed with the proxy's own SigV4 signer
(:func:`s3proxy.auth.sigv4.sign_request_headers`, checked against botocore in the unit tests)
with static or AWS-chain keys
(:mod:`s3proxy.backends.credentials`). Failures are translated once, in
:meth:`S3Transport._raise_for_status` (the table is :mod:`s3proxy.backends.upstream_errors`),
into S3 errors that carry nothing of the upstream (no bucket, key or message text); the details
go to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD, sign_request_headers
from s3proxy.backends import upstream_errors
from s3proxy.backends.credentials import upstream_credentials
from s3proxy.backends.upstream_budget import ConnectionBudget, budget_size
from s3proxy.backends.upstream_kind import answered_by_rgw, is_aws, signed_headers_for
from s3proxy.backends.upstream_pool import BodyFailed, Pool, tls_context
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.upstream_retry import read_again
from s3proxy.backends.wire import encode_path
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import CURRENT_TENANT
from s3proxy.metrics import UPSTREAM_ERRORS, UPSTREAM_SECONDS, labelled

if TYPE_CHECKING:
    from s3proxy.backends.aiohttp_client import AiohttpClient
    from s3proxy.config import UpstreamConfig

log = logging.getLogger("s3proxy.upstream")

MAX_ERROR_BODY = 64 * 1024

BODY_ERRORS = (OSError, EOFError)
"""What reading an upstream body raises when the upstream fails, with either client: OSError
covers ConnectionError and TimeoutError (and the aiohttp client's failures,
:class:`~s3proxy.backends.aiohttp_client.BodyReadFailed`), EOFError ``readexactly`` on a short
body."""


class S3Transport:
    """Sends signed requests to one configured upstream and translates its failures."""

    def __init__(self, name: str, config: UpstreamConfig) -> None:
        self.name = name
        self._config = config
        split = urlsplit(config.endpoint)
        self._scheme = split.scheme
        self._host = split.hostname or ""
        self._port = split.port
        self._netloc = split.netloc
        self._credentials = upstream_credentials(name, config)
        self._pools: dict[str, Pool] = {}
        self._native = config.client == "native"
        self._aiohttp: AiohttpClient | None = None
        if not self._native:  # imported only when chosen: aiohttp costs ~0.25 s at each start
            from s3proxy.backends.aiohttp_client import AiohttpClient

            self._aiohttp = AiohttpClient(config)
        self._connect_port = split.port or (443 if split.scheme == "https" else 80)
        self._tls = tls_context(config.verify_tls) if split.scheme == "https" else None
        self._budget = ConnectionBudget(
            budget_size(config.max_connections_total, config.max_connections)
        )
        self.ceph_rgw: bool | None = None
        """Whether the upstream is Ceph RGW (:mod:`.upstream_kind`), from its first answer
        that names its request (:func:`from_s3`)."""
        self.server: str | None = None
        """The ``Server`` header of its first answer ("" if none): which server it is."""
        self.aws = is_aws(self._host, "")
        """Whether the upstream is AWS S3, from its endpoint or its first answer."""

    # -- connection pool -------------------------------------------------------------------

    def _pool(self) -> Pool:
        """The connection pool of the tenant this request serves (:data:`CURRENT_TENANT`): one
        per tenant, each up to ``max_connections``, so a tenant whose requests stall holds only
        its own connections and other tenants' requests never wait for one of them."""
        tenant = CURRENT_TENANT.get()
        pool = self._pools.get(tenant)
        if pool is None or pool.closed:
            pool = self._pools[tenant] = Pool(
                limit=self._config.max_connections,
                connect_timeout=self._config.connect_timeout,
                read_timeout=self._config.read_timeout,
                tls=self._tls,
                budget=self._budget,
            )
        return pool

    async def close(self) -> None:
        if self._aiohttp is not None:
            await self._aiohttp.close()
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    # -- requests --------------------------------------------------------------------------

    def _address(self, bucket: str, key: str | None) -> tuple[str, str]:
        """(host header, raw path) for a bucket and optional key."""
        key_path = "/" + encode_path(key) if key is not None else "/"
        if self._config.path_style:
            return self._netloc, "/" + encode_path(bucket) + (key_path if key is not None else "")
        return f"{bucket}.{self._netloc}", key_path

    async def _send(
        self,
        method: str,
        bucket: str,
        key: str | None,
        headers: dict[str, str],
        *,
        query: str = "",
        body: AsyncIterator[bytes] | bytes | None = None,
        payload_hash: str = UNSIGNED_PAYLOAD,
    ) -> UpstreamResponse:
        """One upstream request, signed here; a GET or HEAD answered 500 is signed anew and
        sent once more, and that answer is the one read (:mod:`.upstream_retry`)."""
        response = await self._send_signed(method, bucket, key, headers, query, body, payload_hash)
        if self.ceph_rgw is None and response.status < 500 and from_s3(response):
            self.ceph_rgw = answered_by_rgw(response.headers)
            self.server = response.headers.get("Server", "")
            self.aws = self.aws or is_aws("", self.server)
        if not read_again(method, response.status, body is not None):
            return response
        await discard(self.name, response, self._config.read_timeout)
        return await self._send_signed(method, bucket, key, headers, query, None, payload_hash)

    async def _send_signed(
        self,
        method: str,
        bucket: str,
        key: str | None,
        headers: dict[str, str],
        query: str,
        body: AsyncIterator[bytes] | bytes | None,
        payload_hash: str,
    ) -> UpstreamResponse:
        """:meth:`_send`'s one attempt (the signer replaces the date and signature it added to
        ``headers`` on a second)."""
        host, raw_path = self._address(bucket, key)
        headers["host"] = host
        keys = await self._credentials.current()
        if keys.token is not None:
            headers["x-amz-security-token"] = keys.token
        headers.update(
            sign_request_headers(
                method,
                raw_path,
                query,
                signed_headers_for(headers, self.ceph_rgw),  # Ceph RGW's Content-Type
                access_key=keys.access_key,
                secret_key=keys.secret_key,
                region=self._config.region,
                payload_hash=payload_hash,
                now=datetime.now(UTC),
            )
        )
        if self._native:
            return await self._send_native(method, bucket, host, raw_path, query, headers, body)
        assert self._aiohttp is not None
        url = (
            self._scheme,
            host if not self._config.path_style else self._host,
            self._port,
            raw_path,
            query,
        )
        started = time.perf_counter()
        response = await self._aiohttp.request(method, url, headers, body, self._unavailable)
        labelled(UPSTREAM_SECONDS, self.name, method).observe(time.perf_counter() - started)
        if response.status >= 500:
            UPSTREAM_ERRORS.labels(self.name, "status_5xx").inc()
        return response

    async def _send_native(
        self,
        method: str,
        bucket: str,
        host: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: AsyncIterator[bytes] | bytes | None,
    ) -> UpstreamResponse:
        connect_host = self._host if self._config.path_style else f"{bucket}.{self._host}"
        target = f"{raw_path}?{query}" if query else raw_path
        started = time.perf_counter()
        try:
            response = await self._pool().request(
                method, connect_host, self._connect_port, target, headers, body
            )
        except BodyFailed as exc:  # the client's body failed, e.g. its checksum: its error
            if isinstance(exc.__cause__, S3Error):
                raise exc.__cause__ from None
            raise self._unavailable(method, exc) from exc
        except OSError as exc:  # ConnectionError, TimeoutError, TLS errors
            raise self._unavailable(method, exc) from exc
        labelled(UPSTREAM_SECONDS, self.name, method).observe(time.perf_counter() - started)
        if response.status >= 500:
            UPSTREAM_ERRORS.labels(self.name, "status_5xx").inc()
        return response

    def _unavailable(self, method: str, exc: BaseException) -> S3Error:
        log.warning("upstream %s: %s request failed: %r", self.name, method, exc)
        UPSTREAM_ERRORS.labels(self.name, "connection").inc()
        return upstream_errors.unreachable()

    def translate(self, status: int, code_name: str, method: str, detail: str = "") -> S3Error:
        """The error a client sees for an upstream (status, S3 error code): the one mapping
        (:mod:`s3proxy.backends.upstream_errors`), also used for an ``<Error>`` inside a 200
        (multipart). Logged here with the upstream's code: warning unless routine."""
        error = upstream_errors.translate(status, code_name, bodied=method != "HEAD")
        log_answer(self.name, method, status, code_name, error, detail)
        return error

    async def _raise_for_status(
        self, response: UpstreamResponse, body: bytes | None = None
    ) -> None:
        """The S3 error for an upstream answer of 300 or more. Its body is read up to
        :data:`MAX_ERROR_BODY` within ``read_timeout`` in all (:func:`error_body`), unless a
        caller that had to look at it first hands it in as ``body``; an error body that breaks
        off, or trickles, is an upstream that failed: 503, never the 500 of an exception nobody
        caught, nor a request held while it trickles."""
        if response.status < 300:
            return
        code_name = ""
        text = ""
        try:
            if response.method != "HEAD":
                raw = (
                    body
                    if body is not None
                    else await error_body(response, self._config.read_timeout)
                )
                text = raw.decode("utf-8", "replace")
                start = text.find("<Code>")
                end = text.find("</Code>", start)
                if start >= 0 and end > start:
                    code_name = text[start + 6 : end]
        except BODY_ERRORS as exc:  # released below: a body not read to its end is not pooled
            raise self._unavailable(response.method, exc) from exc
        finally:
            response.release()
        error = self.translate(
            response.status, code_name, response.method, text[:300].replace("\n", " ")
        )
        code = error.code
        headers: dict[str, str] = {}
        if code is S3ErrorCode.InvalidRange:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            if total.isdigit():
                headers["Content-Range"] = f"bytes */{total}"
        if code is S3ErrorCode.NotModified:
            for name in ("ETag", "Last-Modified"):
                if name in response.headers:
                    headers[name] = response.headers[name]
        raise S3Error(code, error.message, headers=headers)


def log_answer(
    upstream: str, method: str, status: int, code_name: str, error: S3Error, detail: str = ""
) -> None:
    """Log an upstream's error answer with the one the client sees instead (warning unless
    routine, :data:`~s3proxy.backends.upstream_errors.ROUTINE`): :meth:`S3Transport.translate`'s
    line, and that of a refusal answered otherwise (an SSE-C read's, :mod:`.s3_object_reads`)."""
    level = logging.INFO if error.code in upstream_errors.ROUTINE else logging.WARNING
    log.log(
        level,
        "upstream %s: %s -> %s %s (client sees %s %s) %s",
        upstream,
        method,
        status,
        code_name or "-",
        error.status,
        error.code.name,
        detail,
    )


def from_s3(response: UpstreamResponse) -> bool:
    """Whether an answer is an S3 server's own, to learn which server it is from: every one
    (AWS, SeaweedFS, Ceph RGW, MinIO) names its request. A page from something in front of it
    (a load balancer's 404 or 413, a proxy's 400) has no request id, and its ``Server`` is its
    own: taken for the server's, a Ceph RGW behind it was known as another server for the life
    of the process (metadata names folded, every conditional PUT 412)."""
    return "x-amz-request-id" in response.headers


async def error_body(response: UpstreamResponse, read_timeout: float) -> bytes:
    """The first :data:`MAX_ERROR_BODY` bytes of an error answer, read within ``read_timeout``
    in all (a timer per read would let an upstream trickle 64 KiB for hours); TimeoutError
    (one of :data:`BODY_ERRORS`) past that."""
    return await asyncio.wait_for(response.content.read(MAX_ERROR_BODY), read_timeout)


async def discard(upstream: str, response: UpstreamResponse, read_timeout: float) -> None:
    """Close a failed answer that is asked again (:mod:`.upstream_retry`), logging what the
    upstream said (warning: the upstream failed, though the client will not see it)."""
    detail = b""
    if response.method != "HEAD":
        with contextlib.suppress(*BODY_ERRORS):
            detail = await error_body(response, read_timeout)
    response.close()
    text = detail[:300].decode("utf-8", "replace").replace("\n", " ")
    log.warning(
        "upstream %s: %s -> %d, asked again %s", upstream, response.method, response.status, text
    )
