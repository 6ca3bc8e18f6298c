"""Choose how a request is authenticated, from credentials present *anywhere* in it.

Dispatching on "is there an Authorization header" alone is how MinIO ended up storing bodies
whose presigned or streaming path skipped verification (CVE-2025-31489): every form of
credentials is recognised here, and each one either verifies or is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from s3proxy.auth.presigned import verify_presigned_v4
from s3proxy.auth.sigv2 import VerifiedSigV2, verify_sigv2_header, verify_sigv2_query
from s3proxy.auth.sigv4 import (
    ALGORITHM,
    SIGV4A,
    VerifiedSigV4,
    sigv4a_refused,
    verify_header_auth,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request

PRESIGNED_V4_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
PRESIGNED_V2_PARAMS = ("AWSAccessKeyId", "Signature")

Verified = VerifiedSigV4 | VerifiedSigV2


def authenticate(
    request: S3Request,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew: int,
    region: str | None,
    allow_v2: bool = True,
) -> Verified:
    authorization = request.header("authorization")
    if authorization is not None and (not authorization or authorization.isspace()):
        authorization = None  # AWS: an empty header carries no credentials (403 below)
    query = request.query
    presigned_v4 = bool(query) and any(p in query for p in PRESIGNED_V4_PARAMS)
    presigned_v2 = bool(query) and any(p in query for p in PRESIGNED_V2_PARAMS)
    if authorization is not None and (presigned_v4 or presigned_v2):
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
        )
    args = (request.method, request.raw_path, request.query_string, request.headers)
    if authorization is not None:
        if authorization.startswith(ALGORITHM + " "):
            return verify_header_auth(
                *args,
                lookup_secret,
                now,
                max_skew=max_skew,
                region=region,
                joined=request.header_map,
            )
        if authorization.startswith("AWS "):
            _require_v2(allow_v2)
            return verify_sigv2_header(
                *args,
                lookup_secret,
                now,
                max_skew=max_skew,
                virtual_host_bucket=request.virtual_host_bucket,
            )
        if authorization.startswith(SIGV4A + " "):
            raise sigv4a_refused()
        raise unsupported_type(authorization)
    if presigned_v4:
        return verify_presigned_v4(
            *args,
            lookup_secret,
            now,
            max_skew=max_skew,
            region=region,
            params=request.query,
            joined=request.header_map,
        )
    if presigned_v2:
        _require_v2(allow_v2)
        return verify_sigv2_query(
            *args, lookup_secret, now, virtual_host_bucket=request.virtual_host_bucket
        )
    raise S3Error(S3ErrorCode.AccessDenied, "Anonymous access is not allowed.")


def _require_v2(allowed: bool) -> None:
    """With V2 off the proxy answers as an AWS region that takes SigV4 only (eu-central-1 and
    every newer one): 400 InvalidRequest, the message s3cmd and the SDKs show their users."""
    if not allowed:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.",
        )


def unsupported_type(authorization: str) -> S3Error:
    """S3's answer to an Authorization header of no scheme it knows, naming the header and
    what it could not read (a scheme, or a value with no space after one)."""
    scheme, space, _ = authorization.strip().partition(" ")
    if not space:
        return S3Error(
            S3ErrorCode.InvalidArgument,
            "Authorization header is invalid -- one and only one ' ' (space) required.",
            ArgumentName="Authorization",
            ArgumentValue=authorization,
        )
    return S3Error(
        S3ErrorCode.InvalidArgument,
        "Unsupported Authorization Type",
        ArgumentName="Authorization",
        ArgumentValue=scheme,
    )
