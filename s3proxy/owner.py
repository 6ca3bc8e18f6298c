"""Who owns a tenant's buckets, and the bucket owner condition that checks it.

Each tenant has an owner id shaped like an AWS account id (12 digits): configured as
``tenants.NAME.owner_id``, or derived from the tenant name by :func:`derived_owner_id`. Every
bucket a tenant reaches is its own, so ``x-amz-expected-bucket-owner`` (and, on copies,
``x-amz-source-expected-bucket-owner``) must name the caller's id.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.request import S3Request

OWNER_ID_RE = re.compile(r"[0-9]{12}")
EXPECTED_OWNER = "x-amz-expected-bucket-owner"
SOURCE_EXPECTED_OWNER = "x-amz-source-expected-bucket-owner"
COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})
_DERIVATION_SALT = b"s3proxy owner id\x00"
_SHOWN_PURPOSE = b"s3proxy shown owner id\x00"


@dataclass(frozen=True, slots=True)
class Owner:
    """The ``<Owner>`` (and ``<Initiator>``) of listings: the id, and the tenant name to show."""

    id: str
    display_name: str
    shown_id: str = ""
    """The id anyone but the owner sees (:func:`shown_owner_id`); "": :attr:`id`."""

    def unnamed(self) -> Owner:
        """The owner as anyone but itself sees it, in listings of its buckets (anonymous and
        other tenants' granted reads): its shown id alone. S3 has answered no ``DisplayName``
        to anyone since 2025-11-21, and here it is the tenant's name in the configuration, which
        before wave 17 every anonymous reader of a public bucket was shown; a derived id let
        them test guesses of that name (:func:`shown_owner_id`)."""
        shown = self.shown_id or self.id
        return Owner(shown, "", shown)


def derived_owner_id(tenant: str) -> str:
    """The default owner id: SHA-256 of ``"s3proxy owner id\\0" + tenant`` (UTF-8), its first
    8 bytes as a big-endian integer, modulo 10**12, as 12 digits with leading zeros."""
    digest = hashlib.sha256(_DERIVATION_SALT + tenant.encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def owner_id(tenant: str, configured: str | None) -> str:
    return configured if configured is not None else derived_owner_id(tenant)


def shown_owner_id(tenant: str, configured: str | None, secret: str | None) -> str:
    """The owner id anyone but the tenant sees: a configured one as it is (the operator chose
    it to be seen); else not :func:`derived_owner_id`, which is public and unkeyed, so that
    anyone shown it (an anonymous reader listing a public bucket) could test guesses of the
    tenant's name against it, the name wave 17 stopped showing them (wave 18 C). It is the
    same derivation keyed by the server secret (HMAC-SHA256): the same on every replica, and
    nothing to test a guess against. The tenant's own id, which its clients may have pinned
    in ``x-amz-expected-bucket-owner``, is unchanged; nobody but the tenant has a use for it
    (a request naming any owner is never served another tenant's bucket, and an anonymous
    one is checked against this id). Without a secret: the derived id, as before."""
    if configured is not None:
        return configured
    if secret is None:
        return derived_owner_id(tenant)
    digest = hmac.new(secret.encode(), _SHOWN_PURPOSE + tenant.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def _claims(request: S3Request, header: str) -> str | None:
    """A header's value, or the same name as a query parameter (presigners hoist headers)."""
    value = request.header(header)
    if value is not None:
        return value
    return next((v for name, v in request.query.items() if name.lower() == header), None)


def check_expected_owner(request: S3Request, operation: Operation, owner: str) -> None:
    """Refuse a request whose bucket owner condition names anyone but ``owner``: malformed →
    400 InvalidBucketOwnerAWSAccountID, another id → 403 AccessDenied. The source condition is
    checked on copies only: elsewhere there is no source bucket for it to describe."""
    headers = (EXPECTED_OWNER, SOURCE_EXPECTED_OWNER) if operation in COPIES else (EXPECTED_OWNER,)
    for header in headers:
        expected = _claims(request, header)
        if expected is None:
            continue
        if not OWNER_ID_RE.fullmatch(expected):
            raise S3Error(
                S3ErrorCode.InvalidBucketOwnerAWSAccountID,
                "The value of the expected bucket owner parameter must be an AWS Account ID. "
                f"[{expected}]",
            )
        if expected != owner:
            raise S3Error(S3ErrorCode.AccessDenied)
