"""DeleteBucket as S3 does it: a bucket with no objects goes, uploads in progress and all.

S3 refuses to delete a bucket that holds objects (409 BucketNotEmpty) but deletes one whose
only content is multipart uploads in progress, and those uploads are gone with it (a Ceph
developer's test on S3 in ceph/ceph PR 15630; scality/cloudserver PR 1591): ``aws s3 rb
--force`` relies on it. A created bucket's uploads live upstream under its root, their records
in the tenant's home (:mod:`s3proxy.backends.upload_records`, ``.uploads/B/``), so the steps
are ordered for a crash at any point to leave either the bucket, or nothing a later bucket of
that name could meet:

1. objects under the root: 409 BucketNotEmpty, nothing aborted;
2. every upload under the root aborted upstream (an UploadId issued for it is then
   NoSuchUpload, before and after the name is created again). A crash here leaves the bucket
   with fewer uploads and records of aborted ones, which nothing matches and a retried
   DeleteBucket removes;
3. every record under ``.uploads/B/`` removed, then every object ACL record under
   ``.buckets/.acls/B/`` (:mod:`s3proxy.object_acl`); one that cannot be is an error, and the
   bucket stays;
4. the bucket's tombstone written, then its marker deleted
   (:meth:`~s3proxy.backends.buckets.BucketRegistry.delete`; :mod:`.bucket_leftovers`);
5. one more look under the root, for a write that raced these steps (:mod:`.bucket_race`):
   an object puts the marker back (409 BucketNotEmpty), an upload is aborted.

A quota tenant's uploads are aborted so that what their parts held is freed
(:mod:`s3proxy.backends.part_quotas`): parts count from the moment they are stored.
An upload created while these steps run (another client racing the delete) is aborted by one
more pass; one still there after :data:`PASSES` is 409 BucketNotEmpty, the bucket kept. A
Complete that lands while its upload is being aborted (the abort then finds it gone) has made
an object: the bucket is listed once more after the aborts, and such an object is 409
BucketNotEmpty too, as S3 answers a DeleteBucket ordered after that Complete (the object is
the client's, counted in its quota, and must not outlive its bucket).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_settings import MAX_RECORD_BYTES
from s3proxy.backends.part_quotas import quota_aborter
from s3proxy.backends.records import RACED, read_record, write_record
from s3proxy.backends.upload_records import DELETE_BATCH, LIST_PAGE, RECORD_DIR
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.layout import UpstreamRoot
from s3proxy.model import UploadInfo, WriteConditions
from s3proxy.object_acl import RECORD_DIR as ACL_RECORD_DIR

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage

PASSES = 3
"""Abort passes before uploads that keep appearing make the bucket count as not empty."""
ABORTS_AT_ONCE = 8
"""Upstream AbortMultipartUpload requests in flight at once for one DeleteBucket."""


async def remove_bucket(
    storage: MappedStorage, backends: Mapping[str, Backend], bucket: str
) -> None:
    """Delete created bucket ``bucket`` (its existence checked by the caller) as S3 does."""
    root = storage.root(bucket)
    backend = backends.get(root.upstream)
    if backend is None:  # config validation makes this unreachable; never leak the name
        raise S3Error(S3ErrorCode.InternalError)
    has_objects, uploads = await all_or_none(
        _has_objects(backend, root), backend.has_uploads(root.bucket, root.prefix)
    )
    if has_objects:
        raise S3Error(S3ErrorCode.BucketNotEmpty, BucketName=bucket)
    aborted = uploads
    for _ in range(PASSES):
        if not uploads:
            break
        aborter = quota_aborter(storage, bucket, backend, root)
        await abort_all(backend, root, storage.shard_roots(root), aborter=aborter)
        uploads = await backend.has_uploads(root.bucket, root.prefix)
    if uploads:
        raise S3Error(S3ErrorCode.BucketNotEmpty, BucketName=bucket)
    if aborted and await _has_objects(backend, root):  # a Complete won the race to one
        raise S3Error(S3ErrorCode.BucketNotEmpty, BucketName=bucket)
    await remove_records(storage, backends, bucket)
    # Its objects' ACL records too: a bucket created again would otherwise meet them, and one
    # bound to an object of the same bytes written in the same second would match again.
    await remove_records(storage, backends, bucket, directory=ACL_RECORD_DIR)
    record = await _settings_record(storage, bucket)
    await storage.buckets.delete(bucket)
    await _after_deletion(storage, backends, backend, root, bucket, record)


async def _after_deletion(
    storage: MappedStorage,
    backends: Mapping[str, Backend],
    backend: Backend,
    root: UpstreamRoot,
    bucket: str,
    record: bytes,
) -> None:
    """One more look under the root once the marker is gone (no write can start after that
    without finding the bucket gone): a write that began before and landed since
    (:mod:`.bucket_race`). An object there was answered 200 and is the client's: its bucket
    is put back as it was (409 BucketNotEmpty, as S3 answers a delete ordered after that
    write); uploads go with the bucket, as the ones found before did."""
    has_objects, uploads = await all_or_none(
        _has_objects(backend, root), backend.has_uploads(root.bucket, root.prefix)
    )
    if has_objects:
        location = storage.buckets.settings_record(bucket)
        if location is not None:
            try:  # If-None-Match: a bucket of that name created meanwhile is kept as it is
                await write_record(*location, record, conditions=WriteConditions(if_none_match="*"))
            except S3Error as error:
                if error.code not in RACED:
                    raise
            finally:
                storage.buckets.cache.bump()
        raise S3Error(S3ErrorCode.BucketNotEmpty, BucketName=bucket)
    if uploads:
        aborter = quota_aborter(storage, bucket, backend, root)
        await abort_all(backend, root, storage.shard_roots(root), aborter=aborter)
        await remove_records(storage, backends, bucket)


async def _settings_record(storage: MappedStorage, bucket: str) -> bytes:
    """The bucket's marker body (its settings), to put back should the bucket have to stay;
    no request for a bucket the existence check saw without settings."""
    if storage.buckets.known_record_size(bucket) == 0:
        return b""
    location = storage.buckets.settings_record(bucket)
    found = await read_record(*location, MAX_RECORD_BYTES) if location is not None else None
    return found[0] if found is not None else b""


async def _has_objects(backend: Backend, root: UpstreamRoot) -> bool:
    page = await backend.list_objects(root.bucket, root.prefix, None, None, 1)
    return bool(page.entries)


Confirm = Callable[[], Awaitable[None]] | None
Aborter = Callable[[UploadInfo], Awaitable[None]]
"""Awaited after each listing page, before anything listed on it is removed (raises to stop):
:mod:`.bucket_leftovers` checks there that the bucket still has no marker."""


async def abort_all(
    backend: Backend,
    root: UpstreamRoot,
    shards: list[str],
    confirm: Confirm = None,
    aborter: Aborter | None = None,
) -> None:
    """Abort every upload the upstream lists under ``root`` (all shards: they are below it);
    shard by shard where the upstream cannot page through them all (SeaweedFS past 10,000
    uploads under one prefix: :mod:`~s3proxy.backends.upload_markers`). ``aborter``: how
    one upload is aborted (a quota tenant's frees what its parts held:
    :func:`~s3proxy.backends.part_quotas.quota_aborter`); None: a plain abort."""
    abort = aborter or partial(_plain_abort, backend, root)
    try:
        await _abort_under(backend, root, root.prefix, confirm, abort)
    except S3Error as error:
        if error.code is not S3ErrorCode.NotImplemented or shards == [root.prefix]:
            raise
        for prefix in shards:
            await _abort_under(backend, root, prefix, confirm, abort)


async def _plain_abort(backend: Backend, root: UpstreamRoot, upload: UploadInfo) -> None:
    await backend.abort_multipart_upload(root.bucket, upload.key, upload.upload_id)


async def _abort_under(
    backend: Backend, root: UpstreamRoot, prefix: str, confirm: Confirm, abort: Aborter
) -> None:
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = await backend.list_multipart_uploads(
            root.bucket, prefix, None, key_marker, id_marker, LIST_PAGE
        )
        # Never trust an upstream's prefix filter: only this bucket's uploads are aborted.
        mine = [upload for upload in page.uploads if upload.key.startswith(prefix)]
        if mine and confirm is not None:
            await confirm()
        for start in range(0, len(mine), ABORTS_AT_ONCE):
            batch = mine[start : start + ABORTS_AT_ONCE]
            await asyncio.gather(*(_abort(abort, upload) for upload in batch))
        if page.next_marker is None:
            return
        key_marker, id_marker = page.next_marker


async def _abort(abort: Aborter, upload: UploadInfo) -> None:
    try:
        await abort(upload)
    except S3Error as error:  # completed or aborted meanwhile: gone all the same
        if error.code is not S3ErrorCode.NoSuchUpload:
            raise


async def remove_records(
    storage: MappedStorage,
    backends: Mapping[str, Backend],
    bucket: str,
    confirm: Confirm = None,
    *,
    directory: str = RECORD_DIR,
) -> None:
    """Remove everything under the bucket's ``.uploads/B/`` (checksums, tags, marks, stale
    ones too), or under another ``directory`` of the home's keyed by bucket (its objects' ACL
    records, ``.buckets/.acls/B/``): a later bucket of that name starts with none. A record
    left is an error."""
    home = storage.tenant.home
    keeper = backends.get(home.upstream) if home is not None else None
    if home is None or keeper is None:  # no home: no created bucket, no records
        return
    prefix = f"{home.prefix}{directory}{bucket}/"
    token: str | None = None
    while True:
        page = await keeper.list_objects(home.bucket, prefix, None, None, LIST_PAGE, token)
        names = [entry.key for entry in page.entries if entry.key.startswith(prefix)]
        names = [name for name in names if name != prefix]  # a directory entry (SeaweedFS)
        if names and confirm is not None:
            await confirm()
        for start in range(0, len(names), DELETE_BATCH):
            results = await keeper.delete_objects(home.bucket, names[start : start + DELETE_BATCH])
            if any(result.error not in (None, "NoSuchKey") for result in results):
                raise S3Error(S3ErrorCode.InternalError, "Bucket records could not be removed.")
        token = page.next_token
        if token is None:
            return
