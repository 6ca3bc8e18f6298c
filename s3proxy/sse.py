"""Server-side encryption: SSE-S3 (``AES256``) and SSE-C (customer keys), forwarded to S3
upstreams whose configuration lists them (``upstreams.NAME.sse``); refused everywhere else.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html

Why the proxy checks what the upstream will check again: a key whose MD5 does not match is
refused here (400 InvalidArgument, as S3 answers) before any body byte moves, whatever the
upstream makes of it; an upstream that does not list a mode never sees the headers (the
gateway cannot know that it would encrypt, and Ceph RGW 16 answers 200 to ``AES256`` and
stores the object in the clear), so the request is 501 as before. SSE-KMS is 501 everywhere.
A GET or HEAD with a customer key is the exception (:func:`for_object_read`): no object on
such an upstream can be SSE-C encrypted, so S3's answer for a plain object is exact and given
(clients such as rclone send their key on every read, and take any answer but 404 for an
existing object); the key still never reaches that upstream.

A request without any of these headers pays one header lookup per name read here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UnstorableKey
from s3proxy.model import CopyObjectInput, CustomerKey, Encryption, ReadConditions

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage

SSE = "x-amz-server-side-encryption"
CUSTOMER = "x-amz-server-side-encryption-customer-"
SOURCE_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
SSE_S3 = "AES256"
"""The only SSE-S3 algorithm and the only SSE-C algorithm S3 knows."""
KMS = frozenset({"aws:kms", "aws:kms:dsse"})

_RESPONSE_CUSTOMER_ALGORITHM = CUSTOMER + "algorithm"
_RESPONSE_CUSTOMER_MD5 = CUSTOMER + "key-md5"
_CUSTOMER_MD5_HEADER = "x-amz-server-side-encryption-customer-key-MD5"
"""S3's spelling of it in answers."""


@runtime_checkable
class Encrypting(Protocol):
    """A backend that can forward server-side encryption (the S3 upstream)."""

    @property
    def encryption_modes(self) -> frozenset[str]: ...


def _invalid(message: str, name: str) -> S3Error:
    return S3Error(S3ErrorCode.InvalidArgument, message, ArgumentName=name)


def customer_key(headers: Mapping[str, str], prefix: str = CUSTOMER) -> CustomerKey | None:
    """The SSE-C key of a request (``prefix``: the object's, or the copy source's), checked as
    S3 checks it: all three headers, algorithm AES256, a 256-bit key whose MD5 is the one sent.
    None when none of the three is present."""
    algorithm = headers.get(prefix + "algorithm")
    key = headers.get(prefix + "key")
    key_md5 = headers.get(prefix + "key-md5")
    if algorithm is None and key is None and key_md5 is None:
        return None
    if algorithm is None or algorithm.strip() != SSE_S3:
        raise _invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            prefix + "algorithm",
        )
    if not key:
        raise _invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.",
            prefix + "key",
        )
    if not key_md5:
        raise _invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.",
            prefix + "key-md5",
        )
    try:
        raw = base64.b64decode(key.strip(), validate=True)
        sent_md5 = base64.b64decode(key_md5.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw, sent_md5 = b"", b""
    if len(raw) != 32:
        raise _invalid("The secret key was invalid for the specified algorithm.", prefix + "key")
    if not hmac.compare_digest(hashlib.md5(raw).digest(), sent_md5):
        raise _invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            prefix + "key-md5",
        )
    return CustomerKey(algorithm=SSE_S3, key=key.strip(), key_md5=key_md5.strip())


def write_encryption(headers: Mapping[str, str]) -> Encryption | None:
    """What a PutObject, CopyObject or CreateMultipartUpload asks for; None: nothing."""
    algorithm = headers.get(SSE)
    key = customer_key(headers)
    if algorithm is None:
        return None if key is None else Encryption(customer_key=key)
    algorithm = algorithm.strip()
    if algorithm in KMS:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"Server-side encryption with {algorithm} is not implemented by this gateway.",
            Header=SSE,
        )
    if algorithm != SSE_S3:
        raise _invalid("The encryption method specified is not supported", SSE)
    if key is not None:
        raise _invalid(
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified",
            SSE,
        )
    return Encryption(algorithm=SSE_S3)


def part_encryption(headers: Mapping[str, str]) -> Encryption | None:
    """UploadPart, UploadPartCopy, CompleteMultipartUpload: the upload's SSE-C key, if sent."""
    key = customer_key(headers)
    return None if key is None else Encryption(customer_key=key)


INSECURE_CUSTOMER_KEY = (
    "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
    "secure connection."
)


