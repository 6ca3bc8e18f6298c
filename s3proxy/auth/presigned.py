"""AWS Signature Version 4 in the query string (presigned URLs) for S3. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html — the canonical
request is the header form's (:mod:`s3proxy.auth.canonical`) with ``X-Amz-Signature`` left out
of the query and, as botocore's ``S3SigV4QueryAuth`` signs it, ``UNSIGNED-PAYLOAD`` in place of
the payload hash unless the client gave one (signed header or query parameter).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from s3proxy.auth.canonical import Headers, canonical_request
from s3proxy.auth.mismatch import key_error
from s3proxy.auth.sigv4 import (
    ALGORITHM,
    SIGV4A,
    UNSIGNED_PAYLOAD,
    Credential,
    VerifiedSigV4,
    join_headers,
    parse_amz_date,
    parse_credential,
    received_string_to_sign,
    sign,
    signed_header_names,
    signing_key,
    sigv4_mismatch,
    sigv4a_refused,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import parse_query

MAX_EXPIRES = 604800
"""Seven days, in seconds: the longest X-Amz-Expires S3 accepts."""
SIGNATURE_PARAM = "X-Amz-Signature"
REQUIRED_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    SIGNATURE_PARAM,
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)

_SIGNED_HEADERS = "X-Amz-SignedHeaders"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_INTEGER = re.compile(r"-?[0-9]+")
_MISSING = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_CREDENTIAL_PREFIX = "Error parsing the X-Amz-Credential parameter; "
_NOT_SIGNED = "There were headers present in the request which were not signed"


def _query_error(message: str) -> S3Error:
    return S3Error(S3ErrorCode.AuthorizationQueryParametersError, message)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expires(value: str) -> int:
    """X-Amz-Expires: whole seconds, 1 to 604800."""
    if not _INTEGER.fullmatch(value):
        raise _query_error("X-Amz-Expires should be a number")
    if value.startswith("-"):
        raise _query_error("X-Amz-Expires must be non-negative")
    expires = int(value) if len(value) <= 7 else MAX_EXPIRES + 1  # no int() of huge strings
    if expires == 0:
        raise _query_error("X-Amz-Expires must be at least 1 second")
    if expires > MAX_EXPIRES:  # S3's words, as MinIO, Swift's s3api and versitygw answer them
        raise _query_error(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given "
            "X-Amz-Expires must be less than 604800 seconds"
        )
    return expires


def parse_query_credential(value: str) -> Credential:
    """X-Amz-Credential, with the query form's error (AuthorizationQueryParametersError)."""
    parts = value.split("/")
    if len(parts) == 5 and all(parts[:3]):
        if parts[3] != "s3":
            raise _query_error(
                f'{_CREDENTIAL_PREFIX}incorrect service "{parts[3]}". '
                'This endpoint belongs to "s3".'
            )
        if parts[4] != "aws4_request":
            raise _query_error(
                f'{_CREDENTIAL_PREFIX}incorrect terminal "{parts[4]}". '
                'This endpoint uses "aws4_request".'
            )
    try:
        return parse_credential(value)
    except S3Error:
        raise _query_error(
            f"{_CREDENTIAL_PREFIX}the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        ) from None


def presigned_payload_hashes(
    params: Mapping[str, str], joined: Mapping[str, str]
) -> tuple[str, tuple[str, ...]]:
    """(hash the body must match, hashes the signer may have put in the canonical request).

    With a (necessarily signed) ``x-amz-content-sha256`` header, its value: botocore's presigner
    signs exactly that. With the value as a query parameter (any case; aws-sdk-go hoists the
    header there and MinIO reads it) the signer may have signed it or UNSIGNED-PAYLOAD (botocore
    ignores the parameter); the body is checked against it either way, since the signed query
    says so. Otherwise UNSIGNED-PAYLOAD. Streaming values are refused: a presigned URL describes
    one plain body.
    """
    in_query = {v for k, v in params.items() if k.lower() == "x-amz-content-sha256"}
    in_header = joined.get("x-amz-content-sha256")
    values = in_query | ({in_header} if in_header is not None else set())
    if not values:
        return UNSIGNED_PAYLOAD, (UNSIGNED_PAYLOAD,)
    value = values.pop()
    if values or not (value == UNSIGNED_PAYLOAD or _HEX64.fullmatch(value)):
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
        )
    if in_header is not None or value == UNSIGNED_PAYLOAD:
        return value, (value,)
    return value, (value, UNSIGNED_PAYLOAD)


