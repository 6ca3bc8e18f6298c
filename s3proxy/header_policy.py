"""Every ``x-amz-*`` request header is acted on or refused: one table says which.

S3 reads meaning into dozens of ``x-amz-*`` headers (ACLs, storage class, encryption, object
lock …). A gateway that drops one answers 200 for something it did not do, so each header the
table below names is answered as the table says, and any other ``x-amz-*`` header gets 501
NotImplemented naming it in ``<Header>`` (gaul/s3proxy's behaviour), unless the operator set
``server.ignore_unknown_headers`` — which ignores only names the table does not know.

Standard HTTP headers (``If-Match``, ``Range``, ``Content-MD5`` …) are ignored where S3 ignores
them, on operations that do not define them; where S3 defines one that the gateway does not
carry out (none at present), it is refused like an ``x-amz-*`` header. Every request
member of botocore's S3 model is placed by these tables (tests/unit/test_w10c_model_sweep.py).

Presigners (the AWS SDK v3 among them) hoist headers into the query string of a presigned URL;
S3 reads such ``x-amz-*`` query parameters as headers. They get the same answers, except that a
header a handler reads (metadata, checksums, copy source …) is read from the header only, so
its query form is refused rather than silently dropped.

Request headers per operation: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
and the neighbouring operation pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from s3proxy.acl import CANNED, GRANT_HEADERS, GRANTING, PRIVATE_LIKE
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import REFUSALS, Operation
from s3proxy.request import S3Request

AMZ_PREFIX = "x-amz-"
# Query parameters of SigV4 query authentication (compared lower-cased); the authenticator
# reads them. X-Amz-Security-Token is not among them: session tokens are refused below.
PRESIGN_PARAMS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
    }
)

# Canned ACLs a handler may carry out (s3proxy.acl judges which, where); the others never are.
HANDLED_ACLS = PRIVATE_LIKE | GRANTING
OBJECT_OWNERSHIPS = frozenset({"BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"})

ValueCheck = Callable[[str, str], None]
"""(lower-case header name, value) → None when the value asks for nothing the gateway does not
do; else raises the S3Error S3 would answer (or 501 for what the gateway does not do)."""


# --- value policies -------------------------------------------------------------------------


def inert(name: str, value: str) -> None:
    """Signing and SDK bookkeeping, or a value that cannot change the outcome here."""


def not_implemented(name: str, value: str) -> None:
    raise S3Error(
        S3ErrorCode.NotImplemented, f"The gateway does not implement {name}.", Header=name
    )


def session_token(name: str, value: str) -> None:
    raise S3Error(
        S3ErrorCode.InvalidToken,
        "Session tokens are not accepted here: sign with a tenant's access key alone.",
        Header=name,
    )


def canned_acl(name: str, value: str) -> None:
    """Values no handler carries out are refused here; the rest s3proxy.acl judges per
    operation (public ACLs only on buckets), reading the header or its hoisted query form."""
    if value in HANDLED_ACLS:
        return
    if value in CANNED:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"The canned ACL {value} is not implemented: only the tenant, every tenant "
            "(authenticated-read) or everyone (public-read) can be granted access here.",
            Header=name,
        )
    raise S3Error(S3ErrorCode.InvalidArgument, ArgumentName=name, ArgumentValue=value)


def grant_header(name: str, value: str) -> None:
    """The five x-amz-grant-* headers: s3proxy.acl parses them; any other name is 501."""
    if name not in GRANT_HEADERS:
        not_implemented(name, value)


def restore_status(name: str, value: str) -> None:
    """A listing's optional RestoreStatus: S3 adds it only to objects restored or being
    restored from an archive class, and nothing here is ever restored (RestoreObject is 501;
    a GLACIER class is a label), so the listing S3 would give has none. Asking for any other
    attribute is 501 naming the header."""
    if value.strip() != "RestoreStatus":
        not_implemented(name, value)


def no_object_lock(name: str, value: str) -> None:
    """No bucket here has Object Lock: S3's answer for a bucket without it."""
    raise S3Error(S3ErrorCode.InvalidRequest, "Bucket is missing Object Lock Configuration")


def object_lock_enabled(name: str, value: str) -> None:
    if value.lower() == "false":
        return
    if value.lower() == "true":
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Object Lock is not implemented by this gateway.",
            Header=name,
        )
    raise S3Error(S3ErrorCode.InvalidArgument, ArgumentName=name, ArgumentValue=value)