def require_support(
    backend: object, encryption: Encryption | CustomerKey | None, *, secure: bool = True
) -> None:
    """501 unless ``backend`` forwards what is asked (the upstream's ``sse`` setting); then, for
    a customer key that came over plain HTTP (``secure`` False), S3's 400 InvalidRequest: S3
    refuses SSE-C over HTTP, where the key crosses the network in clear."""
    if encryption is None:
        return
    if isinstance(encryption, CustomerKey) or encryption.customer_key is not None:
        mode, header = "SSE-C", _RESPONSE_CUSTOMER_ALGORITHM
    else:
        mode, header = SSE_S3, SSE
    if isinstance(backend, Encrypting) and mode in backend.encryption_modes:
        if mode == "SSE-C" and not secure:
            raise S3Error(S3ErrorCode.InvalidRequest, INSECURE_CUSTOMER_KEY)
        return
    raise S3Error(
        S3ErrorCode.NotImplemented,
        f"Server-side encryption ({mode}) is not available for this bucket.",
        Header=header,
    )


def customer_copy(request: CopyObjectInput) -> bool:
    """Whether a copy reads or writes an SSE-C object."""
    target = request.encryption
    return request.source_conditions.customer_key is not None or (
        target is not None and target.customer_key is not None
    )


# -- what the handlers call: parsed, checked, and refused where the bucket's upstream cannot --


def for_write(
    storage: MappedStorage, bucket: str, key: str, headers: Mapping[str, str], *, secure: bool
) -> Encryption | None:
    """PutObject, CopyObject (the copy), CreateMultipartUpload."""
    encryption = write_encryption(headers)
    if encryption is not None:
        require_support(storage.locate(bucket, key)[0], encryption, secure=secure)
    return encryption


def for_part(
    storage: MappedStorage, bucket: str, key: str, headers: Mapping[str, str], *, secure: bool
) -> Encryption | None:
    """UploadPart, UploadPartCopy (the part), CompleteMultipartUpload."""
    encryption = part_encryption(headers)
    if encryption is not None:
        require_support(storage.locate(bucket, key)[0], encryption, secure=secure)
    return encryption


def for_read(
    storage: MappedStorage,
    bucket: str,
    key: str,
    headers: Mapping[str, str],
    prefix: str = CUSTOMER,
    *,
    secure: bool,
) -> CustomerKey | None:
    """A copy's source (``prefix``: SOURCE_CUSTOMER); GetObject and HeadObject go through
    :func:`for_object_read`."""
    found = customer_key(headers, prefix)
    if found is not None:
        require_support(_read_backend(storage, bucket, key), found, secure=secure)
    return found


def _read_backend(storage: MappedStorage, bucket: str, key: str) -> object:
    """The upstream ``bucket`` lives on, for a read of ``key``. A key no write can store
    (:class:`~s3proxy.layout.UnstorableKey`) still has its bucket's upstream: S3 refuses a
    customer key it cannot take first, and the read that follows answers the key missing (404
    NoSuchKey, a copy's naming its source), as without a customer key; before wave 15 R2 such
    a GET, HEAD or copy with SSE-C headers was 400 KeyTooLongError."""
    try:
        return storage.locate(bucket, key)[0]
    except UnstorableKey:
        return storage._backend(storage.root(bucket).upstream)


NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
ENCRYPTED_OBJECT = (
    "The object was stored using a form of Server Side Encryption. The correct parameters must "
    "be provided to retrieve the object."
)


class KeyForPlainObject(S3Error):
    """S3's answer to a customer key for an object stored without one (400 InvalidRequest),
    raised by :func:`for_object_read` before any upstream request where no object can be SSE-C
    encrypted. Only :func:`plain_read_error` knows whether the object exists: a handler that
    does not ask it answers this 400 for a missing key too, and never sends the key on."""

    def __init__(self) -> None:
        super().__init__(S3ErrorCode.InvalidRequest, NOT_APPLICABLE)


def for_object_read(
    storage: MappedStorage, bucket: str, key: str, headers: Mapping[str, str], *, secure: bool
) -> CustomerKey | None:
    """GetObject, HeadObject: :func:`for_read`, except on a bucket whose upstream does not take
    SSE-C. No object there can be SSE-C encrypted, so S3's answers to a customer key for a
    plain object are exact: 400 InvalidRequest over plain HTTP (before anything is looked up,
    as for any SSE-C request), else :class:`KeyForPlainObject`."""
    found = customer_key(headers)
    if found is None:
        return None
    backend = _read_backend(storage, bucket, key)
    if isinstance(backend, Encrypting) and "SSE-C" in backend.encryption_modes:
        require_support(backend, found, secure=secure)
        return found
    if not secure:
        raise S3Error(S3ErrorCode.InvalidRequest, INSECURE_CUSTOMER_KEY)
    raise KeyForPlainObject


