"""AWS Signature Version 4 for S3, both directions: verify clients, sign upstream requests. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html — one small
function per spec term, as in botocore's ``auth.py``. S3's quirk: the canonical URI is the raw
path re-encoded once, never normalised (``.``, ``..`` and ``//`` are kept).

Paths and query strings are ``str`` as received, still percent-encoded. A character outside ASCII
in them stands for its UTF-8 bytes, as in :func:`s3proxy.request.decode_component`, so the key a
handler derives is made of the very bytes the signature covered.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from s3proxy.auth.authorization import ALGORITHM as ALGORITHM
from s3proxy.auth.authorization import AuthorizationHeader as AuthorizationHeader
from s3proxy.auth.authorization import Credential as Credential
from s3proxy.auth.authorization import malformed
from s3proxy.auth.authorization import parse_authorization as parse_authorization
from s3proxy.auth.authorization import parse_credential as parse_credential
from s3proxy.auth.authorization import signed_header_names as signed_header_names
from s3proxy.auth.canonical import Headers as Headers
from s3proxy.auth.canonical import canonical_headers as canonical_headers
from s3proxy.auth.canonical import canonical_query as canonical_query
from s3proxy.auth.canonical import canonical_request as canonical_request
from s3proxy.auth.canonical import canonical_uri as canonical_uri
from s3proxy.auth.canonical import trim_header_value
from s3proxy.auth.mismatch import key_error, signature_mismatch
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.quick_init import quick_init

SIGV4A = "AWS4-ECDSA-P256-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
STREAMING_PAYLOADS = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


_AMZ_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NOT_SIGNED = "There were headers present in the request which were not signed"
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"


@quick_init
@dataclass(frozen=True, slots=True)
class VerifiedSigV4:
    access_key: str
    credential: Credential
    amz_date: str
    """``YYYYMMDDTHHMMSSZ``, the time that went into the string to sign."""
    payload_hash: str
    """``x-amz-content-sha256`` as sent: hex, UNSIGNED-PAYLOAD or one of STREAMING_PAYLOADS."""
    signature: str
    """The verified (seed) signature, lower-case: aws-chunked chunk signatures chain from it."""
    signing_key: bytes
    canonical_request: str = ""
    """The header form's verified canonical request: an aws-chunked chunk whose signature does
    not verify is answered with it, as S3's SignatureDoesNotMatch shows it ("" when
    presigned: such a request has no chunks)."""


def sigv4a_refused() -> S3Error:
    """SigV4a (ECDSA over a region set, which CRT-based SDKs may sign with) is a scheme S3
    serves and the gateway does not verify: 501 NotImplemented, header and query form alike,
    rather than a 400 that tells the client its request was malformed."""
    return S3Error(
        S3ErrorCode.NotImplemented,
        f"Signature Version 4A ({SIGV4A}) is not implemented here: sign with {ALGORITHM}.",
    )


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """For a request the gateway sends: its canonical request hashed as UTF-8, the bytes an
    HTTP client writes for that text."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def received_string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """For a request received: its canonical request hashed as the very bytes that came on the
    wire, as S3 verifies a signature. Header values are read as ISO-8859-1 (one character per
    byte; the path and query are ASCII), so encoding them back that way gives those bytes.
    botocore writes a header value such as ``Content-Disposition: é`` as UTF-8 and signs the
    same UTF-8 bytes: S3 stores it, where hashing the text's UTF-8 (each byte as a character)
    refused it; a client that signs UTF-8 but sends ISO-8859-1 (Node's http, http.client) is
    refused by S3, and now here too. A character beyond ISO-8859-1 cannot have come on the
    wire, so no signature covers it."""
    try:
        wire = canonical_request.encode("latin-1")
    except UnicodeEncodeError:
        raise S3Error(S3ErrorCode.SignatureDoesNotMatch) from None
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(wire).hexdigest()}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


@functools.lru_cache(maxsize=1024)
def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(key, region), service), "aws4_request")


@functools.lru_cache(maxsize=1024)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 already keyed (never updated itself: copied per message). Keying costs
    as much as the rest of an HMAC over a string to sign, and a signing key serves a day."""
    return hmac.new(key, digestmod="sha256")


def sign(key: bytes, string_to_sign: str) -> str:
    mac = _keyed_hmac(key).copy()
    mac.update(string_to_sign.encode("utf-8"))
    return mac.hexdigest()


@functools.lru_cache(maxsize=64)
def parse_amz_date(value: str) -> datetime | None:
    """``YYYYMMDDTHHMMSSZ`` → aware UTC datetime; anything else → None.

    Cached: every request signed within the same second carries the same string.
    """
    match = _AMZ_DATE.fullmatch(value)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def format_amz_date(when: datetime) -> str:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC."""
    if when.tzinfo is UTC:  # the proxy's own clock, once per upstream request: cached per second
        return _utc_second(math.floor(when.timestamp()))
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return (
        f"{when.year:04}{when.month:02}{when.day:02}"
        f"T{when.hour:02}{when.minute:02}{when.second:02}Z"
    )


@functools.lru_cache(maxsize=4)
def _utc_second(epoch_second: int) -> str:
    when = time.gmtime(epoch_second)
    return (
        f"{when.tm_year:04}{when.tm_mon:02}{when.tm_mday:02}"
        f"T{when.tm_hour:02}{when.tm_min:02}{when.tm_sec:02}Z"
    )


def _request_time(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """(amz-format string for the string to sign, time) from ``x-amz-date``, else ``Date``."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        when = parse_amz_date(amz_date)
        if when is None:
            raise S3Error(S3ErrorCode.AccessDenied, _NO_DATE)
        return amz_date, when
    date = headers.get("date")
    if date is None:
        raise S3Error(S3ErrorCode.AccessDenied, _NO_DATE)
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        raise S3Error(S3ErrorCode.AccessDenied, _NO_DATE) from None
    if parsed.tzinfo is None:  # "-0000": UTC by RFC 5322
        parsed = parsed.replace(tzinfo=UTC)
    return format_amz_date(parsed), parsed


def _check_payload_hash(value: str | None) -> str:
    if value is None:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        )
    if value == UNSIGNED_PAYLOAD or value in STREAMING_PAYLOADS or _HEX64.fullmatch(value):
        return value
    raise S3Error(
        S3ErrorCode.InvalidArgument,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.",
    )


