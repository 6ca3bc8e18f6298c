"""Cheap S3 load: a tiny SigV4 signer and raw HTTP/1.1 clients, so the client is not what is
measured.

Why not boto3: botocore spends ~1 ms of CPU per request, more than the proxy under test, and on
a 2-core machine the client would be the bottleneck. Here every request is signed up front with
``UNSIGNED-PAYLOAD`` (header auth, valid for 15 minutes), small requests are written as pre-built
bytes on 32 kept-alive asyncio connections, and large bodies go through blocking sockets from one
reused 1 MiB block (``sendall`` / ``readinto``), so the client costs a few µs per request and a
few ms per GiB. The servers verify each signature: a wrong one is a 403 and the run fails.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import html
import http.client
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)
UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class Target:
    """One S3 endpoint under test: who it is, where, with which keys, in which bucket."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    @property
    def host_port(self) -> tuple[str, int]:
        split = urlsplit(self.endpoint)
        return split.hostname or "127.0.0.1", split.port or 80


# --------------------------------------------------------------------------------------------
# SigV4 (header auth, UNSIGNED-PAYLOAD): the AWS algorithm, nothing more


def _quote(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def sign(target: Target, method: str, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
    """The header block (no request line, no body headers) of a signed request for ``path``."""
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urlsplit(target.endpoint).netloc
    canonical_query = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in sorted(query))
    canonical = "\n".join(
        (
            method,
            _quote(path, safe="/-_.~"),
            canonical_query,
            f"host:{host}\nx-amz-content-sha256:{UNSIGNED}\nx-amz-date:{amz_date}\n",
            "host;x-amz-content-sha256;x-amz-date",
            UNSIGNED,
        )
    )
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = f"AWS4{target.secret_key}".encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"Host: {host}\r\nx-amz-date: {amz_date}\r\nx-amz-content-sha256: {UNSIGNED}\r\n"
        f"Authorization: AWS4-HMAC-SHA256 Credential={target.access_key}/{scope}, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}\r\n"
    )


def presigned_request_bytes(
    target: Target, method: str, key: str, body_length: int | None = None
) -> bytes:
    """Request line and headers of a presigned (query-string SigV4, 15 minutes) request: what a
    browser or ``curl`` sends with a URL from ``generate_presigned_url``."""
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urlsplit(target.endpoint).netloc
    path = _quote(f"/{target.bucket}/{key}", safe="/-_.~")
    scope = f"{day}/us-east-1/s3/aws4_request"
    query = "&".join(
        f"{name}={_quote(value)}"
        for name, value in (
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{target.access_key}/{scope}"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", "900"),
            ("X-Amz-SignedHeaders", "host"),
        )
    )
    canonical = "\n".join((method, path, query, f"host:{host}\n", "host", UNSIGNED))
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    signing_key = f"AWS4{target.secret_key}".encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    head = f"{method} {path}?{query}&X-Amz-Signature={signature} HTTP/1.1\r\nHost: {host}\r\n"
    if body_length is not None:
        head += f"Content-Length: {body_length}\r\n"
    return (head + "\r\n").encode()


def request_bytes(
    target: Target,
    method: str,
    key: str | None,
    query: Sequence[tuple[str, str]] = (),
    body_length: int | None = None,
) -> tuple[bytes, str]:
    """(request line + signed headers, target path) for a request on ``target.bucket``."""
    path = f"/{target.bucket}" + (f"/{key}" if key is not None else "")
    raw_query = "&".join(f"{_quote(n)}={_quote(v)}" for n, v in query)
    line_target = _quote(path, safe="/-_.~") + (f"?{raw_query}" if raw_query else "")
    head = f"{method} {line_target} HTTP/1.1\r\n" + sign(target, method, path, query)
    if body_length is not None:
        head += f"Content-Length: {body_length}\r\n"
    return (head + "\r\n").encode(), line_target


# --------------------------------------------------------------------------------------------
# Blocking requests (large bodies, listing, multipart)


def _connection(target: Target) -> http.client.HTTPConnection:
    host, port = target.host_port
    return http.client.HTTPConnection(host, port, timeout=300)


def blocking_request(
    target: Target,
    method: str,
    key: str | None,
    query: Sequence[tuple[str, str]] = (),
    *,
    body: bytes | None = None,
    body_mib: int = 0,
    sink: bool = False,
) -> tuple[int, dict[str, str], bytes, int]:
    """Send one request; a body is ``body`` or ``body_mib`` copies of :data:`BLOCK`.

    Returns (status, headers, body, bytes received); with ``sink`` the response body is counted
    and dropped, read into one reused buffer.
    """
    length = len(body) if body is not None else body_mib * MiB
    has_body = body is not None or body_mib > 0 or method in ("PUT", "POST")
    head, _ = request_bytes(target, method, key, query, length if has_body else None)
    connection = _connection(target)
    try:
        connection.connect()
        sock = connection.sock
        sock.sendall(head)
        if body is not None:
            sock.sendall(body)
        for _ in range(body_mib):
            sock.sendall(BLOCK)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        headers = {name.lower(): value for name, value in response.getheaders()}
        if not sink:
            return response.status, headers, response.read(), 0
        buffer = memoryview(bytearray(MiB))
        received = 0
        while count := response.readinto(buffer):
            received += count
        return response.status, headers, b"", received
    finally:
        connection.close()


