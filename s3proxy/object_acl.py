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
makes a new Last-Modified, so the old record no longer matches and the object is private.
Not within the same second with the same bytes (same ETag, and an HTTP-date has whole seconds):
so the first record bound in a bucket flags the bucket's settings record (:data:`FLAG`), and in
a flagged bucket a write that asks for no such ACL removes the key's record (:func:`reset`), one
request; writes into buckets that never held an object ACL pay nothing.

The ACL is ``public-read`` or ``authenticated-read`` (:data:`s3proxy.acl.OBJECT_ACLS`).
Anonymous reads (public-read only) and reads signed by another tenant (either) check the record
against a HEAD before serving and against the served response's own ETag and Last-Modified
after (:mod:`s3proxy.anonymous`, :mod:`s3proxy.granted_reads`), so an object replaced between
the two is refused, never served under the old object's grant. Records of deleted or
overwritten objects stay behind, inert (they never match again), until DeleteBucket removes
the bucket's records (:mod:`s3proxy.backends.bucket_removal`): a bucket created again starts
unflagged, so an old record would match the same bytes written there in its second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from s3proxy.backends.base import Backend
from s3proxy.backends.records import read_record, write_record
from s3proxy.backends.usage_records import listed_entry
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ObjectInfo, ReadConditions

if TYPE_CHECKING:  # the mapped storage's multipart half binds records at Complete
    from s3proxy.backends.bucket_settings import BucketSettings
    from s3proxy.backends.mapped import MappedStorage

RECORD_DIR = ".buckets/.acls/"
"""Under ``.buckets/``: what every quota already leaves out (the local store's index counts
everything under a home but ``.buckets/``), and ListBuckets lists only that folder's top level."""
MAX_RECORD_BYTES = 4096
FLAG = "object_acls"
"""The member of a bucket's settings record saying an object ACL record was once bound in it:
then writes without an ACL remove the key's record (:func:`reset`)."""


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


async def read(storage: MappedStorage, bucket: str, key: str) -> ObjectAcl | None:
    """The record of (bucket, key), matching or not; None when there is none."""
    location = _location(storage, bucket, key)
    if location is None:
        return None
    found = await read_record(*location, MAX_RECORD_BYTES)
    if found is None:
        return None
    try:
        fields = json.loads(found[0])
        return ObjectAcl(str(fields["acl"]), str(fields["etag"]), str(fields["last_modified"]))
    except (ValueError, TypeError, KeyError):
        raise S3Error(S3ErrorCode.InternalError) from None  # never guess at a grant


async def written(storage: MappedStorage, bucket: str, key: str) -> str | None:
    """The HTTP date (whole seconds) the record of (bucket, key) was last written: when the
    object's ACL began to grant, which may be long after the object's own Last-Modified
    (PutObjectAcl on an old object). None when there is no record."""
    location = _location(storage, bucket, key)
    if location is None:
        return None
    backend, upstream_bucket, record = location
    try:
        return (await backend.head_object(upstream_bucket, record, ReadConditions())).last_modified
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            return None
        raise


async def flagged(storage: MappedStorage, bucket: str) -> bool:
    """Whether ``bucket``'s settings record carries :data:`FLAG`. :func:`bind` sets it before
    it writes a record, so in a bucket without it no record is a grant: one there is left from
    an earlier bucket of that name (deleted by a release that left its records, or cut short),
    and the same bytes written in the same second would match it. Not reading one also saves
    an anonymous or foreign read of a bucket that never held an object ACL an upstream GET
    (the settings are cached: the caller has just read them)."""
    try:
        settings = await storage.buckets.settings.get(bucket)
    except S3Error:  # deleted meanwhile: nothing granted
        return False
    return bool(settings.other.get(FLAG))


