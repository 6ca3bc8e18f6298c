"""AWS Signature Version 2 for S3: the ``Authorization: AWS AK:sig`` header and query forms. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html — legacy, but
boto3's ``generate_presigned_url`` still defaults to the query form and s3cmd's
``signature_v2 = True`` sends the header form. StringToSign is::

    Method \\n Content-MD5 \\n Content-Type \\n Date|Expires \\n
    CanonicalizedAmzHeaders CanonicalizedResource

and the signature base64(HMAC-SHA1(secret, StringToSign)). The resource is the path as sent
(still percent-encoded) plus the signed sub-resources with their values decoded, as botocore's
``HmacV1Auth`` and s3cmd build it. V2 signs no payload.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from s3proxy.auth.canonical import Headers
from s3proxy.auth.mismatch import key_error, signature_mismatch
from s3proxy.auth.presigned import MAX_EXPIRES
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD, parse_amz_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import decode_query_component

SIGNED_SUBRESOURCES = frozenset(
    {
        # AWS's list (RESTAuthentication "CanonicalizedResource") and s3cmd's …
        *("acl", "cors", "delete", "lifecycle", "location", "logging", "notification"),
        *("partNumber", "policy", "requestPayment", "restore", "tagging", "torrent"),
        *("uploadId", "uploads", "versionId", "versioning", "versions", "website"),
        *("response-cache-control", "response-content-disposition", "response-content-encoding"),
        *("response-content-language", "response-content-type", "response-expires"),
        # … and what botocore's HmacV1Auth.QSAOfInterest adds, which it signs when sent.
        *("accelerate", "analytics", "defaultObjectAcl", "inventory", "metrics"),
        *("object-lock", "replication", "select", "select-type", "storageClass"),
    }
)

_INVALID_HEADER = "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_QUERY_MISSING = (
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
)
EXPIRES_SLACK = 15 * 60
"""A presigner computes Expires from its own clock: one up to S3's 15-minute skew ahead of the
server may sign a URL for exactly 7 days and must not be refused."""


@dataclass(frozen=True, slots=True)
class VerifiedSigV2:
    access_key: str
    payload_hash: str
    """UNSIGNED-PAYLOAD, or the literal SHA-256 the client sent in x-amz-content-sha256: V2 signs
    no payload, but a hash the client states is checked by the body path (as Content-MD5 is)."""


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs in order, repeats kept; a bare ``+`` is a space, as the
    handlers read it (:func:`s3proxy.request.decode_query_component`)."""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((decode_query_component(name), decode_query_component(value)))
    return pairs


def canonical_amz_headers(pairs: Iterable[tuple[str, str]]) -> str:
    """A ``name:value\\n`` line per x-amz-* name, lower-cased and sorted; repeats joined by ","."""
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        lower = name.lower()
        if lower.startswith("x-amz-"):
            values.setdefault(lower, []).append(value.strip())
    return "".join([f"{name}:{','.join(values[name])}\n" for name in sorted(values)])


LATER_SUBRESOURCES = frozenset({"attributes"})
"""Sub-resources newer than V2's list (GetObjectAttributes): botocore's HmacV1Auth does not
sign them, a signer that signs every sub-resource does. Both resources are accepted: either
way the signature covers the method, path and x-amz-object-attributes, which decide what is
read, and this operation only reads."""


def canonical_resource(
    path: str,
    pairs: Sequence[tuple[str, str]],
    later: frozenset[str] = frozenset(),
    *,
    with_equals: frozenset[str] = frozenset(),
) -> str:
    """The path, then ``?`` and the signed sub-resources sorted by name (``name`` when empty,
    ``name=`` for the names in ``with_equals``); ``later``: names of
    :data:`LATER_SUBRESOURCES` signed too."""
    names = SIGNED_SUBRESOURCES | later if later else SIGNED_SUBRESOURCES
    signed = sorted((p for p in pairs if p[0] in names), key=lambda p: p[0])
    if not signed:
        return path
    return path + "?" + "&".join([f"{n}={v}" if v or n in with_equals else n for n, v in signed])


def string_to_sign(
    method: str, content_md5: str, content_type: str, date: str, amz_headers: str, resource: str
) -> str:
    return f"{method}\n{content_md5}\n{content_type}\n{date}\n{amz_headers}{resource}"


def sign_v2(secret_key: str, string_to_sign: str) -> str:
    """A string to sign whose header parts went through :func:`as_sent`: encoded as UTF-8,
    surrogate escapes back to their bytes."""
    message = string_to_sign.encode("utf-8", "surrogateescape")
    digest = hmac.digest(secret_key.encode("utf-8"), message, "sha1")
    return base64.b64encode(digest).decode("ascii")


