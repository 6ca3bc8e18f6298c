"""AWS Signature Version 4 for S3, both directions: verify clients, sign upstream requests. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html — one small
function per spec term, as in botocore's ``auth.py``. S3's quirk: the canonical URI is the raw
path re-encoded once, never normalised (``.``, ``..`` and ``//`` are kept).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from s3proxy.errors import S3Error, S3ErrorCode

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
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

Headers = Sequence[tuple[str, str]]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SPACES = re.compile(r"\s+")
_AUTH_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*")


@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class VerifiedSigV4:
    access_key: str
    credential: Credential
    amz_date: str
    payload_hash: str
    signature: str
    """The verified (seed) signature: aws-chunked chunk signatures chain from it."""
    signing_key: bytes


def _malformed(message: str = "The authorization header is malformed.") -> S3Error:
    return S3Error(S3ErrorCode.AuthorizationHeaderMalformed, message)


def parse_credential(value: str) -> Credential:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        raise _malformed()
    if parts[3] != "s3":
        raise _malformed(f"The authorization header is malformed; incorrect service '{parts[3]}'.")
    return Credential(parts[0], parts[1], parts[2], parts[3])


def parse_authorization(value: str) -> AuthorizationHeader:
    """``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``"""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _malformed()
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _AUTH_FIELD.fullmatch(part)
        if match is None or match.group(1) in fields:
            raise _malformed()
        fields[match.group(1)] = match.group(2)
    if set(fields) != {"Credential", "SignedHeaders", "Signature"} or not fields["Signature"]:
        raise _malformed()
    signed = tuple(fields["SignedHeaders"].split(";"))
    if not all(signed):
        raise _malformed()
    return AuthorizationHeader(parse_credential(fields["Credential"]), signed, fields["Signature"])


def uri_encode(raw: bytes, safe: str) -> str:
    """Percent-encode every byte outside ``A-Za-z0-9-._~`` (and ``safe``), uppercase hex."""
    return quote(raw, safe=safe)


def canonical_uri(raw_path: str) -> str:
    if not raw_path:
        return "/"
    return uri_encode(unquote_to_bytes(raw_path), "/~")


def canonical_query(query_string: str, *, exclude: str | None = None) -> str:
    if not query_string:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        encoded_name = uri_encode(unquote_to_bytes(name), "~")
        if exclude is not None and encoded_name == exclude:
            continue
        pairs.append((encoded_name, uri_encode(unquote_to_bytes(value), "~")))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(headers: Headers, signed: Sequence[str]) -> str:
    values: dict[str, list[str]] = {}
    wanted = set(signed)
    for name, value in headers:
        lower = name.lower()
        if lower in wanted:
            values.setdefault(lower, []).append(_SPACES.sub(" ", value.strip()))
    return "".join(f"{name}:{','.join(values.get(name, ()))}\n" for name in signed)


def canonical_request(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    exclude_query: str | None = None,
) -> str:
    return "\n".join(
        (
            method,
            canonical_uri(raw_path),
            canonical_query(query_string, exclude=exclude_query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@functools.lru_cache(maxsize=1024)
def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(key, region), service), "aws4_request")


def sign(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def request_time(headers: Headers) -> tuple[str, datetime]:
    """The request's time from ``x-amz-date``, else ``Date``: (amz-format string, datetime)."""
    invalid = S3Error(
        S3ErrorCode.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header"
    )
    amz_date = _header(headers, "x-amz-date")
    if amz_date is not None:
        try:
            when = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise invalid from None
        return amz_date, when
    date = _header(headers, "date")
    if date is None:
        raise invalid
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise invalid from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(AMZ_DATE_FORMAT), when


def check_payload_hash(value: str | None) -> str:
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
) -> VerifiedSigV4:
    authorization = _header(headers, "authorization")
    if authorization is None:
        raise _malformed()
    auth = parse_authorization(authorization)
    credential = auth.credential
    amz_date, when = request_time(headers)
    if credential.date != amz_date[:8]:
        raise _malformed(
            f'Invalid credential date "{credential.date}". This date is not the same as X-Amz-Date.'
        )
    if abs((now - when).total_seconds()) > max_skew:
        raise S3Error(S3ErrorCode.RequestTimeTooSkewed)
    if region is not None and credential.region != region:
        raise _malformed(f"the region '{credential.region}' is wrong; expecting '{region}'")
    signed = set(auth.signed_headers)
    if "host" not in signed:
        raise S3Error(S3ErrorCode.AccessDenied, "The host header must be signed.")
    present = {name.lower() for name, _ in headers}
    if any(name.startswith("x-amz-") and name not in signed for name in present):
        raise S3Error(
            S3ErrorCode.AccessDenied,
            "There were headers present in the request which were not signed",
        )
    payload_hash = check_payload_hash(_header(headers, "x-amz-content-sha256"))
    secret = lookup_secret(credential.access_key)
    if secret is None:
        raise S3Error(S3ErrorCode.InvalidAccessKeyId)
    if not signed <= present:
        raise S3Error(S3ErrorCode.SignatureDoesNotMatch)
    canonical = canonical_request(
        method, raw_path, query_string, headers, auth.signed_headers, payload_hash
    )
    key = signing_key(secret, credential.date, credential.region, credential.service)
    expected = sign(key, string_to_sign(amz_date, credential.scope, canonical))
    if not hmac.compare_digest(expected, auth.signature.lower()):
        raise S3Error(S3ErrorCode.SignatureDoesNotMatch)
    return VerifiedSigV4(
        access_key=credential.access_key,
        credential=credential,
        amz_date=amz_date,
        payload_hash=payload_hash,
        signature=auth.signature.lower(),
        signing_key=key,
    )


_SIGN_ALWAYS = frozenset({"host", "content-md5", "content-type"})


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
    """The headers to add so that the upstream accepts the request: date, hash, Authorization."""
    amz_date = now.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    added = {"x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    pairs = [(name.lower(), value) for name, value in headers.items()]
    pairs.extend(added.items())
    signed = sorted({n for n, _ in pairs if n in _SIGN_ALWAYS or n.startswith("x-amz-")})
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    canonical = canonical_request(method, raw_path, query_string, pairs, signed, payload_hash)
    key = signing_key(secret_key, amz_date[:8], region)
    signature = sign(key, string_to_sign(amz_date, scope, canonical))
    added["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return added
