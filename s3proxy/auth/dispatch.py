"""Choose how a request is authenticated, from credentials present *anywhere* in it.

Dispatching on "is there an Authorization header" alone is how MinIO ended up storing bodies
whose presigned or streaming path skipped verification (CVE-2025-31489): every form of
credentials is recognised here, and each one either verifies or is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from s3proxy.auth.sigv4 import ALGORITHM, VerifiedSigV4, verify_header_auth
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request

PRESIGNED_V4_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
PRESIGNED_V2_PARAMS = ("AWSAccessKeyId", "Signature")


def authenticate(
    request: S3Request,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew: int,
    region: str | None,
) -> VerifiedSigV4:
    authorization = request.header("authorization")
    presigned = any(p in request.query for p in PRESIGNED_V4_PARAMS + PRESIGNED_V2_PARAMS)
    if authorization is not None and presigned:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
        )
    if authorization is not None:
        if authorization.startswith(ALGORITHM + " "):
            return verify_header_auth(
                request.method,
                request.raw_path,
                request.query_string,
                request.headers,
                lookup_secret,
                now,
                max_skew=max_skew,
                region=region,
            )
        if authorization.startswith("AWS "):
            raise S3Error(S3ErrorCode.NotImplemented, "Signature Version 2 is not supported yet.")
        raise S3Error(S3ErrorCode.InvalidArgument, "Unsupported Authorization Type")
    if presigned:
        raise S3Error(S3ErrorCode.NotImplemented, "Presigned URLs are not supported yet.")
    raise S3Error(S3ErrorCode.AccessDenied, "Anonymous access is not allowed.")
