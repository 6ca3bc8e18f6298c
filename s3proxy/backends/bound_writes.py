"""A quota tenant's writes bound to what their HEAD read, so that they count exactly across
replicas.

Split from :mod:`.usage_writes` (wave 15 A3), whose checks, holds and counts these use: a
PutObject (:meth:`BoundWrites.put_bound`), a Complete (:meth:`BoundWrites.completed_bound`)
and a CopyObject (:meth:`BoundWrites.copied_from`) of a quota tenant each HEAD the key they
replace under its turn, and where they can, go upstream bound to what that HEAD read
(``If-None-Match: *`` over no object, else ``If-Match`` its ETag): a write of the key through
another replica between the HEAD and the write then fails the condition instead of both
counting one replaced object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from s3proxy.backends.quota_writes import landed
from s3proxy.backends.usage_figures import current_object, head_size
from s3proxy.backends.usage_writes import WritingBook
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    CopyObjectOutput,
    ObjectInfo,
    PutObjectInput,
    PutObjectOutput,
    QuotaScope,
    WriteConditions,
)
from s3proxy.quotas import Usage, after_write, completed

T = TypeVar("T")
NO_OBJECT = S3ErrorCode.NoSuchKey
BIND_TRIES = 3
"""A bound Complete's sends (each after a HEAD) before the last goes unbound."""
TARGET_REFUSALS = (S3ErrorCode.PreconditionFailed, S3ErrorCode.ConditionalRequestConflict)
"""A bound write's answers when its target's condition failed (S3 answers 409
ConditionalRequestConflict to a conditional write that met another one in flight): for a PUT
503 SlowDown, for a Complete or a copy another try."""


