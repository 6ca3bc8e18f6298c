"""A bucket's default storage class (Get/PutBucketDefaultStorageClass): S3's exact answers for
the one default buckets here have.

S3 gives a bucket a default class that writes without ``x-amz-storage-class`` take: ``STANDARD``
unless PutBucketDefaultStorageClass sets ``INTELLIGENT_TIERING`` (the only other value it takes).
Here every write without the header is ``STANDARD`` (README "Object tags and storage classes"),
so every bucket's default is ``STANDARD`` and nothing needs to be stored:

- GetBucketDefaultStorageClass answers ``STANDARD``, after its usual NoSuchBucket; it is what
  S3 answers for a bucket whose default was never set;
- PutBucketDefaultStorageClass of ``STANDARD`` is carried out as it stands (the default is
  already that, and S3 has no other way back to it): 200, nothing written;
- ``INTELLIGENT_TIERING`` would change which class later writes get, which the gateway does not
  keep per bucket: 501 NotImplemented, nothing changed (never a 200 for a default not applied);
- a class S3 does not take as a default is 400 InvalidStorageClass, and a document of another
  shape 400 MalformedXML, both before anything else happens.

Why served at all, rather than 501: tools that read a bucket's whole configuration (botocore
1.44.18 added these two operations to its model) take a 501 as an error, where ``STANDARD`` is
the true answer. The body needs Content-MD5 or an ``x-amz-checksum-*`` header, as on S3 (its
model marks the checksum required).
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketDefaultStorageClass.html
"""

from __future__ import annotations

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import _verified_xml_body
from s3proxy.handlers.context import RequestContext
from s3proxy.responses import S3Response, xml_response
from s3proxy.xmlcodec import S3_NS, XML_DECLARATION, _parse, children_named, local_name

STANDARD = "STANDARD"
"""The default of every bucket here: what a write without ``x-amz-storage-class`` gets."""
DEFAULTS = frozenset({STANDARD, "INTELLIGENT_TIERING"})
"""The classes S3 takes as a bucket's default (its model's ``BucketDefaultStorageClass``)."""
MAX_DOCUMENT_BYTES = 4096
"""Far above the one-element document S3 defines (~170 bytes)."""


def _bucket(ctx: RequestContext) -> str:
    assert ctx.request.bucket is not None
    return ctx.request.bucket


def default_storage_class_xml(storage_class: str) -> bytes:
    return (
        f'{XML_DECLARATION}<DefaultStorageClassConfiguration xmlns="{S3_NS}">'
        f"<DefaultStorageClass>{storage_class}</DefaultStorageClass>"
        "</DefaultStorageClassConfiguration>"
    ).encode()


def parse_default_storage_class(body: bytes) -> str:
    """``<DefaultStorageClassConfiguration><DefaultStorageClass>`` → its value. One element of
    one text, else MalformedXML; a value S3 does not take as a default, InvalidStorageClass."""
    root = _parse(body)
    values = children_named(root, "DefaultStorageClass")
    if local_name(root.tag) != "DefaultStorageClassConfiguration" or len(values) != 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    if len(root) != 1 or len(values[0]) != 0:
        raise S3Error(S3ErrorCode.MalformedXML)
    value = (values[0].text or "").strip()
    if value not in DEFAULTS:
        raise S3Error(S3ErrorCode.InvalidStorageClass, StorageClassRequested=value)
    return value


async def get_bucket_default_storage_class(ctx: RequestContext) -> S3Response:
    await ctx.storage.buckets.require(_bucket(ctx))
    return xml_response(default_storage_class_xml(STANDARD))


async def put_bucket_default_storage_class(ctx: RequestContext) -> S3Response:
    """Carried out for ``STANDARD`` only (module docstring)."""
    await ctx.storage.buckets.require(_bucket(ctx))
    body = await _verified_xml_body(ctx, required=True, limit=MAX_DOCUMENT_BYTES)
    value = parse_default_storage_class(body)
    if value != STANDARD:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"A default storage class of {value} is not implemented: every bucket here writes "
            "objects sent without x-amz-storage-class as STANDARD (send the header on each "
            "write instead).",
        )
    return S3Response()