def object_ownership(name: str, value: str) -> None:
    """BucketOwnerEnforced (ACLs disabled, the bucket owner owns every object) is what is."""
    if value == "BucketOwnerEnforced":
        return
    if value in OBJECT_OWNERSHIPS:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"Object ownership {value} is not implemented: buckets here are BucketOwnerEnforced.",
            Header=name,
        )
    raise S3Error(S3ErrorCode.InvalidArgument, ArgumentName=name, ArgumentValue=value)


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderRule:
    operations: frozenset[Operation] | None
    """The operations that answer this header; None: every operation. Elsewhere → 501."""
    check: ValueCheck | None = None
    """The answer to its value; None when a handler (or authentication) reads the header
    itself — then only the header form is acted on, and a hoisted query form gets 501."""


def _ops(*operations: Operation) -> frozenset[Operation]:
    return frozenset(operations)


EVERY = None
OBJECT_WRITES = _ops(Operation.PutObject, Operation.CopyObject, Operation.CreateMultipartUpload)
COPIES = _ops(Operation.CopyObject, Operation.UploadPartCopy)
UPLOADS = _ops(Operation.PutObject, Operation.UploadPart)
# Where an ACL may be set (s3proxy.acl, s3proxy.handlers.acl).
ACL_SETTERS = OBJECT_WRITES | _ops(
    Operation.CreateBucket, Operation.PutBucketAcl, Operation.PutObjectAcl
)
# s3proxy.handlers.lock_ownership: the ownership body is verified; the lock Puts are refused
# before their body is read, so a checksum of it asks for nothing.
LOCK_OWNERSHIP_PUTS = (
    Operation.PutBucketOwnershipControls,
    Operation.PutObjectLockConfiguration,
    Operation.PutObjectRetention,
    Operation.PutObjectLegalHold,
)
# s3proxy.handlers.default_storage_class: its body is verified like the ownership document.
SETTINGS_DOCUMENT_PUTS = (*LOCK_OWNERSHIP_PUTS, Operation.PutBucketDefaultStorageClass)
# Where an x-amz-checksum-<alg> value is verified (bodies) or passed upstream (Complete's
# whole-object checksum).
CHECKSUMMED = _ops(
    Operation.CreateBucket,  # its CreateBucketConfiguration (s3proxy.handlers.bucket)
    Operation.PutObject,
    Operation.UploadPart,
    Operation.DeleteObjects,
    Operation.PutBucketVersioning,
    Operation.CompleteMultipartUpload,
    Operation.PutObjectTagging,
    Operation.PutBucketCors,  # s3proxy.handlers.bucket_settings
    Operation.PutBucketTagging,
    Operation.PutBucketAcl,  # s3proxy.handlers.acl
    Operation.PutObjectAcl,
    *SETTINGS_DOCUMENT_PUTS,
)
# Where an SSE-C key (the object's) is read (s3proxy.sse).
SSE_C = _ops(
    Operation.PutObject,
    Operation.GetObject,
    Operation.HeadObject,
    Operation.GetObjectAttributes,
    Operation.CopyObject,
    Operation.CreateMultipartUpload,
    Operation.UploadPart,
    Operation.UploadPartCopy,
    Operation.CompleteMultipartUpload,
)

