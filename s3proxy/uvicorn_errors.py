"""The uvicorn engine's answers below the application: what llhttp refused, read as the S3
error the Hypercorn engine answers for it, and an error answer written straight to a connection
(status line to body). Used by the connection (:mod:`s3proxy.uvicorn_protocol`) and the engine
(:mod:`s3proxy.uvicorn_engine`); kept apart as the one place that turns a refusal into bytes."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http import httptools_impl

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import AMBIGUOUS_FRAMING, below_s3_error, error_response

UNREADABLE = "The request could not be read as HTTP/1.1: bad request line, header or body framing."


_NOT_A_PATH = ("Unexpected start char in url", "Unexpected char in url schema")
"""llhttp's words for a request target that does not begin with ``/`` (``docs/k``, ``?a``,
``\\docs``): h11 reads such a target and the Hypercorn engine refuses it as no path
(:func:`s3proxy.strict_head.target_error`, 400 InvalidURI); uvicorn answered InvalidRequest."""


def parser_error(message: str) -> S3Error:
    """The S3 error for what llhttp refused, by its message (the Hypercorn engine's answers)."""
    if message.startswith(_NOT_A_PATH):
        return S3Error(S3ErrorCode.InvalidURI)
    if "Transfer-Encoding" in message and "Content-Length" in message:
        return S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING)
    if "Transfer-Encoding" in message:
        return below_s3_error(501)
    return S3Error(S3ErrorCode.InvalidRequest, UNREADABLE)


def error_bytes(error: S3Error, scope: Any = None) -> bytes:
    """An error answer of the HTTP layer, status line to body, closing the connection; with
    ``scope``, in the place of the answer of the application handling it (error_response)."""
    status, headers, body = error_response(error, scope=scope)
    lines = [httptools_impl.STATUS_LINE[status]]
    lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
    return b"".join(lines) + b"\r\n" + body