async def granting(
    storage: MappedStorage, bucket: str, key: str, acls: frozenset[str]
) -> ObjectAcl | None:
    """The record of the object stored now at (bucket, key) when it holds one of ``acls``;
    None when there is no record, it holds another ACL, it names another object, or the
    object is gone (or cannot be read without its SSE-C key). The caller checks the served
    response against it again (:meth:`ObjectAcl.matches`): the object may change between."""
    if not await flagged(storage, bucket):
        return None
    record = await read(storage, bucket, key)
    if record is None or record.acl not in acls:
        return None
    try:
        info = await storage.head_object(bucket, key, ReadConditions())
    except S3Error:
        return None
    return record if record.matches(info.etag, info.last_modified) else None


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a record is bound to, of the object stored now; ``keyed``: an SSE-C object (its
    HEAD refused without the customer key), which is never public."""

    etag: str
    last_modified: str
    keyed: bool = False


async def stored(storage: MappedStorage, bucket: str, key: str) -> StoredObject:
    """The object's ETag and Last-Modified (HTTP-date, as a HEAD reports it), as S3's
    Get/PutObjectAcl need them: without the object's SSE-C key. Where the upstream refuses
    the HEAD for that key, the object's entry in a one-key listing
    (:func:`~s3proxy.backends.usage_records.listed_entry`); NoSuchKey when there is none."""
    try:
        info = await storage.head_object(bucket, key, ReadConditions())
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey or error.status >= 500:
            raise
        backend, location = await storage.existing(bucket, key)
        entry = await listed_entry(backend, location)
        if entry is None:
            raise S3Error(S3ErrorCode.NoSuchKey, Key=key) from None
        return StoredObject(entry.etag, _http_date(entry.last_modified), True)
    return StoredObject(info.etag, info.last_modified)


def _http_date(listed: str) -> str:
    """A listing's ISO 8601 time as a HEAD's HTTP-date (whole seconds, GMT)."""
    try:
        when = datetime.fromisoformat(listed.replace("Z", "+00:00"))
    except ValueError:
        return listed  # matches no record: private, never a guessed grant
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


async def current(
    storage: MappedStorage, bucket: str, key: str, info: ObjectInfo | StoredObject
) -> str | None:
    """The public ACL of the object ``info`` describes (None: private)."""
    if not await flagged(storage, bucket):
        return None
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


async def bind_completed(
    storage: MappedStorage, bucket: str, key: str, acl: str, etag: str
) -> None:
    """After CompleteMultipartUpload of an upload created with ``acl``: the record, bound to
    the completed object (a HEAD for its Last-Modified) — unless another write replaced it
    meanwhile (another ETag): that object is private. A retried Complete rewrites the same."""
    info = await storage.head_object(bucket, key, ReadConditions())
    if info.etag.strip('"') == etag.strip('"'):
        await bind(storage, bucket, key, acl, info)


async def bind(
    storage: MappedStorage, bucket: str, key: str, acl: str, info: ObjectInfo | StoredObject
) -> None:
    """Write the record of ``acl`` for the object ``info`` describes."""
    location = _location(storage, bucket, key)
    if location is None:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Public object ACLs cannot be stored: this tenant has no home.",
        )
    backend, upstream_bucket, record = location
    if not (await storage.buckets.settings.get(bucket)).other.get(FLAG):
        await storage.buckets.settings.update(bucket, _flagged)
    body = json.dumps(
        {"acl": acl, "etag": info.etag, "last_modified": info.last_modified},
        separators=(",", ":"),
    ).encode()
    await write_record(backend, upstream_bucket, record, body)


def _flagged(settings: BucketSettings) -> BucketSettings:
    if settings.other.get(FLAG):
        return settings
    if settings.ownership is not None:  # PutBucketOwnershipControls won the race: no ACLs
        raise S3Error(S3ErrorCode.AccessControlListNotSupported)
    return dataclasses.replace(settings, other={**settings.other, FLAG: True})


async def reset(storage: MappedStorage, bucket: str, key: str) -> None:
    """After a write of (bucket, key) that asked for no public or authenticated-read ACL: the
    object is private, as on S3, even when it has the ETag and second of the one the record
    was bound to. One DELETE in a flagged bucket; nothing (the settings are cached) elsewhere."""
    location = _location(storage, bucket, key)
    if location is None or not (await storage.buckets.settings.get(bucket)).other.get(FLAG):
        return
    backend, upstream_bucket, record = location
    await backend.delete_object(upstream_bucket, record)