async def plain_read_error(
    storage: MappedStorage, bucket: str, key: str, error: KeyForPlainObject
) -> S3Error:
    """The answer to a GET/HEAD refused with ``error``: the object's own error when it cannot
    be read (404 NoSuchKey, NoSuchBucket), else ``error``. One HEAD without the key or any
    condition (the object is never served to such a read), for these requests only."""
    try:
        await storage.head_object(bucket, key, ReadConditions())
    except S3Error as missing:
        return missing
    return error


def upstream_headers(encryption: Encryption | None) -> dict[str, str]:
    """The request headers that ask an upstream for ``encryption``."""
    if encryption is None:
        return {}
    if encryption.customer_key is not None:
        return key_headers(encryption.customer_key)
    if encryption.algorithm is not None:
        return {SSE: encryption.algorithm}
    return {}


def key_headers(key: CustomerKey | None, prefix: str = CUSTOMER) -> dict[str, str]:
    """The request headers that present an SSE-C key (``prefix``: the object's or the copy
    source's)."""
    if key is None:
        return {}
    return {
        prefix + "algorithm": key.algorithm,
        prefix + "key": key.key,
        prefix + "key-md5": key.key_md5,
    }


def response_headers(encryption: Encryption | None) -> list[tuple[str, str]]:
    """What S3 answers a write that asked for ``encryption`` (the upstream accepted it)."""
    if encryption is None:
        return []
    if encryption.customer_key is not None:
        key = encryption.customer_key
        return [(_RESPONSE_CUSTOMER_ALGORITHM, key.algorithm), (_CUSTOMER_MD5_HEADER, key.key_md5)]
    if encryption.algorithm is not None:
        return [(SSE, encryption.algorithm)]
    return []


RESPONSE_HEADERS = (SSE, _RESPONSE_CUSTOMER_ALGORITHM, _RESPONSE_CUSTOMER_MD5)
"""Encryption headers of a GET/HEAD answer that are passed to the client."""


def reported(value: str) -> str:
    """One header value as the upstream sent it: SeaweedFS 4.48 repeats the SSE-C headers on
    GET/HEAD (``X, X``), so a value repeated is given once."""
    first, comma, _ = value.partition(",")
    if comma and all(item.strip() == first.strip() for item in value.split(",")):
        return first.strip()
    return value


def check_read(reported_headers: Mapping[str, str], key: CustomerKey | None) -> None:
    """An SSE-C object is never returned without its key: refused here whatever the upstream
    did, with S3's answer. ``reported_headers``: the object's ``x-amz-*`` answer headers."""
    algorithm = reported_headers.get(_RESPONSE_CUSTOMER_ALGORITHM)
    if algorithm is None:
        if key is not None:
            raise S3Error(S3ErrorCode.InvalidRequest, NOT_APPLICABLE)
        return
    if key is None:
        raise S3Error(S3ErrorCode.InvalidRequest, ENCRYPTED_OBJECT)
    stored_md5 = reported_headers.get(_RESPONSE_CUSTOMER_MD5)
    if stored_md5 is not None and not hmac.compare_digest(reported(stored_md5), key.key_md5):
        raise S3Error(S3ErrorCode.AccessDenied)


def refused_read(status: int, key: CustomerKey | None, modes: frozenset[str]) -> S3Error | None:
    """S3's answer to an upstream's refusal (``status``) of a GET or HEAD, None for any other;
    ``modes``: what the upstream's ``sse`` setting lists.

    With an SSE-C key (checked here before it was sent), a 403 (SeaweedFS) or 400 (Ceph RGW 16)
    says the key is not the object's, not that the gateway's keys failed: 403 AccessDenied.
    Without one, a 400 from an upstream that stores SSE-C objects says the object is one: every
    other part of the read was checked here first. SeaweedFS 4.48 and Ceph RGW 16 answer it
    with their own InvalidArgument ("…must provide the customer key" / "…a valid encryption
    algorithm"), which reached clients (rclone, aws-cli) as a bare "InvalidArgument: Invalid
    Argument"; S3 answers 400 InvalidRequest saying the object is encrypted. Copies read their
    source this way too, so CopyObject and UploadPartCopy of it without the source's key answer
    the same."""
    if status in (400, 403) and key is not None:
        return S3Error(S3ErrorCode.AccessDenied)
    if status == 400 and "SSE-C" in modes:
        return S3Error(S3ErrorCode.InvalidRequest, ENCRYPTED_OBJECT)
    return None