def _check_time(when: datetime, expires: int, now: datetime, max_skew: int) -> None:
    if (when - now).total_seconds() > max_skew:
        raise S3Error(S3ErrorCode.AccessDenied, "Request is not valid yet")
    if now > when + timedelta(seconds=expires):
        error = S3Error(S3ErrorCode.AccessDenied, "Request has expired")
        error.fields.update(
            {
                "X-Amz-Expires": str(expires),
                "Expires": _iso(when + timedelta(seconds=expires)),
                "ServerTime": _iso(now),
            }
        )
        raise error


def verify_presigned_v4(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew: int = 900,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
    joined: Mapping[str, str] | None = None,
) -> VerifiedSigV4:
    """Verify a ``?X-Amz-Algorithm=AWS4-HMAC-SHA256&…`` request, or raise the S3 error AWS would.

    ``now`` naive is taken as UTC. ``region`` None accepts any region. A request dated more than
    ``max_skew`` seconds ahead of ``now`` is "not valid yet"; one past X-Amz-Date + X-Amz-Expires
    has expired. Repeated query parameters: the first value is used, as in ``S3Request.query``.
    ``params`` and ``joined``: ``parse_query(query_string)`` and ``join_headers(headers)`` when
    the caller has them already (``S3Request.query`` and ``header_map``), not built twice.
    """
    if params is None:
        params = parse_query(query_string)
    # An empty X-Amz-SignedHeaders signs no header: S3's answer is that host was not signed
    # (403 AccessDenied, brendanhay/amazonka#272), given below.
    if _SIGNED_HEADERS not in params or not all(
        params.get(name) for name in REQUIRED_PARAMS if name != _SIGNED_HEADERS
    ):
        raise _query_error(_MISSING)
    if params["X-Amz-Algorithm"] == SIGV4A:
        raise sigv4a_refused()
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    amz_date = params["X-Amz-Date"]
    when = parse_amz_date(amz_date)
    if when is None:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = parse_expires(params["X-Amz-Expires"])
    credential = parse_query_credential(params["X-Amz-Credential"])
    if credential.date != amz_date[:8]:
        raise _query_error(
            f'Invalid credential date "{credential.date}". '
            f'This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
        )
    if region is not None and credential.region != region:
        raise S3Error(
            S3ErrorCode.AuthorizationQueryParametersError,
            f"{_CREDENTIAL_PREFIX}the region '{credential.region}' is wrong; expecting '{region}'",
            Region=region,
        )
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    _check_time(when, expires, now, max_skew)

    listed = params[_SIGNED_HEADERS]
    signed_headers = signed_header_names(listed) if listed else ()
    if not all(signed_headers):
        raise _query_error("X-Amz-SignedHeaders is malformed")
    if joined is None:
        joined = join_headers(headers)
    signed = frozenset(signed_headers)
    not_signed = [] if "host" in signed else ["host"]
    # x-amz-* *query* parameters are fine: the whole query is signed.
    not_signed.extend(sorted(n for n in joined if n.startswith("x-amz-") and n not in signed))
    if not_signed:
        raise S3Error(S3ErrorCode.AccessDenied, _NOT_SIGNED, HeadersNotSigned=", ".join(not_signed))
    payload_hash, signed_hashes = presigned_payload_hashes(params, joined)

    secret = lookup_secret(credential.access_key)
    if secret is None:
        raise key_error(credential.access_key)
    provided = params[SIGNATURE_PARAM].lower()
    # A non-hex signature can never match; checking first also keeps compare_digest on ASCII.
    valid = signed.issubset(joined) and _HEX64.fullmatch(provided) is not None
    matched = False
    key = signing_key(secret, credential.date, credential.region, credential.service)
    canonical = to_sign = ""
    for signed_hash in signed_hashes:  # all computed: the time says nothing about which one
        canonical = canonical_request(
            method,
            raw_path,
            query_string,
            headers,
            signed_headers,
            signed_hash,
            exclude_query=SIGNATURE_PARAM,
        )
        to_sign = received_string_to_sign(amz_date, credential.scope, canonical)
        matched |= valid and hmac.compare_digest(sign(key, to_sign), provided)
    if not matched:
        # The last form tried is S3's own: a signed header's hash, else UNSIGNED-PAYLOAD.
        raise sigv4_mismatch(credential.access_key, to_sign, params[SIGNATURE_PARAM], canonical)
    return VerifiedSigV4(
        access_key=credential.access_key,
        credential=credential,
        amz_date=amz_date,
        payload_hash=payload_hash,
        signature=provided,
        signing_key=key,
    )
