"""A real S3 upstream (AWS S3, SeaweedFS, MinIO, Ceph RGW) over one pooled aiohttp session.

Why not aiobotocore: it cannot upload from an async iterator (aiobotocore #618) and costs ~4× a
raw signed aiohttp hop per request (``../shared/S3-NOTES.md``). Requests are signed here with
the proxy's own SigV4 signer (:func:`s3proxy.auth.sigv4.sign_request_headers`, checked against
botocore in the unit tests) with static or AWS-chain keys (:mod:`s3proxy.backends.credentials`)
and sent on a keep-alive connection pool created once per process.

Upstream failures are translated once, in :meth:`S3Upstream._raise_for_status` (the table is
:mod:`s3proxy.backends.upstream_errors`), into S3 errors that carry nothing of the upstream (no
bucket, key or message text); the details go to the log.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD, sign_request_headers
from s3proxy.backends import upstream_errors
from s3proxy.backends.base import NotReady
from s3proxy.backends.credentials import upstream_credentials
from s3proxy.backends.s3_multipart import (
    S3MultipartMixin,
    part_query,
    part_range_of,
    upstream_result,
)
from s3proxy.backends.upstream_chunked import (
    UNSIGNED_TRAILER,
    chunked_headers,
    encode_with_trailer,
)
from s3proxy.backends.wire import (
    encode_path,
    encode_query,
    metadata_to_upstream,
    object_info,
    parse_content_range,
    read_headers,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import CURRENT_TENANT
from s3proxy.metrics import UPSTREAM_ERRORS, UPSTREAM_SECONDS, labelled
from s3proxy.model import (
    META_PREFIX,
    ByteRange,
    CopyObjectInput,
    CopyObjectOutput,
    DeleteResult,
    GetObjectOutput,
    ListPage,
    ObjectInfo,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
)
from s3proxy.upstream_xml import parse_copy_result, parse_delete_result, parse_list_v2
from s3proxy.xmlcodec import delete_request_xml

if TYPE_CHECKING:
    from s3proxy.config import UpstreamConfig

log = logging.getLogger("s3proxy.upstream")

READ_CHUNK = 256 * 1024
WHOLE_BODY_LIMIT = 64 * 1024
"""GET bodies up to this size are read whole before answering (see ``_read_whole``)."""
MAX_ERROR_BODY = 64 * 1024


class S3Upstream(S3MultipartMixin):
    """One configured upstream. Implements :class:`s3proxy.backends.base.Backend` (multipart
    uploads in :mod:`s3proxy.backends.s3_multipart`)."""

    def __init__(self, name: str, config: UpstreamConfig) -> None:
        self.name = name
        self._config = config
        split = urlsplit(config.endpoint)
        self._scheme = split.scheme
        self._host = split.hostname or ""
        self._port = split.port
        self._netloc = split.netloc
        self._credentials = upstream_credentials(name, config)
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    # -- connection pool -------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        """The connection pool of the tenant this request serves (:data:`CURRENT_TENANT`): one
        per tenant, each up to ``max_connections``, so a tenant whose requests stall holds only
        its own connections and other tenants' requests never wait for one of them."""
        tenant = CURRENT_TENANT.get()
        session = self._sessions.get(tenant)
        if session is None or session.closed:
            session = self._sessions[tenant] = self._new_session()
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._config.max_connections,
            ssl=self._config.verify_tls,
            keepalive_timeout=30,
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._config.connect_timeout,
            sock_read=self._config.read_timeout,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            # S3 is not cookie-based: a cookie the upstream or its load balancer sets must
            # not be replayed on later requests, which may be other tenants'.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

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
    ) -> aiohttp.ClientResponse:
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
                headers,
                access_key=keys.access_key,
                secret_key=keys.secret_key,
                region=self._config.region,
                payload_hash=payload_hash,
                now=datetime.now(UTC),
            )
        )
        url = URL.build(
            scheme=self._scheme,
            host=host if not self._config.path_style else self._host,
            port=self._port,
            path=raw_path,
            query_string=query,
            encoded=True,
        )
        started = time.perf_counter()
        try:
            response = await self._client().request(
                method, url, headers=headers, data=body, allow_redirects=False
            )
        except S3Error:
            raise
        except aiohttp.ClientConnectionError as exc:
            if isinstance(exc.__cause__, S3Error):
                raise exc.__cause__ from None
            raise self._unavailable(method, exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
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
        error = upstream_errors.translate(status, code_name)
        level = logging.INFO if error.code in upstream_errors.ROUTINE else logging.WARNING
        log.log(
            level,
            "upstream %s: %s -> %s %s (client sees %s %s) %s",
            self.name,
            method,
            status,
            code_name or "-",
            error.status,
            error.code.name,
            detail,
        )
        return error

    async def _raise_for_status(self, response: aiohttp.ClientResponse) -> None:
        if response.status < 300:
            return
        code_name = ""
        text = ""
        try:
            if response.method != "HEAD":
                raw = await response.content.read(MAX_ERROR_BODY)
                text = raw.decode("utf-8", "replace")
                start = text.find("<Code>")
                end = text.find("</Code>", start)
                if start >= 0 and end > start:
                    code_name = text[start + 6 : end]
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

    # -- Backend ---------------------------------------------------------------------------

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        headers: dict[str, str] = dict(request.attributes.headers)
        for name, value in request.attributes.metadata.items():
            headers[META_PREFIX + name] = metadata_to_upstream(value)
        headers["content-length"] = str(request.content_length)
        if request.content_md5 is not None:
            headers["content-md5"] = request.content_md5
        if request.checksum is not None:
            headers[request.checksum[0]] = request.checksum[1]
        if request.conditions.if_match is not None:
            headers["if-match"] = request.conditions.if_match
        if request.conditions.if_none_match is not None:
            headers["if-none-match"] = request.conditions.if_none_match
        body: AsyncIterator[bytes] = request.body
        payload_hash = request.content_sha256 or UNSIGNED_PAYLOAD
        trailer = request.trailer_checksum
        if trailer is not None and self._config.request_style == "aws-chunked":
            del headers["content-length"]
            headers.update(
                chunked_headers(headers.get("content-encoding"), request.content_length, trailer[0])
            )
            body = encode_with_trailer(body, trailer[0], trailer[1])
            payload_hash = UNSIGNED_TRAILER
        data: AsyncIterator[bytes] | bytes = body
        if payload_hash != UNSIGNED_TRAILER and request.content_length <= WHOLE_BODY_LIMIT:
            # Small bodies go out as bytes: headers and body in one write, without aiohttp's
            # streaming-payload machinery. The body is verified before its last chunk is
            # released (s3proxy.body), so nothing unverified reaches the upstream either way.
            data = b"".join([chunk async for chunk in body])
        response = await self._send(
            "PUT", request.bucket, request.key, headers, body=data, payload_hash=payload_hash
        )
        await self._raise_for_status(response)
        etag = response.headers.get("ETag", "")
        response.release()
        return PutObjectOutput(etag=etag)

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo:
        headers = read_headers(conditions, checksum_mode)
        response = await self._send("HEAD", bucket, key, headers, query=part_query(part_number))
        await self._raise_for_status(response)
        response.release()
        length = int(response.headers.get("Content-Length", "0"))
        if part_number is None:
            return object_info(response.headers, length)
        part_range = part_range_of(response, part_number)
        info = object_info(response.headers, part_range[2] if part_range else length)
        return dataclasses.replace(info, part_range=part_range)

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput:
        headers = read_headers(conditions, checksum_mode)
        if byte_range is not None:
            headers["range"] = byte_range.header()
        response = await self._send("GET", bucket, key, headers, query=part_query(part_number))
        await self._raise_for_status(response)
        if part_number is not None and response.status != 206:
            try:
                part_range_of(response, part_number)
            except S3Error:
                response.close()
                raise
        length = int(response.headers.get("Content-Length", "0"))
        content_range: tuple[int, int, int] | None = None
        size = length
        if response.status == 206:
            content_range = parse_content_range(response.headers.get("Content-Range", ""))
            if content_range is None:
                response.close()
                raise S3Error(S3ErrorCode.InternalError, upstream_errors.STORAGE_UNREADABLE)
            size = content_range[2]
        info = object_info(response.headers, size)
        if length <= WHOLE_BODY_LIMIT:
            body, aclose = await self._read_whole(response, length)
        else:
            body, aclose = _stream(response, length), _closer(response)
        return GetObjectOutput(
            info=info,
            body=body,
            content_range=content_range,
            content_length=length,
            aclose=aclose,
        )

    async def _read_whole(
        self, response: aiohttp.ClientResponse, length: int
    ) -> tuple[AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        """A small body read at once: the upstream connection goes back to the pool before
        the client is answered, and a failure is still a clean 503, not a cut connection."""
        try:
            data = await response.content.readexactly(length) if length else b""
        except (TimeoutError, aiohttp.ClientError, EOFError) as exc:
            response.close()
            raise self._unavailable("GET", exc) from exc
        response.release()
        return _single(data), _nothing_to_close

    async def delete_object(self, bucket: str, key: str) -> None:
        response = await self._send("DELETE", bucket, key, {})
        if response.status == 404:
            response.release()
            return
        await self._raise_for_status(response)
        response.release()

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        params = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(max_keys))]
        params.append(("prefix", prefix))
        if delimiter:
            params.append(("delimiter", delimiter))
        if token is not None:
            params.append(("continuation-token", token))
        elif start_after:
            params.append(("start-after", start_after))
        response = await self._send("GET", bucket, None, {}, query=encode_query(params))
        await self._raise_for_status(response)
        return await upstream_result(self, response, partial(parse_list_v2, url_encoded=True))

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        source = "/" + encode_path(request.source_bucket) + "/" + encode_path(request.source_key)
        headers: dict[str, str] = {"x-amz-copy-source": source}
        if request.replace_metadata:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(request.attributes.headers)
            for name, value in request.attributes.metadata.items():
                headers[META_PREFIX + name] = metadata_to_upstream(value)
        conditions = request.source_conditions
        for name, condition in (
            ("x-amz-copy-source-if-match", conditions.if_match),
            ("x-amz-copy-source-if-none-match", conditions.if_none_match),
            ("x-amz-copy-source-if-modified-since", conditions.if_modified_since),
            ("x-amz-copy-source-if-unmodified-since", conditions.if_unmodified_since),
            ("if-match", request.conditions.if_match),
            ("if-none-match", request.conditions.if_none_match),
        ):
            if condition is not None:
                headers[name] = condition
        response = await self._send("PUT", request.bucket, request.key, headers)
        await self._raise_for_status(response)
        etag, last_modified = await upstream_result(self, response, parse_copy_result)
        return CopyObjectOutput(etag=etag, last_modified=last_modified)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        body = delete_request_xml(keys)
        headers = {
            "content-md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
            "content-type": "application/xml",
            "content-length": str(len(body)),
        }
        response = await self._send(
            "POST",
            bucket,
            None,
            headers,
            query="delete=",
            body=body,
            payload_hash=hashlib.sha256(body).hexdigest(),
        )
        await self._raise_for_status(response)
        return await upstream_result(self, response, parse_delete_result)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        query = encode_query([("max-uploads", "1"), ("prefix", prefix), ("uploads", "")])
        response = await self._send("GET", bucket, None, {}, query=query)
        await self._raise_for_status(response)
        return b"<Upload>" in await response.read()

    async def check_ready(self, bucket: str) -> None:
        """HEAD the bucket and name what is wrong: a HEAD answer has no body to carry a code,
        so the status says it (404: the bucket is missing; 401/403: the gateway's keys)."""
        try:
            response = await self._send("HEAD", bucket, None, {})
        except S3Error as error:  # no connection, or no credentials to sign with
            raise NotReady("Unreachable", error.message) from error
        status = response.status
        response.release()
        if status < 300:
            return
        if status == 404:
            raise NotReady("NoSuchBucket", f"upstream bucket {bucket} does not exist")
        if status in (401, 403):
            raise NotReady("AuthFailure", f"upstream refused the gateway's credentials ({status})")
        raise NotReady("UpstreamError", f"upstream answered {status}")

    async def create_bucket(self, bucket: str) -> None:
        """Create an upstream bucket (the quick start's, when missing), in the upstream's
        region: us-east-1 is spelled with no LocationConstraint, as S3 wants it."""
        region = self._config.region
        body = b""
        if region != "us-east-1":
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        headers = {"content-length": str(len(body))}
        payload_hash = hashlib.sha256(body).hexdigest()
        response = await self._send(
            "PUT", bucket, None, headers, body=body, payload_hash=payload_hash
        )
        await self._raise_for_status(response)
        response.release()


async def _stream(response: aiohttp.ClientResponse, length: int) -> AsyncIterator[bytes]:
    """The upstream body; raises if it ends short so the client connection is aborted."""
    sent = 0
    try:
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            sent += len(chunk)
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning("upstream body failed after %d of %d bytes: %r", sent, length, exc)
        raise
    if sent != length:
        log.warning("upstream body ended after %d of %d bytes", sent, length)
        raise ConnectionError("upstream body ended early")


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _nothing_to_close() -> None:
    return None


def _closer(response: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def aclose() -> None:
        if not response.content.at_eof():
            response.close()
        else:
            response.release()

    return aclose
