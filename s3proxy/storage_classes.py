"""Storage classes: which a client may ask for, and where each is kept.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#AmazonS3-PutObject-request-header-StorageClass.
Every class S3 names is accepted on PutObject, CreateMultipartUpload and CopyObject; any other
name is 400 InvalidStorageClass. The local store keeps the class in its index. An S3 upstream
is sent the class only when its configuration lists it (``upstreams.NAME.storage_classes``);
any other class is stored there as STANDARD and kept by the proxy in a record bound to the
object, which HEAD/GET and the listings read (:mod:`s3proxy.backends.class_records`). A class
that cannot be kept (a tenant without a home) is refused (:func:`not_offered`). STANDARD needs
no record: it is every object's.
"""

from __future__ import annotations

from collections.abc import Collection

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import STANDARD, Tags
from s3proxy.tagging import header_value

STORAGE_CLASSES = frozenset(
    {
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
        "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
        "FSX_OPENZFS", "FSX_ONTAP",
    }
)  # fmt: skip


def requested(value: str | None) -> str:
    """The class an ``x-amz-storage-class`` header asks for (STANDARD when absent)."""
    if value is None:
        return STANDARD
    value = value.strip()
    if value not in STORAGE_CLASSES:
        raise S3Error(S3ErrorCode.InvalidStorageClass, StorageClassRequested=value)
    return value


def not_offered(storage_class: str) -> S3Error:
    """A class the upstream does not offer and the proxy cannot keep (no home to keep it in)."""
    return S3Error(
        S3ErrorCode.InvalidStorageClass,
        f"The storage class {storage_class} is not offered by this bucket's storage.",
        StorageClassRequested=storage_class,
    )


def write_headers(offered: Collection[str], storage_class: str, tags: Tags) -> dict[str, str]:
    """The headers asking an S3 upstream for ``storage_class`` and ``tags`` on a write (PUT,
    CreateMultipartUpload, CopyObject). A class the upstream does not offer is refused: the
    mapped storage sends STANDARD for a class it keeps, so this only guards a path that forgot."""
    headers: dict[str, str] = {}
    if storage_class != STANDARD:
        if storage_class not in offered:
            raise not_offered(storage_class)
        headers["x-amz-storage-class"] = storage_class
    if tags:
        headers["x-amz-tagging"] = header_value(tags)
    return headers
