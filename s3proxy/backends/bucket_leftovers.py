"""A bucket created again starts empty, as on S3: what late writes left under its root goes first.

A created bucket's root is empty once its DeleteBucket has answered (:mod:`.bucket_removal`).
But replicas share nothing but the upstream: one whose cache still says the bucket exists
(``server.bucket_cache_seconds``; :mod:`.bucket_race` narrows what it answers 200 to writes
that land within ``RECHECK_SECONDS`` of the upstream's last "exists") may write into it after
the delete — an object put, copied or completed, an upload created. Left there, those would be
the contents of the next bucket of that name (README "The upstream layout"). So CreateBucket,
once it has found no marker and before it writes one, removes them as DeleteObjects and
DeleteBucket would: objects deleted (what a quota counted freed), uploads aborted and their
records under ``.uploads/B/`` removed, and the object ACL records under ``.buckets/.acls/B/``.

Only where this gateway deleted a bucket of that name: DeleteBucket leaves a tombstone
(:data:`~.buckets.TOMBSTONE_DIR`, written before the marker goes). A root without one was never
a deleted bucket's, or was filled after its tombstone was consumed — an operator who places
objects under a root by the layout and then creates the bucket: the layout is a contract
operators migrate data by, and such objects are the new bucket's, as they were before this
module. The tombstone goes once the root is clear, before the marker is written: a crash before
that leaves it for the next create to finish the job, a crash after it leaves no bucket and an
empty root (nothing a client was told is stored is ever removed: no marker has been written
yet). A bucket deleted through an older release has no tombstone, and is adopted as it is.

Never anything of a bucket that exists: two creates of one name racing through two replicas,
the first answered and its client already writing, must not lose the client's objects. So each
listing page is acted on only after a fresh HEAD finds the marker still absent: an object
listed before that HEAD was written while the bucket did not exist (a marker written and then
deleted again in between is a DeleteBucket, which leaves no object of its own bucket behind).
A marker found there ends the create as the lost race it is (BucketAlreadyOwnedByYou).

Nor anything of a bucket mapped in the configuration: the validator lets a tenant's own roots
nest (only other tenants' may not: ``s3proxy.config.models``), so a created bucket's root that
holds, or lies inside, one of the tenant's mapped roots on the same upstream bucket is left as
it is (such a created bucket shows the mapped one's objects anyway).

Cost: one HEAD (the tombstone) per CreateBucket; for a name deleted before, four listings
(objects, uploads, upload records, object ACL records) and the tombstone's DELETE; one HEAD
more per page of leftovers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_removal import abort_all, remove_records
from s3proxy.backends.part_quotas import quota_aborter
from s3proxy.backends.upload_records import LIST_PAGE
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.layout import TenantLayout, UpstreamLocation, UpstreamRoot
from s3proxy.object_acl import RECORD_DIR as ACL_RECORD_DIR

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage


async def clear_root(storage: MappedStorage, bucket: str) -> None:
    """Remove what lies under the root of ``bucket``, which has no marker (the caller found
    none), if its tombstone says this gateway deleted it, then the tombstone: called by
    CreateBucket before it writes the marker."""
    root = storage.root(bucket)
    if _nests_a_mapped_root(storage.tenant, root):
        return
    if not await storage.buckets.was_deleted(bucket):
        return  # never deleted here: an operator's objects, adopted as they are
    await _clear(storage, root, bucket)
    await storage.buckets.forget_deletion(bucket)


async def _clear(storage: MappedStorage, root: UpstreamRoot, bucket: str) -> None:
    """Objects, uploads and upload records under ``root``, each page only while ``bucket``
    still has no marker."""
    backend = storage.buckets.backends.get(root.upstream)
    if backend is None:  # config validation makes this unreachable; never leak the name
        raise S3Error(S3ErrorCode.InternalError)

    async def still_absent() -> None:
        if await storage.buckets.exists(bucket, fresh=True):
            raise S3Error(S3ErrorCode.BucketAlreadyOwnedByYou, BucketName=bucket)

    has_objects, uploads = await all_or_none(
        _listed_one(backend, root), backend.has_uploads(root.bucket, root.prefix)
    )
    if uploads:
        aborter = quota_aborter(storage, bucket, backend, root)  # their parts counted
        await abort_all(backend, root, storage.shard_roots(root), still_absent, aborter)
    if has_objects or uploads:  # after the aborts: a Complete racing them made an object
        await _remove_objects(storage, backend, root, bucket, still_absent)
    # Records too when no upload is left: a late Complete undone (bucket_race) leaves its own.
    await remove_records(storage, storage.buckets.backends, bucket, still_absent)
    # And the object ACL records late writes asked for (public-read): DeleteBucket removed the
    # bucket's own, so any here are theirs, and one would count again for the same bytes written
    # in the same second once the new bucket has its first object ACL. (Kept-class records
    # need nothing: a bucket created again gets a new records token.)
    await remove_records(
        storage, storage.buckets.backends, bucket, still_absent, directory=ACL_RECORD_DIR
    )


def _nests_a_mapped_root(tenant: TenantLayout, root: UpstreamRoot) -> bool:
    return any(
        (mapped.upstream, mapped.bucket) == (root.upstream, root.bucket)
        and (mapped.prefix.startswith(root.prefix) or root.prefix.startswith(mapped.prefix))
        for mapped in tenant.buckets.values()
    )


async def _listed_one(backend: Backend, root: UpstreamRoot) -> bool:
    page = await backend.list_objects(root.bucket, root.prefix, None, None, 1)
    return bool(page.entries)


async def _remove_objects(
    storage: MappedStorage,
    backend: Backend,
    root: UpstreamRoot,
    bucket: str,
    still_absent: Callable[[], Awaitable[None]],
) -> None:
    """Delete every object under ``root``, one listing pass, each page only once the marker
    is confirmed absent after it was listed."""
    token: str | None = None
    while True:
        page = await backend.list_objects(root.bucket, root.prefix, None, None, LIST_PAGE, token)
        names = [entry.key for entry in page.entries if entry.key.startswith(root.prefix)]
        if names:
            await still_absent()
            await _delete_counted(storage, backend, root, bucket, names)
        token = page.next_token
        if token is None:
            return


async def _delete_counted(
    storage: MappedStorage, backend: Backend, root: UpstreamRoot, bucket: str, names: list[str]
) -> None:
    """DeleteObjects upstream; for a tenant with a quota, what the objects counted is freed
    (the replica that wrote them counted them)."""
    scopes = storage.quota_scopes(bucket)
    usage = storage.usage_book(scopes, backend)
    failed: set[str] = set()

    async def delete() -> None:
        results = await backend.delete_objects(root.bucket, names)
        failed.update(r.key for r in results if r.error not in (None, "NoSuchKey"))

    if usage is None:
        await delete()
    else:
        where = [UpstreamLocation(root.upstream, root.bucket, name) for name in names]
        await usage.removed(scopes, where, delete, lambda _, at: at.key not in failed)
    if failed:
        raise S3Error(S3ErrorCode.InternalError, "Objects of a deleted bucket remain.")
