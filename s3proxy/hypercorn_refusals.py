"""What Hypercorn and h11 refuse below the S3 layer, answered with S3's XML error document: the
strict checks of a request head (size, ambiguous framing, method, HTTP version, target, Upgrade)
before the application sees it, and HTTP/1.1 only. Split from :mod:`s3proxy.hypercorn_patch`
(whose docstring says why each refusal is made); its ``install`` applies these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import h11
from hypercorn.events import Closed
from hypercorn.protocol.events import Body, EndBody, Response
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream

from s3proxy import strict_head
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import AMBIGUOUS_FRAMING, below_s3_error, error_response, head_too_large

_PATCHED = "_s3proxy_patched"  # the marker of every Hypercorn patch: each applies once


async def _send_h11_error(protocol: Any, error: S3Error) -> None:
    stream = getattr(protocol, "stream", None)
    scope: Any = None
    if (
        isinstance(stream, HTTPStream)
        and not stream.closed
        and stream.state == ASGIHTTPState.REQUEST
        and getattr(stream, "app_put", None) is not None
    ):
        # Inside the body of a request the application is handling: it will find the client
        # gone and log the request's one line, with this answer (error_response).
        scope = stream.scope
    status, headers, body = error_response(error, scope=scope)
    send = H11Protocol._send_h11_event
    await send(protocol, h11.Response(status_code=status, headers=headers))
    await send(protocol, h11.Data(data=body))
    await send(protocol, h11.EndOfMessage())


def add_s3_error_bodies() -> None:
    """Errors Hypercorn sends itself (h11 parse failures; an application that ended without
    answering) carry S3's XML error document; ambiguous framing is refused (module docstring).
    Idempotent."""
    create_stream: Callable[[Any, h11.Request], Awaitable[None]] = H11Protocol._create_stream
    if getattr(create_stream, _PATCHED, False):
        return

    async def connection_error(self: Any, status_code: int) -> None:
        if isinstance(status_code, strict_head.Refusal):  # the S3 error a reader refused with
            await _send_h11_error(self, status_code.error)
        else:
            await _send_h11_error(self, below_s3_error(status_code))

    async def guarded_create_stream(self: Any, request: h11.Request) -> None:
        size = len(request.target)
        length = chunked = upgrade = False
        for name, value in request.headers:  # h11 gives lower-case names
            size += len(name) + len(value) + 4
            length = length or name == b"content-length"
            chunked = chunked or name == b"transfer-encoding"
            upgrade = upgrade or name == b"upgrade"
        error = None
        if size > self.config.h11_max_incomplete_size:
            # h11 only limits a header section still arriving: one that came in a single read
            # is measured here, so the limit does not depend on how the bytes were split.
            error = head_too_large()
        elif length and chunked:
            error = S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING)
        elif (
            request.method == b"PRI"
            or not request.method.isupper()
            or request.http_version not in strict_head.HTTP_VERSIONS
        ):
            # HTTP/2's preface is not served (http1_only); methods are case-sensitive, and
            # ASGI upper-cases them: "put" would be served as PUT (uvicorn refuses it so too).
            error = below_s3_error(400)
        elif strict_head.unknown_method(request.method):
            error = S3Error(S3ErrorCode.MethodNotAllowed)  # as llhttp refuses it on uvicorn
        elif (target := strict_head.target_error(request.target)) is not None:
            error = target
        elif upgrade and strict_head.asks_upgrade(request.headers):
            if chunked:  # as uvicorn answers it (uvicorn_protocol.S3Protocol.upgraded)
                error = S3Error(S3ErrorCode.NotImplemented, Header="Upgrade")
            else:  # plain HTTP/1.1, never a WebSocket stream
                request = strict_head.without_upgrade(request)
        if error is not None:
            await _send_h11_error(self, error)
            await self.send(Closed())
            return
        await create_stream(self, request)

    async def stream_error(self: Any, status_code: int) -> None:
        # 500: the application ended without answering, and logged its own line.
        error = below_s3_error(status_code)
        status, headers, body = error_response(error, logged=status_code < 500)
        await self.send(Response(stream_id=self.stream_id, headers=headers, status_code=status))
        await self.send(Body(stream_id=self.stream_id, data=body))
        await self.send(EndBody(stream_id=self.stream_id))
        self.state = ASGIHTTPState.CLOSED

    for function in (connection_error, guarded_create_stream, stream_error):
        setattr(function, _PATCHED, True)
    H11Protocol._send_error_response = connection_error  # type: ignore[method-assign]
    H11Protocol._create_stream = guarded_create_stream  # type: ignore[method-assign]
    HTTPStream._send_error_response = stream_error  # type: ignore[method-assign]


async def _stay_on_http1(self: Any, event: h11.Request) -> None:
    return None


def http1_only() -> None:
    """HTTP/1.1 only, as on uvicorn. Hypercorn would switch a connection to HTTP/2 on an h2c
    Upgrade or on the prior-knowledge preface (``PRI * HTTP/2.0``), where none of this module's
    limits, error bodies or framing checks hold (a 60 KB header section was served there). The
    Upgrade header is ignored (RFC 9110 §7.8 lets a server), the preface is refused as a bad
    request (guarded_create_stream), and server.py offers only http/1.1 in TLS's ALPN."""
    H11Protocol._check_protocol = _stay_on_http1  # type: ignore[method-assign]