HEADERS: Mapping[str, HeaderRule] = {
    # Authentication and SDK bookkeeping.
    "x-amz-date": HeaderRule(EVERY, inert),
    "x-amz-content-sha256": HeaderRule(EVERY, inert),  # authentication reads both forms
    "x-amz-user-agent": HeaderRule(EVERY, inert),
    "x-amz-sdk-checksum-algorithm": HeaderRule(EVERY, inert),  # a hint; checksums check it
    "x-amz-security-token": HeaderRule(EVERY, session_token),
    "x-amz-request-payer": HeaderRule(EVERY, inert),  # nothing is billed to anyone here
    # s3proxy.owner checks both forms (the source one on copies; elsewhere it describes nothing).
    "x-amz-expected-bucket-owner": HeaderRule(EVERY, inert),
    "x-amz-source-expected-bucket-owner": HeaderRule(EVERY, inert),
    # Bodies: aws-chunked framing and checksums.
    "x-amz-decoded-content-length": HeaderRule(UPLOADS),
    "x-amz-trailer": HeaderRule(UPLOADS),
    "x-amz-checksum-crc32": HeaderRule(CHECKSUMMED),
    "x-amz-checksum-crc32c": HeaderRule(CHECKSUMMED),
    "x-amz-checksum-crc64nvme": HeaderRule(CHECKSUMMED),
    "x-amz-checksum-sha1": HeaderRule(CHECKSUMMED),
    "x-amz-checksum-sha256": HeaderRule(CHECKSUMMED),
    # CopyObject: s3proxy.backends.copy_checksum.
    "x-amz-checksum-algorithm": HeaderRule(
        _ops(Operation.CreateMultipartUpload, Operation.CopyObject)
    ),
    "x-amz-checksum-type": HeaderRule(
        _ops(Operation.CreateMultipartUpload, Operation.CompleteMultipartUpload)
    ),
    "x-amz-checksum-mode": HeaderRule(_ops(Operation.GetObject, Operation.HeadObject)),
    # Complete's expected object size, compared with its listed parts' (s3proxy.completion).
    "x-amz-mp-object-size": HeaderRule(_ops(Operation.CompleteMultipartUpload)),
    # GetObjectAttributes (s3proxy.handlers.attributes reads them).
    "x-amz-object-attributes": HeaderRule(_ops(Operation.GetObjectAttributes)),
    "x-amz-max-parts": HeaderRule(_ops(Operation.GetObjectAttributes)),
    "x-amz-part-number-marker": HeaderRule(_ops(Operation.GetObjectAttributes)),
    # Copies.
    "x-amz-copy-source": HeaderRule(COPIES),
    "x-amz-copy-source-if-match": HeaderRule(COPIES),
    "x-amz-copy-source-if-none-match": HeaderRule(COPIES),
    "x-amz-copy-source-if-modified-since": HeaderRule(COPIES),
    "x-amz-copy-source-if-unmodified-since": HeaderRule(COPIES),
    "x-amz-copy-source-range": HeaderRule(_ops(Operation.UploadPartCopy)),
    "x-amz-metadata-directive": HeaderRule(_ops(Operation.CopyObject)),
    "x-amz-tagging-directive": HeaderRule(_ops(Operation.CopyObject)),  # s3proxy.tagging
    # Access control and ownership.
    "x-amz-acl": HeaderRule(ACL_SETTERS, canned_acl),
    "x-amz-object-ownership": HeaderRule(_ops(Operation.CreateBucket), object_ownership),
    "x-amz-bucket-object-lock-enabled": HeaderRule(
        _ops(Operation.CreateBucket), object_lock_enabled
    ),
    # Nothing here is under governance retention, so there is nothing to bypass.
    "x-amz-bypass-governance-retention": HeaderRule(
        _ops(Operation.DeleteObject, Operation.DeleteObjects, Operation.PutObjectRetention), inert
    ),
    # No bucket here has a lock, so PutObjectLockConfiguration is refused whatever its token.
    "x-amz-bucket-object-lock-token": HeaderRule(_ops(Operation.PutObjectLockConfiguration), inert),
    # Object tags and storage class: read by the handlers (s3proxy.tagging, storage_classes).
    "x-amz-tagging": HeaderRule(OBJECT_WRITES),
    "x-amz-storage-class": HeaderRule(OBJECT_WRITES),
    # Server-side encryption: s3proxy.sse reads these (KMS values are 501 there) and the
    # upstream's ``sse`` setting decides; the object's SSE-C key, then a copy source's.
    "x-amz-server-side-encryption": HeaderRule(OBJECT_WRITES),
    "x-amz-server-side-encryption-customer-algorithm": HeaderRule(SSE_C),
    "x-amz-server-side-encryption-customer-key": HeaderRule(SSE_C),
    "x-amz-server-side-encryption-customer-key-md5": HeaderRule(SSE_C),
    "x-amz-copy-source-server-side-encryption-customer-algorithm": HeaderRule(COPIES),
    "x-amz-copy-source-server-side-encryption-customer-key": HeaderRule(COPIES),
    "x-amz-copy-source-server-side-encryption-customer-key-md5": HeaderRule(COPIES),
    # Object features the gateway does not implement (yet).
    "x-amz-website-redirect-location": HeaderRule(EVERY, not_implemented),
    "x-amz-mfa": HeaderRule(EVERY, not_implemented),
    # Named in botocore's S3 model and not carried out: named here so that they stay refused
    # under server.ignore_unknown_headers, where each would otherwise be dropped and the
    # request done as something else (tests/unit/test_w10c_model_sweep.py walks the model).
    "x-amz-write-offset-bytes": HeaderRule(EVERY, not_implemented),  # an append, not a PUT
    "x-amz-object-annotation-directive": HeaderRule(EVERY, not_implemented),
    "x-amz-optional-object-attributes": HeaderRule(
        _ops(Operation.ListObjects, Operation.ListObjectsV2, Operation.ListObjectVersions),
        restore_status,
    ),
    "x-amz-bucket-namespace": HeaderRule(EVERY, not_implemented),  # account-regional names
}

