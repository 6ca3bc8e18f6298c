"""Which S3 operation a request is: one declarative table over method, target, query and headers.

S3 picks the operation from query flags (``?uploads``, ``?list-type=2``, ``?delete``) and headers
(``x-amz-copy-source``) rather than from the path; the table below says this in one screen.
Rows are tried in order; the first match wins. A request naming a sub-resource the proxy does not
serve (``?acl``, ``?tagging`` …) resolves to ``Unsupported`` so that it is never mistaken for a
plain GET or PUT of the object.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from s3proxy.request import S3Request


class Target(enum.Enum):
    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


class Operation(enum.Enum):
    """AWS operation names."""

    ListBuckets = "ListBuckets"
    CreateBucket = "CreateBucket"
    HeadBucket = "HeadBucket"
    DeleteBucket = "DeleteBucket"
    GetBucketLocation = "GetBucketLocation"
    GetBucketVersioning = "GetBucketVersioning"
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
    Unsupported = "Unsupported"


# Sub-resources S3 defines that the proxy does not serve (yet): a request naming one is
# Unsupported → 501 NotImplemented after authentication.
UNSUPPORTED_SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "attributes", "cors", "encryption",
        "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging", "metadataTable",
        "metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
        "publicAccessBlock", "renameObject", "replication", "requestPayment", "restore",
        "retention", "select", "session", "tagging", "torrent", "versions", "website",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    target: Target
    operation: Operation
    query: tuple[str, ...] = ()
    """Query parameters that must all be present."""
    header: str | None = None
    """A header that must be present."""


RULES: tuple[Rule, ...] = (
    Rule("GET", Target.SERVICE, Operation.ListBuckets),
    Rule("PUT", Target.BUCKET, Operation.CreateBucket),
    Rule("HEAD", Target.BUCKET, Operation.HeadBucket),
    Rule("DELETE", Target.BUCKET, Operation.DeleteBucket),
    Rule("GET", Target.BUCKET, Operation.GetBucketLocation, query=("location",)),
    Rule("GET", Target.BUCKET, Operation.GetBucketVersioning, query=("versioning",)),
    Rule("GET", Target.BUCKET, Operation.ListMultipartUploads, query=("uploads",)),
    Rule("GET", Target.BUCKET, Operation.ListObjectsV2, query=("list-type",)),
    Rule("GET", Target.BUCKET, Operation.ListObjects),
    Rule("POST", Target.BUCKET, Operation.DeleteObjects, query=("delete",)),
    Rule("POST", Target.OBJECT, Operation.CreateMultipartUpload, query=("uploads",)),
    Rule("POST", Target.OBJECT, Operation.CompleteMultipartUpload, query=("uploadId",)),
    Rule(
        "PUT",
        Target.OBJECT,
        Operation.UploadPartCopy,
        query=("partNumber", "uploadId"),
        header="x-amz-copy-source",
    ),
    Rule("PUT", Target.OBJECT, Operation.UploadPart, query=("partNumber", "uploadId")),
    Rule("PUT", Target.OBJECT, Operation.CopyObject, header="x-amz-copy-source"),
    Rule("PUT", Target.OBJECT, Operation.PutObject),
    Rule("GET", Target.OBJECT, Operation.ListParts, query=("uploadId",)),
    Rule("GET", Target.OBJECT, Operation.GetObject),
    Rule("HEAD", Target.OBJECT, Operation.HeadObject),
    Rule("DELETE", Target.OBJECT, Operation.AbortMultipartUpload, query=("uploadId",)),
    Rule("DELETE", Target.OBJECT, Operation.DeleteObject),
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


def resolve(request: S3Request) -> Operation:
    query = request.query
    if query and not UNSUPPORTED_SUBRESOURCES.isdisjoint(query):
        return Operation.Unsupported
    for rule in _RULES_BY_METHOD_TARGET.get((request.method, target_of(request)), ()):
        if rule.query and not (query and all(name in query for name in rule.query)):
            continue
        if rule.header is None or rule.header in request.header_map:
            return rule.operation
    return Operation.Unsupported