def expect(status: int, wanted: int, what: str, body: bytes = b"") -> None:
    if status != wanted:
        raise RuntimeError(f"{what}: HTTP {status} {body[:300]!r}")


def put_large(target: Target, key: str, size_mib: int) -> int:
    status, _, body, _ = blocking_request(target, "PUT", key, body_mib=size_mib)
    expect(status, 200, f"{target.name} PUT {key}", body)
    return size_mib * MiB


def get_large(target: Target, key: str, size_mib: int) -> int:
    status, _, _, received = blocking_request(target, "GET", key, sink=True)
    expect(status, 200, f"{target.name} GET {key}")
    if received != size_mib * MiB:
        raise RuntimeError(f"{target.name} GET {key}: {received} bytes, wanted {size_mib} MiB")
    return received


def delete(target: Target, key: str) -> None:
    status, _, body, _ = blocking_request(target, "DELETE", key)
    if status not in (200, 204):
        raise RuntimeError(f"{target.name} DELETE {key}: HTTP {status} {body[:200]!r}")


def list_all(target: Target, prefix: str) -> int:
    """ListObjectsV2 of everything under ``prefix``, 1000 keys a page, following tokens."""
    token: str | None = None
    count = 0
    while True:
        query = [("list-type", "2"), ("max-keys", "1000"), ("prefix", prefix)]
        if token is not None:
            query.append(("continuation-token", token))
        status, _, body, _ = blocking_request(target, "GET", None, query)
        expect(status, 200, f"{target.name} ListObjectsV2", body)
        count += body.count(b"<Key>")
        match = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if b"<IsTruncated>true</IsTruncated>" not in body or match is None:
            return count
        token = html.unescape(match.group(1).decode())


def multipart_upload(target: Target, key: str, size_mib: int, part_mib: int, parallel: int) -> int:
    """Create, ``size_mib / part_mib`` parts with ``parallel`` in flight, complete."""
    status, _, body, _ = blocking_request(target, "POST", key, [("uploads", "")])
    match = re.search(rb"<UploadId>([^<]+)</UploadId>", body)
    if status != 200 or match is None:
        raise RuntimeError(f"{target.name} CreateMultipartUpload: HTTP {status} {body[:300]!r}")
    upload_id = html.unescape(match.group(1).decode())
    parts = max(1, size_mib // part_mib)

    def part(number: int) -> str:
        query = [("partNumber", str(number)), ("uploadId", upload_id)]
        status, headers, body, _ = blocking_request(target, "PUT", key, query, body_mib=part_mib)
        expect(status, 200, f"{target.name} UploadPart {number}", body)
        return headers["etag"]

    with ThreadPoolExecutor(parallel) as pool:
        etags = list(pool.map(part, range(1, parts + 1)))
    listing = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{html.escape(etag)}</ETag></Part>"
        for n, etag in enumerate(etags, start=1)
    )
    xml = f"<CompleteMultipartUpload>{listing}</CompleteMultipartUpload>".encode()
    status, _, body, _ = blocking_request(target, "POST", key, [("uploadId", upload_id)], body=xml)
    if status != 200 or b"<Error>" in body:
        raise RuntimeError(f"{target.name} CompleteMultipartUpload: HTTP {status} {body[:300]!r}")
    return parts * part_mib * MiB


# --------------------------------------------------------------------------------------------
# Many small requests on kept-alive asyncio connections


@dataclass
class SmallOpsResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def ops_per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response (Content-Length or chunked); returns the status and whether the server
    closes the connection after it (``Connection: close``)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
    if match is not None:
        length = int(match.group(1))
        if length:
            await reader.readexactly(length)
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, b"\r\nconnection: close" in lower


async def _small_ops(target: Target, requests: Sequence[bytes], concurrency: int) -> SmallOpsResult:
    host, port = target.host_port
    pending = list(reversed(requests))
    latencies: list[float] = []
    failures: list[str] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        answered = 0
        try:
            while pending and not failures:
                payload = pending.pop()
                started = time.perf_counter()
                writer.write(payload)
                try:
                    status, closes = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    # Which request, on a connection that had served how many: a reset at the
                    # first request (the connection refused or never served) and one after
                    # many (the server's process or the box) are different findings.
                    failures.append(
                        f"{type(exc).__name__} ({exc}) waiting for the answer to "
                        f"{payload.split(b' HTTP/1.1', 1)[0][:80]!r}, on a connection that had "
                        f"{answered} answers before; {len(latencies)} answered in all"
                    )
                    return
                answered += 1
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failures.append(f"HTTP {status} for {payload[:80]!r}")
                elif closes and pending:  # the next request goes on a new connection
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    answered = 0
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{target.name}: {failures[0]}")
    return SmallOpsResult(seconds, latencies)


def small_requests(
    target: Target,
    method: str,
    keys: Sequence[str],
    payload: bytes = b"",
    *,
    presigned: bool = False,
) -> list[bytes]:
    """Pre-signed request bytes, one per key (PUT carries ``payload``): header-signed, or with
    the signature in the query string (``presigned``)."""
    built: list[bytes] = []
    for key in keys:
        length = len(payload) if method == "PUT" else None
        if presigned:
            head = presigned_request_bytes(target, method, key, length)
        else:
            head, _ = request_bytes(target, method, key, (), length)
        built.append(head + payload if method == "PUT" else head)
    return built


def run_small_ops(target: Target, requests: Sequence[bytes], concurrency: int) -> SmallOpsResult:
    return asyncio.run(_small_ops(target, requests, concurrency))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
