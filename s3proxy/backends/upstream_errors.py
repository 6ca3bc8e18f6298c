"""What a client sees when an upstream S3 server answers with an error: one table, one function.

https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html — a 4xx says the request was
wrong, a 5xx that the server failed, and SDKs retry only the second. So an upstream 4xx that
describes the client's request reaches the client as the same S3 code (or the closest one for
its status), never as a 500 it would retry in vain; a 5xx, or a connection that fails, is 503
with a message that names the storage behind the gateway, never S3's "Reduce your request rate"
(that is SlowDown's, and stays the upstream's own SlowDown). Upstream refusals of the gateway's
own request — its credentials, its signature, a redirect to another endpoint — are the
operator's to fix, not the client's: 500 InternalError, saying so.

Nothing of the upstream's answer but its code is used; its message, bucket and key names stay in
the log (warning level for anything but the routine answers a client expects to see).
"""

from __future__ import annotations

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.upstream_xml import UNREADABLE

STORAGE_FAILED = "The storage behind this gateway failed to complete the request. Please retry."
STORAGE_UNREACHABLE = "The storage behind this gateway could not be reached. Please retry."
STORAGE_REFUSED_GATEWAY = (
    "The storage behind this gateway refused the gateway's own request; its configuration "
    "(credentials, endpoint or region) needs attention."
)
STORAGE_REFUSED = "The storage behind this gateway refused this request as invalid."
STORAGE_UNREADABLE = UNREADABLE

PASSED_ON = frozenset(
    {
        "BadDigest",
        "ConditionalRequestConflict",  # AWS S3: a conditional write met another (409)
        "EntityTooLarge",
        "EntityTooSmall",
        "IncompleteBody",
        "InvalidArgument",
        "InvalidChunkSizeError",
        "InvalidDigest",
        "InvalidPart",
        "InvalidPartNumber",
        "InvalidPartOrder",
        "InvalidRange",
        "InvalidRequest",
        "InvalidStorageClass",
        "InvalidURI",
        "KeyTooLongError",
        "MethodNotAllowed",
        "NoSuchKey",
        "NoSuchUpload",
        "NoSuchVersion",
        "NotImplemented",
        "NotModified",
        "PreconditionFailed",
        "RequestTimeout",
        "SlowDown",
        "XAmzContentSHA256Mismatch",
    }
)
"""Upstream codes that describe the client's request: passed on as the same code, with the
gateway's own message."""

ROUTINE = frozenset(
    {
        S3ErrorCode.NoSuchKey,
        S3ErrorCode.NoSuchBucket,
        S3ErrorCode.NoSuchUpload,
        S3ErrorCode.NotModified,
        S3ErrorCode.PreconditionFailed,
        S3ErrorCode.InvalidRange,
    }
)
"""Answers that are part of normal use: logged at info level, not warning."""

_BY_STATUS = {
    304: S3ErrorCode.NotModified,
    400: S3ErrorCode.InvalidRequest,
    404: S3ErrorCode.NoSuchKey,
    405: S3ErrorCode.MethodNotAllowed,
    408: S3ErrorCode.RequestTimeout,
    412: S3ErrorCode.PreconditionFailed,
    413: S3ErrorCode.EntityTooLarge,
    414: S3ErrorCode.KeyTooLongError,
    416: S3ErrorCode.InvalidRange,
    429: S3ErrorCode.SlowDown,
    501: S3ErrorCode.NotImplemented,
}
_GATEWAY_STATUSES = frozenset({301, 302, 307, 308, 401, 403, 407, 411})
"""Redirects (another region or endpoint), refused credentials, and a framing the upstream
does not take (Ceph RGW's MissingContentLength for aws-chunked): the gateway's request."""

_MESSAGES = {
    S3ErrorCode.InvalidRequest: STORAGE_REFUSED,
    S3ErrorCode.NotImplemented: "The storage behind this gateway does not implement this request.",
}


_NAMING = frozenset({404, 405})
"""Statuses whose S3 code names something (the key, the bucket, the upload, the method): S3
answers them with an error document, so one without a ``<Code>`` to a request other than a HEAD
(whose answer has no body) came from something else in front of the storage (a load balancer's
404 page), and a code read from the status alone would tell the client something false
(NoSuchKey to a PUT). 500, as any answer the gateway cannot read."""


def translate(status: int, code_name: str, bodied: bool = False) -> S3Error:
    """The error a client sees for an upstream answer of ``status`` carrying ``<Code>``
    ``code_name`` ("" when it had none, 200 for an ``<Error>`` inside a 200 response);
    ``bodied``: the request was not a HEAD, so an S3 error answer would have carried a code."""
    if bodied and not code_name and status in _NAMING:
        return S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
    code = _code(status, code_name)
    if code is S3ErrorCode.InternalError:
        gateway = status in _GATEWAY_STATUSES
        return S3Error(code, STORAGE_REFUSED_GATEWAY if gateway else STORAGE_FAILED)
    if code is S3ErrorCode.ServiceUnavailable:
        return S3Error(code, STORAGE_FAILED)
    if code_name in PASSED_ON or code is S3ErrorCode.NoSuchBucket:
        return S3Error(code)
    return S3Error(code, _MESSAGES.get(code))


def _code(status: int, code_name: str) -> S3ErrorCode:
    if status == 404 and code_name == "NoSuchBucket":
        return S3ErrorCode.NoSuchBucket
    if code_name in PASSED_ON and (status < 500 or code_name in ("SlowDown", "NotImplemented")):
        return S3ErrorCode[code_name]
    if status in _GATEWAY_STATUSES:
        return S3ErrorCode.InternalError
    by_status = _BY_STATUS.get(status)
    if by_status is not None:
        return by_status
    if 400 <= status < 500:
        return S3ErrorCode.InvalidRequest
    if status >= 500:
        return S3ErrorCode.ServiceUnavailable
    return S3ErrorCode.InternalError  # an <Error> inside a 200, or a status S3 never sends


def unreachable() -> S3Error:
    """The upstream could not be reached, or its answer broke off: 503, saying which."""
    return S3Error(S3ErrorCode.ServiceUnavailable, STORAGE_UNREACHABLE)
