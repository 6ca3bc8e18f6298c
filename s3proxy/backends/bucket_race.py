"""A write into a created bucket that a DeleteBucket removes while the write runs.

Every write checks that its bucket exists first (often from the cache), then writes upstream,
which may take minutes for a large body. A DeleteBucket that lands in between found the bucket
empty and deleted its marker: the object or upload written afterwards would outlive its bucket
— counted in the tenant's quota, listed again if the name is created once more. S3 orders the
two: the write before the delete (which then fails, 409 BucketNotEmpty), or the delete before
the write (NoSuchBucket). The proxy does the same from both sides:

- the writer (:func:`kept_or_undone`): after its upstream write, if any bucket of the tenant was
  created or deleted through this server since it looked (the generation every worker shares,
  :mod:`~s3proxy.backends.bucket_cache`: no request when nothing changed), it asks whether its
  bucket is still there; if not, it removes what it wrote and answers NoSuchBucket;
- DeleteBucket (:mod:`~s3proxy.backends.bucket_removal`): after it deleted the marker (and
  moved the generation), it looks under the root once more, for a write that the writer's check
  ran too early to see.

Across replicas nothing is shared but the upstream: a replica whose cache still says the
bucket exists (``server.bucket_cache_seconds``) does not look (README, "The upstream layout").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from s3proxy.backends.buckets import BucketRegistry
from s3proxy.errors import S3Error, S3ErrorCode


async def kept_or_undone(
    buckets: BucketRegistry, bucket: str, looked_at: int, undo: Callable[[], Awaitable[None]]
) -> None:
    """After a write into ``bucket`` whose existence was checked at generation ``looked_at``
    (:meth:`TenantCache.current`, read before the check): nothing when no bucket changed
    since, or when ``bucket`` still exists; else ``undo()`` and NoSuchBucket."""
    if buckets.cache.current() == looked_at or bucket in buckets.tenant.buckets:
        return
    if await buckets.exists(bucket):
        return
    await undo()
    raise S3Error(S3ErrorCode.NoSuchBucket)
