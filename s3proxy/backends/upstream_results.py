"""Reading an upstream's 2xx result documents (listings, copy, multipart, tagging results).

A result document is read whole, with a size cap (:data:`MAX_RESULT_BODY`), then parsed; its
first bytes may be minutes of keep-alive whitespace (S3 sends it while a Complete or a copy
runs), and an ``<Error>`` may follow them: S3 can fail after the 200 status line. Such an error
becomes the S3 error it names, through the transport's one translation, never a 200.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from s3proxy.backends.s3_transport import BODY_ERRORS
from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE, unreachable
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.wire import http_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.upstream_xml import EmbeddedError, parse_complete_result

log = logging.getLogger("s3proxy.upstream")

MAX_RESULT_BODY = 8 * 1024 * 1024
"""Cap on an upstream result document (a ListParts page of 1000 parts is ~300 KiB)."""

T = TypeVar("T")


class _Translates(Protocol):
    """What reading a result needs of :class:`~s3proxy.backends.s3.S3Upstream`."""

    name: str

    def translate(self, status: int, code_name: str, method: str, detail: str = "") -> S3Error: ...


async def read_result(response: UpstreamResponse) -> bytes:
    """A 2xx result document, whole (it may open with minutes of keep-alive whitespace)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > MAX_RESULT_BODY:
                raise S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
            chunks.append(chunk)
    except BODY_ERRORS as exc:
        log.warning("upstream result body failed after %d bytes: %r", size, exc)
        raise unreachable() from exc
    finally:
        response.release()
    return b"".join(chunks)


OBJECT_STATUSES = (200, 206)
"""The 2xx an object's HEAD or GET is answered with (206: a range or a part)."""


def object_answer(response: UpstreamResponse) -> int:
    """The Content-Length of a 2xx answer to an object's HEAD or GET, which S3 always answers
    200 or 206 with the object's length, its ETag and its Last-Modified (an HTTP date). Any
    other answer (a 204, or one without those, from something in front of the upstream) is
    unreadable, 500 InternalError: read as an object, a HEAD without a length told the client
    the object was empty (200, Content-Length 0), a GET without one cannot show a body that
    was cut short, and one without an ETag or a date gave the client an object without them
    (botocore then reads no ETag, conditional requests and syncs compare nothing, and the
    gateway's own copy and ACL checks bind to an empty value). The caller closes the
    response."""
    headers = response.headers
    length = headers.get("Content-Length", "")
    etag = headers.get("ETag", "")
    modified = headers.get("Last-Modified", "")
    if (
        response.status not in OBJECT_STATUSES
        or not length.isdigit()
        or not etag.strip(' "')
        or not ((len(modified) == 29 and modified[-4:] == " GMT") or _a_date(modified))
    ):
        log.warning(
            "upstream answered %s %d with Content-Length %r, ETag %r, Last-Modified %r: not"
            " an object's answer",
            response.method,
            response.status,
            length,
            etag,
            modified,
        )
        raise S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
    return int(length)


def _a_date(value: str) -> bool:
    """Whether ``value`` reads as an HTTP date in a form other than S3's (every real
    upstream's is in S3's form, which :func:`object_answer` takes at a comparison's cost)."""
    fixed = http_date(value)
    return len(fixed) == 29 and fixed[-4:] == " GMT"


async def upstream_result(
    upstream: _Translates, response: UpstreamResponse, parse: Callable[[bytes], T]
) -> T:
    """A 2xx upstream result document, read with a size cap and parsed; an ``<Error>`` inside
    it (S3 can fail after the 200 status line) becomes the S3 error it names."""
    body = await read_result(response)
    try:
        return parse(body)
    except EmbeddedError as error:
        raise upstream.translate(200, error.code, response.method, "<Error> inside a 200") from None


async def complete_result(
    upstream: _Translates, response: UpstreamResponse, last: bool
) -> tuple[str, dict[str, str]] | None:
    """A 2xx Complete's (ETag, checksums); None for an ``<Error>`` InternalError inside it,
    which S3 documents as a Complete to retry, as a 500 is (:mod:`.upstream_retry`): asked
    again unless ``last``."""
    body = await read_result(response)
    try:
        return parse_complete_result(body)
    except EmbeddedError as error:
        if error.code == "InternalError" and not last:
            log.warning("upstream %s: POST -> 200 InternalError, asked again", upstream.name)
            return None
        raise upstream.translate(200, error.code, response.method, "<Error> inside a 200") from None
