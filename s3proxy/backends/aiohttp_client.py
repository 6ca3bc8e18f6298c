"""The ``client: aiohttp`` upstream client: per-tenant aiohttp sessions behind the one response
shape the S3 backend reads (:class:`~s3proxy.backends.upstream_response.UpstreamResponse`).

Its own module, imported by :class:`~s3proxy.backends.s3_transport.S3Transport` only for an
upstream that chooses it: importing aiohttp costs a quarter of a second of CPU at every start
(BENCHMARKS.md "Start-up"), and the native client is the default. aiohttp's failures are
translated here, at its boundary, so that no other module needs aiohttp's exception classes: a
failed request becomes the caller's S3 error, a failed body read a :class:`BodyReadFailed` (an
``OSError``, so :data:`s3proxy.backends.s3_transport.BODY_ERRORS` covers it).

aiohttp sends a PUT or DELETE again, once, when its connection fails before an answer (RFC 9112
9.3.1 lets a client re-send an idempotent request). A conditional write (``If-Match``,
``If-None-Match``, a copy's ``x-amz-copy-source-if-*``) is not idempotent: its first attempt may
have been carried out, and the second then fails its own condition, so the client got 412 for a
write that succeeded. Such a request is sent once here, as the native pool sends it
(:func:`~s3proxy.backends.upstream_pool.conditional_write`): a lost answer is 503, and the
client's own retry meets the condition as it would on S3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from s3proxy.backends.upstream_pool import conditional_write
from s3proxy.errors import S3Error
from s3proxy.limits import CURRENT_TENANT

if TYPE_CHECKING:
    from s3proxy.config import UpstreamConfig


class BodyReadFailed(ConnectionError):
    """aiohttp's failure while reading an upstream body (e.g. ``ClientPayloadError``); logged
    as the original."""

    def __repr__(self) -> str:
        return repr(self.__cause__)


class SentOnce(aiohttp.ClientConnectionError):
    """A conditional write whose connection failed before its answer: not sent again (a
    ``ClientConnectionError`` that aiohttp does not retry, unlike the ``ClientOSError`` or
    ``ServerDisconnectedError`` it stands for, which is its cause)."""


async def _sent_once(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp middleware for a request that must go out once (module docstring)."""
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, S3Error) else exc  # the body's own
        raise SentOnce(str(exc)) from cause


_ONCE = (_sent_once,)


class _Body:
    """aiohttp's StreamReader, its failures as :class:`BodyReadFailed`."""

    __slots__ = ("_reader",)

    def __init__(self, reader: aiohttp.StreamReader) -> None:
        self._reader = reader

    async def read(self, n: int = -1) -> bytes:
        try:
            return await self._reader.read(n)
        except aiohttp.ClientError as exc:
            raise BodyReadFailed() from exc

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except aiohttp.ClientError as exc:
            raise BodyReadFailed() from exc

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        try:
            async for chunk in self._reader.iter_chunks():
                yield chunk
        except aiohttp.ClientError as exc:
            raise BodyReadFailed() from exc

    async def iter_any(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._reader.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise BodyReadFailed() from exc

    def at_eof(self) -> bool:
        return self._reader.at_eof()


class _Response:
    """aiohttp's ClientResponse as an UpstreamResponse."""

    __slots__ = ("_response", "content", "method", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.method = response.method
        self.content = _Body(response.content)

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except aiohttp.ClientError as exc:
            raise BodyReadFailed() from exc

    def release(self) -> object:
        return self._response.release()

    def close(self) -> None:
        self._response.close()


class AiohttpClient:
    """One aiohttp session per tenant (:data:`CURRENT_TENANT`), each up to
    ``max_connections``: a tenant whose requests stall holds only its own connections."""

    def __init__(self, config: UpstreamConfig) -> None:
        self._config = config
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
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
            connect=self._config.connect_timeout,  # with the wait for a full pool: bounded
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

    async def request(
        self,
        method: str,
        url: tuple[str, str, int | None, str, str],
        headers: dict[str, str],
        body: AsyncIterator[bytes] | bytes | None,
        unavailable: Callable[[str, BaseException], S3Error],
    ) -> _Response:
        """Send one request to ``url`` (scheme, host, port, raw path, raw query); a failure
        to reach the upstream raises ``unavailable(method, exc)``, an S3 error the client's
        body raised (its checksum, its signature) that error."""
        scheme, host, port, path, query = url
        target = URL.build(
            scheme=scheme, host=host, port=port, path=path, query_string=query, encoded=True
        )
        try:
            response = await self._session().request(
                method,
                target,
                headers=headers,
                data=body,
                allow_redirects=False,
                middlewares=_ONCE if conditional_write(method, headers) else None,
            )
        except S3Error:
            raise
        except aiohttp.ClientConnectionError as exc:
            if isinstance(exc.__cause__, S3Error):
                raise exc.__cause__ from None
            raise unavailable(method, exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise unavailable(method, exc) from exc
        return _Response(response)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