# Header families, by name prefix. No prefix is a prefix of another.
PREFIXES: Mapping[str, HeaderRule] = {
    "x-amz-meta-": HeaderRule(OBJECT_WRITES),
    "x-amz-grant-": HeaderRule(ACL_SETTERS, grant_header),
    # SSE-KMS details (key id, context, bucket key): KMS is not implemented.
    "x-amz-server-side-encryption-": HeaderRule(EVERY, not_implemented),
    "x-amz-copy-source-server-side-encryption-": HeaderRule(EVERY, not_implemented),
    # Mode, retain-until-date, legal hold, event holds.
    "x-amz-object-lock-": HeaderRule(OBJECT_WRITES, no_object_lock),
    # Checksum algorithms the gateway does not compute (sha512, md5, xxhash*, any later one):
    # dropped, a checksum the client relies on would go unverified and unstored.
    "x-amz-checksum-": HeaderRule(EVERY, not_implemented),
    # S3's x-amz-if-* conditions (DeleteObject's if-match-size / -last-modified-time,
    # AbortMultipartUpload's if-match-initiated-time, any later one): dropped, a conditional
    # delete would happen unconditionally.
    "x-amz-if-": HeaderRule(EVERY, not_implemented),
}


# Standard HTTP request headers that botocore's S3 model gives an operation, and the operations
# that act on each here (s3proxy.model.CONTENT_HEADERS are stored by object writes;
# s3proxy.conditions and s3proxy.write_conditions take the conditions; s3proxy.ranges the range;
# s3proxy.auth.payload and s3proxy.body Content-MD5 and Content-Length). S3 ignores these names
# on operations that define none of them, and so does the gateway: plain HTTP clients send them
# freely.
CONTENT = OBJECT_WRITES
CONDITIONAL_READS = _ops(Operation.GetObject, Operation.HeadObject)
CONDITIONAL_WRITES = _ops(
    Operation.PutObject, Operation.CopyObject, Operation.CompleteMultipartUpload
)
STANDARD_HEADERS: Mapping[str, frozenset[Operation]] = {
    "content-length": frozenset(Operation) - REFUSALS,  # HTTP framing of every body
    "content-md5": UPLOADS
    | _ops(
        Operation.CreateBucket,
        Operation.CompleteMultipartUpload,
        Operation.DeleteObjects,
        Operation.PutBucketVersioning,
        Operation.PutBucketCors,
        Operation.PutBucketTagging,
        Operation.PutBucketAcl,
        Operation.PutObjectAcl,
        Operation.PutObjectTagging,
        *SETTINGS_DOCUMENT_PUTS,
    ),
    "content-type": CONTENT,
    "content-encoding": CONTENT,
    "content-disposition": CONTENT,
    "content-language": CONTENT,
    "cache-control": CONTENT,
    "expires": CONTENT,
    "if-match": CONDITIONAL_READS | CONDITIONAL_WRITES | _ops(Operation.DeleteObject),
    "if-none-match": CONDITIONAL_READS | CONDITIONAL_WRITES,
    "if-modified-since": CONDITIONAL_READS,
    "if-unmodified-since": CONDITIONAL_READS,
    "range": CONDITIONAL_READS,
}

# Standard headers that S3 acts on for an operation and the gateway does not: refused (501
# naming the header) rather than dropped.
# (None now: DeleteObject's If-Match, S3's conditional delete, is carried out where the
# storage checks it and refused there otherwise, s3proxy.backends.conditional_deletes.)
REFUSED_STANDARD_HEADERS: Mapping[str, frozenset[Operation]] = {}
_REFUSING_STANDARD = frozenset().union(*REFUSED_STANDARD_HEADERS.values())