def as_sent(value: str) -> str:
    """A header value (read as ISO-8859-1: one character per byte) as the text whose UTF-8 is
    the bytes sent, a byte outside UTF-8 kept as a surrogate escape. S3 verifies a signature
    over the bytes received; botocore's HmacV1Auth sends ``é`` as UTF-8 and signs those bytes
    (the resource's decoded sub-resources are text signed as UTF-8, so the string to sign is
    text and header values are brought to it, not the reverse)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not read from the wire
        return value


def _sent_headers(headers: Headers) -> list[tuple[str, str]]:
    return [(name, as_sent(value)) for name, value in headers]


def empty_with_equals(query_string: str) -> frozenset[str]:
    """The (decoded) names sent as ``name=`` with nothing after the ``=``."""
    if "=&" not in query_string and not query_string.endswith("="):
        return frozenset()
    return frozenset(
        decode_query_component(part[:-1]) for part in query_string.split("&") if part[-1:] == "="
    )


def resources(
    paths: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    with_equals: frozenset[str] = frozenset(),
) -> list[str]:
    """Every canonical resource a client may have signed: per path of :func:`resource_paths`,
    and with the :data:`LATER_SUBRESOURCES` the query names, without and with them signed.

    An empty sub-resource value is ``name`` by AWS's rules (and rclone's, Ceph's, MinIO's);
    botocore's HmacV1Auth writes it as sent, ``name=`` when the URL has the ``=``
    (``with_equals``: :func:`empty_with_equals`). Both say the same value: both are accepted."""
    later = frozenset(name for name, _ in pairs if name in LATER_SUBRESOURCES)
    variants = (frozenset(), later) if later else (frozenset(),)
    forms = (frozenset(), with_equals) if with_equals else (frozenset(),)
    return [
        canonical_resource(path, pairs, signed, with_equals=form)
        for path in paths
        for signed in variants
        for form in forms
    ]


def resource_paths(raw_path: str, virtual_host_bucket: str | None) -> list[str]:
    """The paths a client may have signed for this request.

    Virtual-hosted style signs ``/bucket`` + path. A bucket addressed path-style without the
    trailing slash (``/bkt``) is signed by botocore as ``/bkt/`` and by AWS's rules as ``/bkt``:
    both name the same resource, so both are accepted.
    """
    path = raw_path or "/"
    if virtual_host_bucket is not None:
        return [f"/{virtual_host_bucket}{path}"]
    if path.count("/") == 1 and len(path) > 1:
        return [path, path + "/"]
    return [path]


def _joined_headers(headers: Headers) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    return joined


def _parse_date(value: str) -> datetime | None:
    """An HTTP date (RFC 1123, as s3cmd sends even in x-amz-date) or ISO 8601 basic."""
    when = parse_amz_date(value.strip())
    if when is not None:
        return when
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _payload_hash(value: str | None) -> str:
    """What x-amz-content-sha256 (signed as any x-amz-* header) asks of the body under V2.

    A literal SHA-256 is verified over the body, never ignored: a client that states the hash
    expects a mismatch refused. aws-chunked framing (``STREAMING-*``) needs SigV4's seed
    signature and the proxy only decodes it for SigV4: refused, never stored with its framing
    as the object's bytes."""
    if value is None or value == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    if len(value) == 64 and _is_hex(value):
        return value.lower()
    if value.startswith("STREAMING-"):
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "aws-chunked bodies need SigV4.",
            ArgumentName="x-amz-content-sha256",
            ArgumentValue=value,
        )
    raise S3Error(
        S3ErrorCode.InvalidArgument,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.",
    )


def _is_hex(value: str) -> bool:
    return value.isascii() and all(c in "0123456789abcdefABCDEF" for c in value)