class BoundWrites(WritingBook):
    """The bound writes of the book (:class:`~.usage_records.UsageBook` is one)."""

    async def put_bound(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        request: PutObjectInput,
        put: Callable[[PutObjectInput], Awaitable[PutObjectOutput]],
    ) -> PutObjectOutput:
        """:meth:`guarded` for a PutObject, sent bound to what its HEAD read when the client
        sent no condition of its own (``If-None-Match: *`` over no object, else ``If-Match``
        its ETag; every S3 upstream checks a PUT's): two overwrites of one key through two
        replicas at once both read the same old size and both counted it replaced, so a
        tenant could lower its count by overwriting a large object with small ones at once.
        A 412 (S3: or a 409) then means another write of the key landed after the HEAD (a 404
        NoSuchKey, as SeaweedFS, Ceph RGW and S3 answer an ``If-Match`` over no object: a
        delete); the body cannot be sent twice, so the answer is 503 SlowDown (S3's retryable
        refusal), nothing counted (measured: both upstreams store nothing of a refused 9 MiB
        streamed PUT).
        An SSE-C object (read from its listing entry, not a HEAD) goes unbound."""
        conditions = request.conditions
        if conditions.if_match is not None or conditions.if_none_match is not None:
            return await self.guarded(
                scopes, location, request.content_length, partial(put, request)
            )
        backend = self._backends[location.upstream]
        size = request.content_length
        async with self._writing.hold([(location.upstream, location.bucket, location.key)]):
            found = await current_object(backend, location)
            change = after_write(Usage(), found[0] if found else None, size)
            bound = found is None or found[2]  # an SSE-C object (no HEAD) goes unbound
            if bound:
                replacing = _replacing(found[1] if found else None)
                request = dataclasses.replace(request, conditions=replacing)

            async def landed_all_the_same(error: S3Error) -> Usage:
                return await landed(backend, location, size, error, change)

            write = partial(put, request)
            try:
                return await self._guard(scopes, location, change, write, landed_all_the_same)
            except S3Error as error:
                if not bound or error.code not in (*TARGET_REFUSALS, NO_OBJECT):
                    raise
                raise S3Error(S3ErrorCode.SlowDown) from None  # another write came in between

    async def completed_bound(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        upload_id: str,
        size: int,
        parts: int,
        complete: Callable[[WriteConditions | None], Awaitable[T]],
    ) -> T:
        """:meth:`guarded` for a Complete the client sent without a condition, on an upstream
        that checks a Complete's conditions (SeaweedFS, S3): it is sent bound to what its HEAD
        read, ``If-None-Match: *`` over no object, else ``If-Match`` its ETag, so that it
        counts the object it replaced. Two Completes of one upload through two replicas at
        once both read no object and both completed (SeaweedFS answers 200 to a Complete of an
        upload already completed), and both freed the parts and counted the object. The upload
        is asked for (ListParts, one entry) after the HEAD: a Complete that ended it before the
        HEAD is seen there (NoSuchUpload: the caller answers that one's object,
        :func:`.upload_gone.after_failed_complete`), and one that ends it after the HEAD makes
        the bound Complete fail 412, whose upload is then found gone likewise; either way
        nothing is counted twice. A 412 whose upload is still there met another write of the
        key after the HEAD: read again and sent again, the last of :data:`BIND_TRIES` unbound
        (counted as its HEAD read, as before)."""
        backend = self._backends[location.upstream]
        async with self._writing.hold([(location.upstream, location.bucket, location.key)]):
            for tries in range(BIND_TRIES, 0, -1):
                found = await current_object(backend, location)
                change = completed(found[0] if found else None, size, parts)
                bound = None
                if tries > 1 and (found is None or found[2]):  # an SSE-C object goes unbound
                    bound = _replacing(found[1] if found else None)
                    # Still open after the HEAD? Else the HEAD may have read the object another
                    # replica's Complete of it made, and a bound Complete would pass.
                    await backend.list_parts(location.bucket, location.key, upload_id, 0, 1)

                async def landed_all_the_same(error: S3Error, change: Usage = change) -> Usage:
                    return await landed(backend, location, size, error, change)

                write = partial(complete, bound)
                try:
                    return await self._guard(scopes, location, change, write, landed_all_the_same)
                except S3Error as error:
                    if bound is None or error.code not in TARGET_REFUSALS:
                        raise
                try:  # the key changed since the HEAD: this upload's other Complete, or a write
                    await backend.list_parts(location.bucket, location.key, upload_id, 0, 1)
                except S3Error as gone:
                    if gone.code is S3ErrorCode.NoSuchUpload:
                        raise gone from None
                    raise
        raise AssertionError("unreachable: the last try goes unbound")  # pragma: no cover

    async def copied(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        source: ObjectInfo,
        copy: Callable[[], Awaitable[CopyObjectOutput]],
    ) -> CopyObjectOutput:
        """:meth:`copied_from` a source already HEADed (``source``)."""

        async def head() -> ObjectInfo:
            return source

        return await self.copied_from(scopes, location, head, lambda _, __: copy())

    async def copied_from(
        self,
        scopes: tuple[QuotaScope, ...],
        location: UpstreamLocation,
        head: Callable[[], Awaitable[ObjectInfo]],
        copy: Callable[[ObjectInfo, WriteConditions | None], Awaitable[CopyObjectOutput]],
        binds: bool = False,
    ) -> CopyObjectOutput:
        """:meth:`guarded` for a CopyObject, checked against its source's size: ``head`` (the
        source's HEAD) is made under the target key's turn, right before the check, and
        ``copy`` is given what it saw (:mod:`.bound_copy` binds the copy to its ETag). The
        source is another key, whose overwrite may come between that HEAD and the copy: a copy
        whose ETag is not the source's (also any copy of a multipart object, whose ETag a copy
        may recompute) is sized by a HEAD of the target, under its key's turn, so that what it
        counts is what it stored.

        ``binds`` (the client sent no condition on the target of its own): ``copy`` is also
        given the condition that it replaces what the target's HEAD read, as :meth:`put_bound`
        sends a PUT (None for an SSE-C target, read from its listing): two copies onto one key
        through two replicas at once both counted the object their HEAD read replaced. A copy
        refused 412 (or 404 NoSuchKey: an ``If-Match`` over an object deleted meanwhile) whose
        target is no longer what that HEAD read met another write of it, as one refused 409
        ConditionalRequestConflict (S3) did: :class:`TargetChanged`, nothing counted; a copy
        has no body, so :func:`.bound_copy.bound_tries` sends it again after new HEADs. Any
        other refusal (the source's) is the caller's to judge."""
        async with self._writing.hold([(location.upstream, location.bucket, location.key)]):
            backend = self._backends[location.upstream]
            target = await current_object(backend, location)
            replaced = target[0] if target else None
            source = await head()
            change = after_write(Usage(), replaced, source.size)
            bound = None
            if binds and (target is None or target[2]):  # an SSE-C object goes unbound
                bound = _replacing(target[1] if target else None)

            async def found(error: S3Error) -> Usage:
                return await landed(backend, location, source.size, error, change)

            async def stored(result: CopyObjectOutput) -> Usage:
                if _bare(result.etag) == _bare(source.etag):
                    return change
                try:
                    size = await head_size(backend, location)
                except S3Error:
                    return change
                return change if size is None else after_write(Usage(), replaced, size)

            write = partial(copy, source, bound)
            try:
                return await self._guard(scopes, location, change, write, found, stored)
            except S3Error as error:
                if bound is None or error.code not in (*TARGET_REFUSALS, NO_OBJECT):
                    raise
                if error.code is not S3ErrorCode.ConditionalRequestConflict:
                    now = await current_object(backend, location)
                    if _etag_of(now) == _etag_of(target):
                        raise  # the target is as its HEAD read it: not its condition
                raise TargetChanged from None


class TargetChanged(S3Error):
    """A copy bound to what its target's HEAD read was refused: another write of the target
    came in between (:meth:`BoundWrites.copied_from`). S3's retryable 503 SlowDown, should it
    be the answer: :func:`.bound_copy.bound_tries` first sends the copy again."""

    def __init__(self) -> None:
        super().__init__(S3ErrorCode.SlowDown)


def _etag_of(found: tuple[int, str, bool] | None) -> str | None:
    return None if found is None else _bare(found[1])


def _replacing(etag: str | None) -> WriteConditions:
    """The condition that a write replaces the object a HEAD read (``etag``; None: none)."""
    return WriteConditions(if_none_match="*") if etag is None else WriteConditions(if_match=etag)


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()
