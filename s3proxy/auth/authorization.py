"""The ``Authorization: AWS4-HMAC-SHA256 …`` header and its credential, read as S3 reads them,
with S3's AuthorizationHeaderMalformed messages word for word (botocore users see them in the
error). Pure. Split from :mod:`s3proxy.auth.sigv4`, which verifies what this parses.

https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.quick_init import quick_init

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_FIELDS = frozenset({"Credential", "SignedHeaders", "Signature"})


@quick_init
@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    date: str
    """YYYYMMDD"""
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@quick_init
@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    credential: Credential
    signed_headers: tuple[str, ...]
    """Lower-cased and sorted, whatever the case and order the client listed them in: the
    canonical request S3 verifies names them so (:func:`signed_header_names`)."""
    signature: str


def malformed(detail: str | None = None, *, region: str | None = None) -> S3Error:
    """AuthorizationHeaderMalformed; ``detail`` after S3's "The authorization header is
    malformed; " (its words for each case, as botocore users see them in the error), and
    the region S3 expected when that was wrong."""
    message = None if detail is None else f"{_MALFORMED}{detail}"
    if region is None:
        return S3Error(S3ErrorCode.AuthorizationHeaderMalformed, message)
    return S3Error(S3ErrorCode.AuthorizationHeaderMalformed, message, Region=region)


_MALFORMED = "The authorization header is malformed; "
_THREE_COMPONENTS = (
    "the authorization header requires three components: Credential, SignedHeaders, and Signature."
)
_CREDENTIAL_SHAPE = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)


@functools.lru_cache(maxsize=256)
def parse_credential(value: str) -> Credential:
    """``AK/20260101/us-east-1/s3/aws4_request`` (the header's or X-Amz-Credential's value).

    Cached (a pure function; a malformed value raises and is not remembered): a key signs
    with the same credential all day."""
    parts = value.split("/")
    if len(parts) != 5 or not all(parts[:3]):
        raise malformed(_CREDENTIAL_SHAPE)
    if parts[3] != "s3":
        raise malformed(f'incorrect service "{parts[3]}". This endpoint belongs to "s3".')
    if parts[4] != "aws4_request":
        raise malformed(f'incorrect terminal "{parts[4]}". This endpoint uses "aws4_request".')
    return Credential(parts[0], parts[1], parts[2], parts[3])


def parse_authorization(value: str) -> AuthorizationHeader:
    """``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=a;b, Signature=hex``; any spacing.

    A value ending ``, Signature=<hex>`` (what every SDK sends) is parsed as its head with a
    stand-in signature, remembered: a key sends the same head all day, with the same headers
    signed. The stand-in is hex too, so the head parses (or fails) exactly as the whole would.
    """
    head, found, signature = value.rpartition(_SIGNATURE_FIELD)
    if found and _HEX.fullmatch(signature):
        parsed = _parse_head(head)
        return AuthorizationHeader(parsed.credential, parsed.signed_headers, signature)
    return _parse_authorization(value)


_SIGNATURE_FIELD = ", Signature="
_HEX = re.compile(r"[0-9a-fA-F]+")


@functools.lru_cache(maxsize=256)
def _parse_head(head: str) -> AuthorizationHeader:
    return _parse_authorization(f"{head}{_SIGNATURE_FIELD}0")


def _parse_authorization(value: str) -> AuthorizationHeader:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise malformed()
    parts = rest.split(",")
    if len(parts) != 3:
        raise malformed(_THREE_COMPONENTS)
    fields: dict[str, str] = {}
    for part in parts:
        # Each part is ``Name=value`` with optional surrounding whitespace and none inside the
        # value (it cannot hold a comma either: that split the parts). str.strip/split and the
        # regex \s agree on what whitespace is; partition costs half a regex match.
        component = part.strip()
        name, equals, field = component.partition("=")
        if not equals or (field and field.split() != [field]):
            raise malformed(f'the authorization component "{component}" is malformed.')
        if name in _AUTH_FIELDS:
            fields.setdefault(name, field)
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in fields:
            raise malformed(f"missing {name}.")
    if not fields["Signature"]:
        raise malformed('the authorization component "Signature=" is malformed.')
    listed = fields["SignedHeaders"]
    # An empty SignedHeaders signs no header: host then was not signed, and S3's answer is
    # 403 AccessDenied naming it (verify_header_auth), as for an empty X-Amz-SignedHeaders
    # (brendanhay/amazonka#272). An empty name among others is no list of headers.
    signed = signed_header_names(listed) if listed else ()
    if not all(signed):
        raise malformed(f'the authorization component "SignedHeaders={listed}" is malformed.')
    return AuthorizationHeader(parse_credential(fields["Credential"]), signed, fields["Signature"])


def signed_header_names(value: str) -> tuple[str, ...]:
    """SignedHeaders (or X-Amz-SignedHeaders) as S3 reads it: each name lower-cased, the list
    sorted, for the canonical headers and their SignedHeaders line alike. The spec has clients
    send them so; S3 does not require it: the AWS SDK for PHP presigned URLs with
    ``X-Amz-SignedHeaders=Host`` for years (aws/aws-sdk-php#951, fixed only when MinIO refused
    them) and still lists presigned headers unsorted while signing them sorted
    (aws/aws-sdk-php#3109, refused by Dell ECS), and S3 serves both; a signer that listed and
    signed its headers out of order was refused by S3 (saltstack/salt#40536). The set of names
    signed is the same either way: no signature covers another request."""
    return tuple(sorted(value.lower().split(";")))
