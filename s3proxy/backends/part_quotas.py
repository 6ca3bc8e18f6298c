"""Quotas over multipart parts: a part counts from the moment it is stored (s3proxy.quotas).

Were parts counted only at Complete, a tenant could park any number of bytes on the shared
upstream in uploads it never completes, and a client learnt of its quota only once the whole
file had been sent. So an UploadPart (or UploadPartCopy) that would take the tenant or bucket
past a limit is refused 403 QuotaExceeded before any body byte moves, from its Content-Length
(a copy: its range, or its source's size); a Complete turns the parts' bytes into the object's,
and an abort (the client's, or DeleteBucket's clean-up) frees them.

- The local store checks inside the transaction that stores the part and counts parts by
  triggers (:mod:`.local.usage`); here it only gets the early check.
- On S3 upstreams the usage records count them (:meth:`.usage_records.UsageBook.part_guarded`):
  one ListParts from the part's number reads what a part sent again replaces, and one listing
  of the upload's parts before an abort reads what it frees.

A tenant without a quota pays nothing: no scope, no request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, TypeVar

from s3proxy.backends.usage_figures import head_size, parts_held
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import QuotaScope, UploadInfo
from s3proxy.quotas import UsageCounter

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend
    from s3proxy.backends.mapped import MappedStorage
    from s3proxy.backends.usage_records import UsageBook

T = TypeVar("T")


async def stored_part(
    storage: MappedStorage,
    scopes: tuple[QuotaScope, ...],
    backend: Backend,
    location: UpstreamLocation,
    upload_id: str,
    part_number: int,
    size: int | None,
    write: Callable[[], Awaitable[T]],
    read_back: bool = False,
) -> T:
    """``write`` (the part's upstream request) once a part of ``size`` bytes fits ``scopes``,
    counted once stored. ``read_back``: ``size`` is the source's before the copy, which an
    overwrite may change: the part is sized from ListParts once stored. ``size`` None: a copy
    whose source was missing at its HEAD: on an S3 upstream that is the answer (NoSuchKey),
    as S3 gives it had the copy come at that HEAD; admitted as 0 bytes, a source written
    meanwhile was copied past the quota (counted only after)."""
    if not scopes:
        return await write()
    if size is None and isinstance(backend, UsageCounter):  # checked in its transaction
        return await write()
    if size is None:
        raise S3Error(S3ErrorCode.NoSuchKey)
    if isinstance(backend, UsageCounter):  # the early check; the commit checks again
        await backend.check_part_quota(
            scopes, location.bucket, location.key, upload_id, part_number, size
        )
        return await write()
    usage = storage.usage_book(scopes, backend)
    if usage is None:
        return await write()
    return await usage.part_guarded(
        scopes, location, upload_id, part_number, size, write, read_back=read_back
    )


async def copied_size(
    source_backend: Backend,
    source: UpstreamLocation,
    source_range: tuple[int, int] | None,
) -> int | None:
    """The bytes an UploadPartCopy makes its part of: its range, else its source's size (a
    HEAD; None when the source is missing)."""
    if source_range is not None:
        return source_range[1] - source_range[0] + 1
    return await head_size(source_backend, source)


async def aborted(
    storage: MappedStorage,
    scopes: tuple[QuotaScope, ...],
    backend: Backend,
    location: UpstreamLocation,
    upload_id: str,
) -> None:
    """Abort an upload upstream; for a quota tenant on an S3 upstream, what its parts held is
    read first and freed once it is gone (the local store frees them in the abort's
    transaction)."""
    usage = storage.usage_book(scopes, backend) if scopes else None
    if usage is None:
        await backend.abort_multipart_upload(location.bucket, location.key, upload_id)
        return
    async with usage.closing(location, upload_id):  # no part of it lands unread meanwhile
        held = await parts_held(backend, location, upload_id)
        await backend.abort_multipart_upload(location.bucket, location.key, upload_id)
        usage.freed(scopes, location, held)


def upload_closing(
    usage: UsageBook | None, location: UpstreamLocation, upload_id: str
) -> AbstractAsyncContextManager[None]:
    """What a Complete holds from the listing of its upload's parts to its count: for a quota
    tenant on an S3 upstream, the upload's gate (:meth:`.usage_writes.WritingBook.closing`), so
    that no part of it lands unread meanwhile."""
    return contextlib.nullcontext() if usage is None else usage.closing(location, upload_id)


def quota_aborter(
    storage: MappedStorage, bucket: str, backend: Backend, root: UpstreamRoot
) -> Callable[[UploadInfo], Awaitable[None]] | None:
    """How DeleteBucket's clean-up (and a re-created bucket's, :mod:`.bucket_leftovers`)
    aborts each upload of ``bucket`` listed under ``root`` for a quota tenant on an S3
    upstream: :func:`aborted`, so that its parts' bytes are freed. None: a plain abort does
    (no quota, or the local store, which frees them in the abort's transaction)."""
    scopes = storage.quota_scopes(bucket)
    if not scopes or storage.usage_book(scopes, backend) is None:
        return None

    async def abort(upload: UploadInfo) -> None:
        where = UpstreamLocation(root.upstream, root.bucket, upload.key)
        await aborted(storage, scopes, backend, where, upload.upload_id)

    return abort