def join_headers(headers: Headers) -> dict[str, str]:
    """Lower-case name → value, repeats joined with "," as in the canonical headers: a doubled
    x-amz-content-sha256 or x-amz-date is then invalid rather than verified under one value and
    used under another. ``S3Request.header_map`` is built by this function too."""
    joined: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    return joined


def verify_header_auth(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew: int = 900,
    region: str | None = None,
    joined: Mapping[str, str] | None = None,
) -> VerifiedSigV4:
    """Verify an ``Authorization: AWS4-HMAC-SHA256 …`` request, or raise the S3 error AWS would.

    ``now`` naive is taken as UTC. ``region`` None accepts any region (s3cmd signs with "US").
    ``joined``: :func:`join_headers` of ``headers`` when the caller has it already
    (``S3Request.header_map``), so that it is not built twice per request.
    """
    if joined is None:
        joined = join_headers(headers)
    authorization = joined.get("authorization")
    if authorization is None:
        raise malformed()
    auth = parse_authorization(authorization)
    credential = auth.credential
    amz_date, when = _request_time(joined)
    if credential.date != amz_date[:8]:
        raise malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if abs((now - when).total_seconds()) > max_skew:
        raise S3Error(
            S3ErrorCode.RequestTimeTooSkewed,
            RequestTime=amz_date,
            ServerTime=format_amz_date(now),
            MaxAllowedSkewMilliseconds=str(max_skew * 1000),
        )
    if region is not None and credential.region != region:
        raise malformed(
            f"the region '{credential.region}' is wrong; expecting '{region}'", region=region
        )
    signed = frozenset(auth.signed_headers)
    unsigned_amz = [n for n in joined if n.startswith("x-amz-") and n not in signed]
    if unsigned_amz or "host" not in signed:
        not_signed = ([] if "host" in signed else ["host"]) + sorted(unsigned_amz)
        raise S3Error(S3ErrorCode.AccessDenied, _NOT_SIGNED, HeadersNotSigned=", ".join(not_signed))
    payload_hash = _check_payload_hash(joined.get("x-amz-content-sha256"))
    secret = lookup_secret(credential.access_key)
    if secret is None:
        raise key_error(credential.access_key)
    provided = auth.signature.lower()
    canonical = canonical_request(
        method, raw_path, query_string, headers, auth.signed_headers, payload_hash
    )
    key = signing_key(secret, credential.date, credential.region, credential.service)
    to_sign = received_string_to_sign(amz_date, credential.scope, canonical)
    # A non-hex signature can never match; checking first also keeps compare_digest on ASCII.
    if not (
        signed.issubset(joined)
        and _HEX64.fullmatch(provided)
        and hmac.compare_digest(sign(key, to_sign), provided)
    ):
        raise sigv4_mismatch(credential.access_key, to_sign, auth.signature, canonical)
    return VerifiedSigV4(
        access_key=credential.access_key,
        credential=credential,
        amz_date=amz_date,
        payload_hash=payload_hash,
        signature=provided,
        signing_key=key,
        canonical_request=canonical,
    )


def sigv4_mismatch(access_key: str, to_sign: str, provided: str, canonical: str) -> S3Error:
    """SignatureDoesNotMatch with what was signed (:mod:`s3proxy.auth.mismatch`): the string
    to sign as :func:`sign` encodes it, the canonical request as
    :func:`received_string_to_sign` hashed it."""
    return signature_mismatch(
        access_key, to_sign.encode("utf-8"), provided, canonical.encode("latin-1")
    )


_ALWAYS_SIGNED = frozenset({"host", "content-md5", "content-type"})
_REPLACED = frozenset({"x-amz-date", "x-amz-content-sha256", "authorization"})


def sign_request_headers(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    *,
    access_key: str,
    secret_key: str,
    region: str,
    payload_hash: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to add so that the upstream accepts the request: date, hash, Authorization.

    Signs ``host``, ``content-md5``, ``content-type`` and every ``x-amz-*`` header. Any
    ``x-amz-date``/``x-amz-content-sha256``/``authorization`` in ``headers`` is replaced by the
    returned one: send ours instead (with ``dict.update`` the names must match in case).
    """
    amz_date = format_amz_date(now)
    date = amz_date[:8]
    values = {"x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    for name, value in headers.items():
        lower = name.lower()
        if (lower in _ALWAYS_SIGNED or lower.startswith("x-amz-")) and lower not in _REPLACED:
            trimmed = trim_header_value(value)
            values[lower] = f"{values[lower]},{trimmed}" if lower in values else trimmed
    if "host" not in values:
        raise ValueError("sign_request_headers needs the host header that will be sent")
    signed = sorted(values)
    signed_headers = ";".join(signed)
    canonical = "\n".join(
        (
            method,
            canonical_uri(raw_path),
            canonical_query(query_string),
            "".join([f"{name}:{values[name]}\n" for name in signed]),
            signed_headers,
            payload_hash,
        )
    )
    scope = f"{date}/{region}/s3/aws4_request"
    signature = sign(
        signing_key(secret_key, date, region), string_to_sign(amz_date, scope, canonical)
    )
    return {
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
        "Authorization": f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}",
    }