def _check_signature(
    access_key: str,
    provided: str,
    lookup_secret: Callable[[str], str | None],
    candidates: Sequence[str],
    content_sha256: str | None,
) -> VerifiedSigV2:
    secret = lookup_secret(access_key)
    if secret is None:
        raise key_error(access_key)
    given = provided.encode("utf-8")
    matched = False
    for candidate in candidates:  # every candidate is computed: no early exit to time
        matched |= hmac.compare_digest(sign_v2(secret, candidate).encode("ascii"), given)
    if not matched:
        # The first candidate is the string to sign by AWS's rules (what S3 shows).
        shown = candidates[0].encode("utf-8", "surrogateescape")
        raise signature_mismatch(access_key, shown, provided)
    return VerifiedSigV2(access_key=access_key, payload_hash=_payload_hash(content_sha256))


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_sigv2_header(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew: int = 900,
    virtual_host_bucket: str | None = None,
) -> VerifiedSigV2:
    """Verify ``Authorization: AWS AK:base64sig``, or raise the S3 error AWS would.

    The Date slot is empty when x-amz-date is sent (AWS's rule, s3cmd's signing); a client that
    sends both and signs Date's value there (botocore's HmacV1Auth does) is accepted too.
    """
    joined = _joined_headers(headers)
    authorization = joined.get("authorization", "").strip()
    scheme, _, credentials = authorization.partition(" ")
    fields = credentials.strip().split(":")
    if scheme != "AWS" or len(fields) != 2 or not all(fields):
        raise S3Error(S3ErrorCode.InvalidArgument, _INVALID_HEADER)
    access_key, provided = fields
    amz_date, date = joined.get("x-amz-date"), joined.get("date")
    stamp = amz_date if amz_date is not None else date
    when = _parse_date(stamp) if stamp is not None else None
    if stamp is None or when is None:
        raise S3Error(S3ErrorCode.AccessDenied, _NO_DATE)
    now = _utc(now)
    if abs((now - when).total_seconds()) > max_skew:
        raise S3Error(
            S3ErrorCode.RequestTimeTooSkewed,
            RequestTime=stamp,
            ServerTime=_iso(now),
            MaxAllowedSkewMilliseconds=str(max_skew * 1000),
        )
    date_slots = [""] if amz_date is not None else [(date or "").strip()]
    if amz_date is not None and date is not None:
        date_slots.append(date.strip())
    pairs = query_pairs(query_string)
    amz_headers = canonical_amz_headers(_sent_headers(headers))
    md5 = as_sent(joined.get("content-md5", "").strip())
    content_type = as_sent(joined.get("content-type", "").strip())
    candidates = [
        string_to_sign(method, md5, content_type, slot, amz_headers, resource)
        for slot in date_slots
        for resource in resources(
            resource_paths(raw_path, virtual_host_bucket), pairs, empty_with_equals(query_string)
        )
    ]
    return _check_signature(
        access_key, provided, lookup_secret, candidates, joined.get("x-amz-content-sha256")
    )


def verify_sigv2_query(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    virtual_host_bucket: str | None = None,
) -> VerifiedSigV2:
    """Verify ``?AWSAccessKeyId=…&Expires=…&Signature=…``, or raise the S3 error AWS would.

    x-amz-* query parameters count as x-amz-* headers (botocore moves them there when it
    presigns). The Signature is base64 percent-decoded; a space in it is read as ``+``, the one
    character a client that forgot to encode it can have turned into a space.
    """
    pairs = query_pairs(query_string)
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    access_key = params.get("AWSAccessKeyId", "")
    provided = params.get("Signature", "").replace(" ", "+")
    expires_value = params.get("Expires", "")
    if not (access_key and provided and expires_value):
        raise S3Error(S3ErrorCode.AccessDenied, _QUERY_MISSING)
    if not expires_value.isascii() or not expires_value.isdigit():
        raise S3Error(
            S3ErrorCode.AccessDenied,
            f"Invalid date (should be seconds since epoch): {expires_value}",
        )
    now = _utc(now)
    # More than 15 digits is beyond the year 30000: too far ahead (and int() stays cheap).
    if len(expires_value) <= 15 and now.timestamp() > int(expires_value):
        raise S3Error(
            S3ErrorCode.AccessDenied,
            "Request has expired",
            Expires=_iso(datetime.fromtimestamp(int(expires_value), UTC)),
            ServerTime=_iso(now),
        )
    # The 7-day bound SigV4 presigned URLs have (X-Amz-Expires ≤ 604800) holds for V2 too: a
    # V2 URL otherwise grants access for as long as its key lives.
    if (
        len(expires_value) > 15
        or int(expires_value) > now.timestamp() + MAX_EXPIRES + EXPIRES_SLACK
    ):
        raise S3Error(
            S3ErrorCode.AccessDenied,
            "Request expiry is more than 7 days (604800 seconds) ahead",
            ServerTime=_iso(now),
        )
    joined = _joined_headers(headers)
    amz_headers = canonical_amz_headers([*_sent_headers(headers), *pairs])
    md5 = as_sent(joined.get("content-md5", "").strip())
    content_type = as_sent(joined.get("content-type", "").strip())
    candidates = [
        string_to_sign(method, md5, content_type, expires_value, amz_headers, resource)
        for resource in resources(
            resource_paths(raw_path, virtual_host_bucket), pairs, empty_with_equals(query_string)
        )
    ]
    return _check_signature(
        access_key, provided, lookup_secret, candidates, joined.get("x-amz-content-sha256")
    )
