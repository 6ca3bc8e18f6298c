"""Public object ACLs: one small record per public object, bound to the object it was set on.

Where: ``home.prefix + ".buckets/.acls/" + B + "/" + SHA-256(key) hex`` in the tenant's home (README
"layout"), a JSON body ``{"acl": "public-read", "etag": ..., "last_modified": ...}``: the ACL,
and the ETag and Last-Modified of the object it was set on. The same on every lane, and every
replica reads the same state.

Why not with the object: the upstreams' own ACL APIs are unfit (probed: SeaweedFS 4.48 ignores
``x-amz-acl`` on PutObject and copies the ACL on CopyObject; Ceph RGW 16 keeps it but then
serves the object anonymously *on the upstream itself*, past the gateway), and user metadata
or tags are the client's (a copy would carry them, a PutObjectAcl would have to rewrite the
object). A record bound to (ETag, Last-Modified) needs nothing from the write path: S3 resets
an object's ACL when it is overwritten, and here an overwrite (or a delete and a re-upload)
makes a new Last-Modified, so the old record no longer matches and the object is private —
without any write that does not ask for a public ACL paying for a record lookup.

Anonymous reads check the record against a HEAD before serving and against the served
response's own ETag and Last-Modified after (:mod:`s3proxy.anonymous`), so an object replaced
between the two is refused, never served under the old object's grant. Records of deleted or
overwritten objects stay behind, inert (they never match again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from s3proxy.backends.base import Backend
from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ObjectAttributes, ObjectInfo, PutObjectInput, ReadConditions

RECORD_DIR = ".buckets/.acls/"
"""Under ``.buckets/``: what every quota already leaves out (the local store's index counts
everything under a home but ``.buckets/``), and ListBuckets lists only that folder's top level."""
MAX_RECORD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ObjectAcl:
    acl: str
    etag: str
    last_modified: str

    def matches(self, etag: str | None, last_modified: str | None) -> bool:
        return etag == self.etag and last_modified == self.last_modified


def _location(storage: MappedStorage, bucket: str, key: str) -> tuple[Backend, str, str] | None:
    home = storage.tenant.home
    if home is None:
        return None
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    record = f"{home.prefix}{RECORD_DIR}{bucket}/{digest}"
    return storage._backend(home.upstream), home.bucket, record


async def _body_of(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def read(storage: MappedStorage, bucket: str, key: str) -> ObjectAcl | None:
    """The record of (bucket, key), matching or not; None when there is none."""
    location = _location(storage, bucket, key)
    if location is None:
        return None
    backend, upstream_bucket, record = location
    try:
        got = await backend.get_object(upstream_bucket, record, None, ReadConditions())
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            return None
        raise
    try:
        if got.content_length > MAX_RECORD_BYTES:
            raise S3Error(S3ErrorCode.InternalError)
        body = b"".join([chunk async for chunk in got.body])
    finally:
        await got.aclose()
    try:
        fields = json.loads(body)
        return ObjectAcl(str(fields["acl"]), str(fields["etag"]), str(fields["last_modified"]))
    except (ValueError, TypeError, KeyError):
        raise S3Error(S3ErrorCode.InternalError) from None  # never guess at a grant


async def current(storage: MappedStorage, bucket: str, key: str, info: ObjectInfo) -> str | None:
    """The public ACL of the object ``info`` describes (None: private)."""
    record = await read(storage, bucket, key)
    if record is None or not record.matches(info.etag, info.last_modified):
        return None
    return record.acl


async def write(storage: MappedStorage, bucket: str, key: str, acl: str | None) -> None:
    """Set the ACL of the object now stored at (bucket, key): a record bound to it for a
    public ACL, no record for private."""
    location = _location(storage, bucket, key)
    if location is None:
        if acl is None:
            return
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Public object ACLs cannot be stored: this tenant has no home.",
        )
    backend, upstream_bucket, record = location
    if acl is None:
        await backend.delete_object(upstream_bucket, record)
        return
    info = await storage.head_object(bucket, key, ReadConditions())
    await bind(storage, bucket, key, acl, info)


async def bind(storage: MappedStorage, bucket: str, key: str, acl: str, info: ObjectInfo) -> None:
    """Write the record of ``acl`` for the object ``info`` describes."""
    location = _location(storage, bucket, key)
    if location is None:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Public object ACLs cannot be stored: this tenant has no home.",
        )
    backend, upstream_bucket, record = location
    body = json.dumps(
        {"acl": acl, "etag": info.etag, "last_modified": info.last_modified},
        separators=(",", ":"),
    ).encode()
    await backend.put_object(
        PutObjectInput(
            bucket=upstream_bucket,
            key=record,
            body=_body_of(body),
            content_length=len(body),
            attributes=ObjectAttributes(),
        )
    )
