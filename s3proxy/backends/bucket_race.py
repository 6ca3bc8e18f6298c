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
bucket exists (``server.bucket_cache_seconds``) would not look, and its writes into a bucket
deleted through another replica were answered 200 for that long. So a write whose bucket was
last seen upstream more than :data:`RECHECK_SECONDS` before the write landed asks again
(one HEAD, which renews the cache): a stream of writes into one bucket costs one HEAD per
bucket, tenant and process per :data:`RECHECK_SECONDS`, and a write is answered 200 only if its
bucket was seen upstream at most that long before it landed (or after). What such a write
still leaves in a deleted bucket is removed when the name is created again
(:func:`.bucket_leftovers.clear_root`, by the tombstone DeleteBucket left).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from s3proxy.backends.buckets import BucketRegistry
from s3proxy.errors import S3Error, S3ErrorCode

RECHECK_SECONDS = 1.0
"""How old (seconds) the upstream's "bucket exists" may be when a write lands for the write to
be answered without asking again: the window in which a bucket deleted through another replica
may still take a write through this one."""


async def kept_or_undone(
    buckets: BucketRegistry, bucket: str, looked_at: int, undo: Callable[[], Awaitable[None]]
) -> None:
    """After a write into ``bucket`` whose existence was checked at generation ``looked_at``
    (:meth:`TenantCache.current`, read before the check): nothing when no bucket changed
    through this server since and the upstream said ``bucket`` exists less than
    :data:`RECHECK_SECONDS` ago, or when it still exists now; else ``undo()`` and
    NoSuchBucket."""
    unchanged = buckets.cache.current() == looked_at
    if unchanged and buckets.checked_since(bucket, time.monotonic() - RECHECK_SECONDS):
        return
    if await buckets.exists(bucket, fresh=True):
        return
    await undo()
    raise S3Error(S3ErrorCode.NoSuchBucket)
