"""The S3 error answers of the HTTP layer, shared by both engines: what h11, Hypercorn or llhttp
refuse below the S3 layer gets S3's XML error document and a closed connection, and a response
sent after the client left raises :class:`ClientGone`. Split from :mod:`s3proxy.hypercorn_patch`
so that :mod:`s3proxy.uvicorn_protocol` takes them without importing Hypercorn's patches."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from s3proxy import host_id
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.logs import log_refusal
from s3proxy.request import new_request_id
from s3proxy.xmlcodec import error_xml

AMBIGUOUS_FRAMING = "A request may not carry both Content-Length and Transfer-Encoding."

MAX_HEAD_BYTES = 16 * 1024
"""The request line and header section (and a chunked body's trailers) a request may have, on
both engines (h11's buffer, Hypercorn's ``h11_max_incomplete_size``). AWS refuses more than
8,192 bytes (its error says ``<MaxSizeAllowed>8192</MaxSizeAllowed>``). Nearly every S3
request fits in that (a presigned GET of a 1,024-byte key written as %XX escapes, with 2 KB of
metadata headers, takes ~6 KB), but a few legal ones do not (ten tags of 128 + 256 characters in
``x-amz-tagging`` written as %XX escapes, spaces or ``+=:`` say, are ~11 KB). The proxy keeps
twice AWS's limit so that it serves every request AWS serves and those too, at the cost of
8 KiB more per unfinished head."""


def head_too_large() -> S3Error:
    """S3's answer to a head over :data:`MAX_HEAD_BYTES`, naming the limit as S3 does."""
    return S3Error(S3ErrorCode.RequestHeaderSectionTooLarge, MaxSizeAllowed=str(MAX_HEAD_BYTES))


def below_s3_error(status: int) -> S3Error:
    """The S3 error for what h11 or Hypercorn refused with ``status`` (S3's codes for them)."""
    if status == 431:  # h11: the header section (or a trailer section) outgrew its buffer
        return head_too_large()
    if status == 501:  # h11: a Transfer-Encoding other than one "chunked"
        return S3Error(S3ErrorCode.NotImplemented, Header="Transfer-Encoding")
    if status >= 500:
        return S3Error(S3ErrorCode.InternalError)
    return S3Error(
        S3ErrorCode.InvalidRequest,
        "The request could not be read as HTTP/1.1: bad request line, header or body framing.",
    )


ANSWERED = "s3proxy.answered"
"""The ASGI scope's entry for an error the HTTP layer sent in the place of the application's
answer (a body cut short by a half-close, bad chunk framing): (request id, status, code, bytes
sent). The application, which then sees the client gone, logs the request's one access line with
it (:func:`answered_below`) instead of the HTTP layer logging a second, anonymous one."""


def error_response(
    error: S3Error, *, logged: bool = True, scope: MutableMapping[str, Any] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and XML body of an error sent by the HTTP layer (connection closed),
    with its access line and metrics (s3proxy.logs.log_refusal) unless ``logged`` is false:
    an application that failed before answering has logged its own line. With ``scope`` (the
    request the application is handling and has not answered yet) the error is noted there
    (:data:`ANSWERED`) for the application's line instead."""
    request_id = new_request_id()
    body = error_xml(error, request_id)
    headers = [
        (b"content-type", b"application/xml"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amz-request-id", request_id.encode()),
        host_id.HEADER,
        (b"connection", b"close"),
    ]
    if scope is not None:
        scope[ANSWERED] = (request_id, error.status, error.code.name, len(body))
    elif logged:
        log_refusal(request_id, error.status, error.code.name, len(body))
    return error.status, headers, body


def answered_below(scope: Mapping[str, Any], entry: dict[str, Any]) -> int | None:
    """For a request whose client the application found gone: if the HTTP layer answered it
    (:data:`ANSWERED`), the access-log ``entry`` takes that answer's request id, status and
    code, and its size (bytes out) is returned; else None (the entry keeps its 499)."""
    answered = scope.get(ANSWERED)
    if answered is None:
        return None
    request_id, status, code, size = answered
    entry.update(request_id=request_id, status=status, error=code)
    return int(size)


class ClientGone(ConnectionError):
    """A response message sent after the client closed its connection."""