def rule_for(name: str) -> HeaderRule | None:
    """The rule for a lower-case ``x-amz-*`` name: its exact entry, else its family's."""
    rule = HEADERS.get(name)
    if rule is not None:
        return rule
    for prefix, family in PREFIXES.items():
        if name.startswith(prefix):
            return family
    return None


def _not_acted_on(name: str, operation: Operation, hoisted: bool) -> S3Error:
    if hoisted:
        message = f"The query parameter {name} is not acted on here; send it as a header."
    elif rule_for(name) is None:
        message = S3ErrorCode.NotImplemented.default_message
    else:
        message = f"{operation.value} does not act on {name} here."
    return S3Error(S3ErrorCode.NotImplemented, message, Header=name)


# S3 takes SSE-S3 and SSE-KMS on writes only: a GET or HEAD carrying one is 400 (GetObject's
# page: "you get an HTTP 400 Bad Request error"; s3-tests' test_sse_s3_default_method_head,
# test_sse_kms_read_declare), whatever the object — not the 501 of a feature the gateway lacks.
_WRITE_ONLY_ENCRYPTION = frozenset(
    {
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-context",
        "x-amz-server-side-encryption-bucket-key-enabled",
    }
)
_READS = frozenset({Operation.GetObject, Operation.HeadObject})
# A KMS key id or encryption context names a key for SSE-KMS: S3 refuses one sent without
# ``x-amz-server-side-encryption: aws:kms`` (or beside an SSE-C key) as a malformed request,
# 400 InvalidArgument (s3-tests' test_sse_kms_not_declared, test_put_obj_enc_conflict_s3_kms,
# _c_kms), before it would encrypt anything; only a well-formed KMS request gets the 501.
_KMS_DETAILS = frozenset(
    {"x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context"}
)
_KMS_METHODS = frozenset({"aws:kms", "aws:kms:dsse"})


def _kms_details_need_kms(request: S3Request) -> None:
    method = (request.header("x-amz-server-side-encryption") or "").strip()
    if method not in _KMS_METHODS:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
        )
    if request.header("x-amz-server-side-encryption-customer-algorithm") is not None:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified",
        )


def _check(
    name: str, value: str, operation: Operation, *, ignore_unknown: bool, hoisted: bool
) -> None:
    if name in _WRITE_ONLY_ENCRYPTION and operation in _READS:
        raise S3Error(
            S3ErrorCode.InvalidArgument, f"{name} header is not supported for this operation."
        )
    rule = rule_for(name)
    if rule is None:
        if ignore_unknown:
            return
        raise _not_acted_on(name, operation, hoisted)
    if rule.operations is not None and operation not in rule.operations:
        raise _not_acted_on(name, operation, hoisted)
    if rule.check is not None:
        rule.check(name, value.strip())
    elif hoisted:
        raise _not_acted_on(name, operation, hoisted)


def check_request_headers(
    request: S3Request, operation: Operation, *, ignore_unknown: bool
) -> None:
    """Refuse the request unless every ``x-amz-*`` header (and hoisted ``x-amz-*`` query
    parameter) is acted on by ``operation`` or asks for nothing, and it carries no standard
    header S3 would act on there and the gateway does not (:data:`REFUSED_STANDARD_HEADERS`);
    headers first, in arrival order, then the query. Run after authentication, before the
    handler reads any body."""
    standard = operation in _REFUSING_STANDARD  # False on nearly every request: no lookups
    for name, value in request.headers:
        if name.startswith(AMZ_PREFIX):
            if name in _KMS_DETAILS and operation in OBJECT_WRITES:
                _kms_details_need_kms(request)
            _check(name, value, operation, ignore_unknown=ignore_unknown, hoisted=False)
        elif standard and operation in REFUSED_STANDARD_HEADERS.get(name, ()):
            spelled = name.title()  # If-Match, as S3 spells it
            raise S3Error(
                S3ErrorCode.NotImplemented,
                f"{operation.value} does not act on {spelled} here.",
                Header=spelled,
            )
    if request.query:
        for raw_name, value in request.query.items():
            name = raw_name.lower()
            if name.startswith(AMZ_PREFIX) and name not in PRESIGN_PARAMS:
                _check(name, value, operation, ignore_unknown=ignore_unknown, hoisted=True)
