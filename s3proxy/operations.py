"""Which S3 operation a request is: an allow-list over method, target, sub-resource and parameters.

S3 picks the operation from query flags (``?uploads``, ``?list-type=2``, ``?delete``) and headers
(``x-amz-copy-source``) rather than from the path. Each served operation is one :class:`Rule`
that names its method, target and exact sub-resource (or none); a request is served only when a
rule matches it exactly. Everything else is a refusal, never a neighbouring operation:

- a sub-resource S3 defines but the proxy does not serve (``?torrent``, ``?annotation`` …), a
  value-less query name that is neither a sub-resource nor a parameter (``?fooBar``), a
  parameter the matched operation does not take (``PUT ?versionId=``) → ``Unsupported`` (501);
- a method S3 does not define on the target (``POST /b/k``, ``PATCH``) → ``MethodNotAllowed``
  (405), as S3 answers it.

The names come from botocore's S3 model (``requestUri`` ``?name`` forms and ``querystring``
members); tests/unit/test_routing_table.py walks that model to keep this table honest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request


class Target(enum.Enum):
    __hash__ = object.__hash__  # see Operation

    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


class Operation(enum.Enum):
    """AWS operation names, and the two refusals."""

    __hash__ = object.__hash__
    """Members are singletons compared by identity: hashed by it too, in C. Enum's own hash is
    a Python call (the name's hash), and each request looks its operation up several times
    (handler table, refusal and copy sets, metrics)."""

    ListBuckets = "ListBuckets"
    CreateBucket = "CreateBucket"
    HeadBucket = "HeadBucket"
    DeleteBucket = "DeleteBucket"
    GetBucketLocation = "GetBucketLocation"
    GetBucketVersioning = "GetBucketVersioning"
    PutBucketVersioning = "PutBucketVersioning"
    ListObjects = "ListObjects"
    ListObjectsV2 = "ListObjectsV2"
    ListMultipartUploads = "ListMultipartUploads"
    DeleteObjects = "DeleteObjects"
    PutObject = "PutObject"
    CopyObject = "CopyObject"
    GetObject = "GetObject"
    HeadObject = "HeadObject"
    DeleteObject = "DeleteObject"
    CreateMultipartUpload = "CreateMultipartUpload"
    UploadPart = "UploadPart"
    UploadPartCopy = "UploadPartCopy"
    CompleteMultipartUpload = "CompleteMultipartUpload"
    AbortMultipartUpload = "AbortMultipartUpload"
    ListParts = "ListParts"
    PutBucketCors = "PutBucketCors"
    GetBucketCors = "GetBucketCors"
    DeleteBucketCors = "DeleteBucketCors"
    PutBucketTagging = "PutBucketTagging"
    GetBucketTagging = "GetBucketTagging"
    DeleteBucketTagging = "DeleteBucketTagging"
    GetObjectTagging = "GetObjectTagging"
    PutObjectTagging = "PutObjectTagging"
    DeleteObjectTagging = "DeleteObjectTagging"
    ListObjectVersions = "ListObjectVersions"
    GetObjectAttributes = "GetObjectAttributes"
    PutBucketAcl = "PutBucketAcl"
    GetBucketAcl = "GetBucketAcl"
    PutObjectAcl = "PutObjectAcl"
    GetObjectAcl = "GetObjectAcl"
    GetObjectLockConfiguration = "GetObjectLockConfiguration"
    PutObjectLockConfiguration = "PutObjectLockConfiguration"
    GetObjectRetention = "GetObjectRetention"
    PutObjectRetention = "PutObjectRetention"
    GetObjectLegalHold = "GetObjectLegalHold"
    PutObjectLegalHold = "PutObjectLegalHold"
    GetBucketOwnershipControls = "GetBucketOwnershipControls"
    PutBucketOwnershipControls = "PutBucketOwnershipControls"
    DeleteBucketOwnershipControls = "DeleteBucketOwnershipControls"
    GetBucketDefaultStorageClass = "GetBucketDefaultStorageClass"
    PutBucketDefaultStorageClass = "PutBucketDefaultStorageClass"
    Unsupported = "Unsupported"
    """Refused with 501 NotImplemented: S3 defines it (or we cannot tell), the proxy does not."""
    MethodNotAllowed = "MethodNotAllowed"
    """Refused with 405 MethodNotAllowed: S3 defines no such method on the target."""


REFUSALS = frozenset({Operation.Unsupported, Operation.MethodNotAllowed})

# Every sub-resource in botocore's S3 model (requestUri "?name"), served or not.
SUBRESOURCES = frozenset(
    {
        "abac", "accelerate", "acl", "analytics", "annotation", "attributes", "cors",
        "default-storage-class", "delete", "encryption", "intelligent-tiering", "inventory",
        "legal-hold", "lifecycle", "location",
        "logging", "metadataAnnotationTable", "metadataConfiguration", "metadataInventoryTable",
        "metadataJournalTable", "metadataTable", "metrics", "notification", "object-lock",
        "ownershipControls", "part", "policy", "policyStatus", "publicAccessBlock", "renameObject",
        "replication", "requestPayment", "restore", "retention", "select", "session", "tagging",
        "torrent", "uploads", "versioning", "versions", "website",
    }
)  # fmt: skip

# Query parameters that carry a value: botocore's querystring members, what SDKs add (x-id)
# and query authentication (SigV2; SigV4's X-Amz-* are covered by the x-amz- prefix).
PARAMETERS = frozenset(
    {
        "annotation-prefix", "annotationName", "bucket-region", "continuation-token",
        "delimiter", "encoding-type", "fetch-owner", "id", "key-marker", "list-type", "marker",
        "max-annotation-results", "max-buckets", "max-directory-buckets", "max-keys",
        "max-parts", "max-uploads", "part-number-marker", "partNumber", "prefix",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
        "select-type", "start-after", "upload-id-marker", "uploadId", "version-id-marker",
        "versionId", "x-id",
        "AWSAccessKeyId", "Expires", "Signature",
    }
)  # fmt: skip

# Parameters that change which object, version or upload a request addresses (a rule's
# ``required`` and ``optional``): they also tell operations apart.
SELECTORS = frozenset({"list-type", "partNumber", "uploadId", "versionId"})

# Parameters every operation may carry: SDK bookkeeping (x-id) and SigV2 query authentication.
ANY_OPERATION = frozenset({"x-id", "AWSAccessKeyId", "Expires", "Signature"})

_LISTING = ("prefix", "delimiter", "max-keys", "encoding-type")
_RESPONSE_OVERRIDES = (
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires",
)  # fmt: skip

METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"})

# (method, target) pairs S3 defines without a sub-resource that the rules below do not serve:
# browser POST uploads and CORS preflight. Any other bare pair is 405.
_BARE_S3_FORMS = frozenset(
    {
        ("POST", Target.BUCKET),  # PostObject (HTML form upload)
        ("OPTIONS", Target.BUCKET),  # CORS preflight: answered before routing (cors_requests)
        ("OPTIONS", Target.OBJECT),
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    target: Target
    operation: Operation
    subresource: str | None = None
    """The one sub-resource the request must name; None: it must name none."""
    required: tuple[str, ...] = ()
    """Parameters that must all be present."""
    optional: tuple[str, ...] = ()
    """Selectors the operation also takes."""
    header: str | None = None
    """A header that must be present."""
    parameters: tuple[str, ...] = ()
    """Other parameters the handler acts on; any other known parameter is refused, not ignored."""

    def takes(self, name: str) -> bool:
        return name in self.required or name in self.optional or name in self.parameters


RULES: tuple[Rule, ...] = (
    Rule(
        "GET",
        Target.SERVICE,
        Operation.ListBuckets,
        parameters=("max-buckets", "continuation-token", "prefix", "bucket-region"),
    ),
    Rule("PUT", Target.BUCKET, Operation.CreateBucket),
    Rule("HEAD", Target.BUCKET, Operation.HeadBucket),
    Rule("DELETE", Target.BUCKET, Operation.DeleteBucket),
    Rule("GET", Target.BUCKET, Operation.GetBucketLocation, "location"),
    Rule("GET", Target.BUCKET, Operation.GetBucketVersioning, "versioning"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketVersioning, "versioning"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketCors, "cors"),
    Rule("GET", Target.BUCKET, Operation.GetBucketCors, "cors"),
    Rule("DELETE", Target.BUCKET, Operation.DeleteBucketCors, "cors"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketTagging, "tagging"),
    Rule("GET", Target.BUCKET, Operation.GetBucketTagging, "tagging"),
    Rule("DELETE", Target.BUCKET, Operation.DeleteBucketTagging, "tagging"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketAcl, "acl"),
    Rule("GET", Target.BUCKET, Operation.GetBucketAcl, "acl"),
    # Object Lock on buckets created without it, and ownership controls
    # (s3proxy.handlers.lock_ownership).
    Rule("GET", Target.BUCKET, Operation.GetObjectLockConfiguration, "object-lock"),
    Rule("PUT", Target.BUCKET, Operation.PutObjectLockConfiguration, "object-lock"),
    Rule("GET", Target.BUCKET, Operation.GetBucketOwnershipControls, "ownershipControls"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketOwnershipControls, "ownershipControls"),
    Rule("DELETE", Target.BUCKET, Operation.DeleteBucketOwnershipControls, "ownershipControls"),
    # Every bucket's default class is STANDARD (s3proxy.handlers.default_storage_class).
    Rule("GET", Target.BUCKET, Operation.GetBucketDefaultStorageClass, "default-storage-class"),
    Rule("PUT", Target.BUCKET, Operation.PutBucketDefaultStorageClass, "default-storage-class"),
    Rule(
        "GET",
        Target.BUCKET,
        Operation.ListMultipartUploads,
        "uploads",
        parameters=(
            "prefix",
            "delimiter",
            "encoding-type",
            "key-marker",
            "upload-id-marker",
            "max-uploads",
        ),
    ),
    Rule(
        "GET",
        Target.BUCKET,
        Operation.ListObjectsV2,
        required=("list-type",),
        parameters=(*_LISTING, "continuation-token", "start-after", "fetch-owner"),
    ),
    Rule("GET", Target.BUCKET, Operation.ListObjects, parameters=(*_LISTING, "marker")),
    Rule(
        "GET",
        Target.BUCKET,
        Operation.ListObjectVersions,
        "versions",
        parameters=(*_LISTING, "key-marker", "version-id-marker"),
    ),
    Rule("POST", Target.BUCKET, Operation.DeleteObjects, "delete"),
    Rule("POST", Target.OBJECT, Operation.CreateMultipartUpload, "uploads"),
    Rule("POST", Target.OBJECT, Operation.CompleteMultipartUpload, required=("uploadId",)),
    Rule(
        "PUT",
        Target.OBJECT,
        Operation.UploadPartCopy,
        required=("partNumber", "uploadId"),
        header="x-amz-copy-source",
    ),
    Rule("PUT", Target.OBJECT, Operation.UploadPart, required=("partNumber", "uploadId")),
    Rule("PUT", Target.OBJECT, Operation.CopyObject, header="x-amz-copy-source"),
    Rule("PUT", Target.OBJECT, Operation.PutObject),
    Rule(
        "GET",
        Target.OBJECT,
        Operation.ListParts,
        required=("uploadId",),
        parameters=("max-parts", "part-number-marker"),
    ),
    Rule(
        "GET",
        Target.OBJECT,
        Operation.GetObject,
        optional=("partNumber", "versionId"),
        parameters=_RESPONSE_OVERRIDES,
    ),
    Rule(
        "GET", Target.OBJECT, Operation.GetObjectAttributes, "attributes", optional=("versionId",)
    ),
    Rule(
        "HEAD",
        Target.OBJECT,
        Operation.HeadObject,
        optional=("partNumber", "versionId"),
        parameters=_RESPONSE_OVERRIDES,
    ),
    Rule("GET", Target.OBJECT, Operation.GetObjectTagging, "tagging", optional=("versionId",)),
    Rule("PUT", Target.OBJECT, Operation.PutObjectTagging, "tagging", optional=("versionId",)),
    Rule(
        "DELETE", Target.OBJECT, Operation.DeleteObjectTagging, "tagging", optional=("versionId",)
    ),
    Rule("PUT", Target.OBJECT, Operation.PutObjectAcl, "acl", optional=("versionId",)),
    Rule("GET", Target.OBJECT, Operation.GetObjectAcl, "acl", optional=("versionId",)),
    Rule("GET", Target.OBJECT, Operation.GetObjectRetention, "retention", optional=("versionId",)),
    Rule("PUT", Target.OBJECT, Operation.PutObjectRetention, "retention", optional=("versionId",)),
    Rule("GET", Target.OBJECT, Operation.GetObjectLegalHold, "legal-hold", optional=("versionId",)),
    Rule("PUT", Target.OBJECT, Operation.PutObjectLegalHold, "legal-hold", optional=("versionId",)),
    Rule("DELETE", Target.OBJECT, Operation.AbortMultipartUpload, required=("uploadId",)),
    Rule("DELETE", Target.OBJECT, Operation.DeleteObject, optional=("versionId",)),
)


def target_of(request: S3Request) -> Target:
    if request.bucket is None:
        return Target.SERVICE
    if request.key is None:
        return Target.BUCKET
    return Target.OBJECT


_RULES_BY_METHOD_TARGET: dict[tuple[str, Target], tuple[Rule, ...]] = {}
for _rule in RULES:  # RULES split by (method, target), each part in RULES order
    _key = (_rule.method, _rule.target)
    _RULES_BY_METHOD_TARGET[_key] = (*_RULES_BY_METHOD_TARGET.get(_key, ()), _rule)
del _rule, _key


def _is_header(name: str) -> bool:
    """``X-Amz-*`` query names: SigV4 query auth, or headers a presigner hoisted into the URL
    (the header policy judges those). Never sub-resources."""
    return name[:6].lower() == "x-amz-"


def _unknown_flags(request: S3Request) -> list[str]:
    """Value-less (or empty) query names that are neither a sub-resource nor a parameter."""
    return [
        name
        for name, value in request.query.items()
        if not value and name not in SUBRESOURCES and name not in PARAMETERS
        and not _is_header(name)
    ]  # fmt: skip


def _parameters(request: S3Request) -> list[str]:
    """The known value parameters a request names, other than those every operation may carry."""
    return [name for name in request.query if name in PARAMETERS and name not in ANY_OPERATION]


def _matches(rule: Rule, request: S3Request, subresource: str | None, named: list[str]) -> bool:
    """Plain loops, not ``all()`` over generators: a request tries up to four rules (a PUT of
    an object: UploadPartCopy, UploadPart, CopyObject, then PutObject)."""
    if rule.subresource != subresource:
        return False
    query = request.query
    for name in rule.required:
        if name not in query:
            return False
    for name in named:
        if not rule.takes(name):
            return False
    return rule.header is None or rule.header in request.header_map


def resolve(request: S3Request) -> Operation:
    method = request.method
    if method not in METHODS:
        return Operation.MethodNotAllowed
    query = request.query
    target = target_of(request)
    subresource: str | None = None
    parameters: list[str] = []
    if query:
        if _unknown_flags(request):
            return Operation.Unsupported
        named = [name for name in query if name in SUBRESOURCES]
        if len(named) > 1:
            return Operation.Unsupported
        subresource = named[0] if named else None
        parameters = _parameters(request)
    for rule in _RULES_BY_METHOD_TARGET.get((method, target), ()):
        if _matches(rule, request, subresource, parameters):
            return rule.operation
    if subresource is not None or parameters:
        return Operation.Unsupported
    if (method, target) in _BARE_S3_FORMS:
        return Operation.Unsupported
    return Operation.MethodNotAllowed


def is_form_upload(request: S3Request) -> bool:
    """PostObject: an HTML form POSTed to a bucket (multipart/form-data). Its credentials, if
    any, are fields of the form (policy and signature), never headers or query parameters."""
    content_type = request.header("content-type") or ""
    return (
        request.method == "POST"
        and target_of(request) is Target.BUCKET
        and not any(name in SUBRESOURCES for name in request.query)
        and content_type.lower().startswith("multipart/form-data")
    )


def refusal(request: S3Request, operation: Operation) -> S3Error:
    """The error a refused request gets (after authentication), saying what was refused."""
    target = target_of(request)
    if operation is Operation.Unsupported and is_form_upload(request):
        return S3Error(
            S3ErrorCode.NotImplemented,
            "POST Object (browser-based uploads with an HTML form) is not implemented by this "
            "gateway: upload with PUT, or a presigned PUT URL.",
        )
    if operation is Operation.MethodNotAllowed:
        return S3Error(
            S3ErrorCode.MethodNotAllowed, Method=request.method, ResourceType=target.name
        )
    unknown = _unknown_flags(request)
    if unknown:
        return S3Error(
            S3ErrorCode.NotImplemented,
            f"The query parameter '{unknown[0]}' is not a sub-resource or parameter this "
            "gateway knows.",
        )
    named = [name for name in request.query if name in SUBRESOURCES]
    if named:
        return S3Error(
            S3ErrorCode.NotImplemented,
            f"The '{named[0]}' sub-resource is not implemented for {request.method} on a "
            f"{target.value}.",
        )
    parameters = _parameters(request)
    if parameters:
        # The rule the request was closest to: no sub-resource, its required parameters present.
        closest = next(
            (
                rule
                for rule in _RULES_BY_METHOD_TARGET.get((request.method, target), ())
                if rule.subresource is None and all(n in request.query for n in rule.required)
            ),
            None,
        )
        refused = [name for name in parameters if closest is None or not closest.takes(name)]
        return S3Error(
            S3ErrorCode.NotImplemented,
            f"The query parameter '{(refused or parameters)[0]}' is not implemented for this "
            "request.",
        )
    return S3Error(S3ErrorCode.NotImplemented)
