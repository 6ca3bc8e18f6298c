"""A CopyObject's source HEAD, its ``x-amz-copy-source-if-*`` check, and, for a quota tenant,
the copy bound to what that HEAD saw.

A quota tenant's copy is admitted against the size the source's HEAD showed. Were the copy sent
as asked, a source overwritten (grown) between that HEAD and the copy would be copied all the
same, and many copies at once could each pass the quota by what their sources grew. So the
copy is sent with ``x-amz-copy-source-if-match: <the HEAD's ETag>`` (where the client sent its
own If-Match, that one already binds it): the bytes copied are the bytes checked. That HEAD
is made under the target key's turn (:meth:`.bound_writes.BoundWrites.copied_from`), right
before the check, so the window in which an overwrite fails the copy is short. A 412 that
only the gateway's own condition caused is never the client's answer: the source is HEADed
again and the copy checked and sent again (a few times; a source that keeps changing is 503,
as a copy through the gateway answers). The copy is bound to its target's HEAD too
(``If-Match`` / ``If-None-Match: *``, :meth:`.bound_writes.BoundWrites.copied_from`), so two
copies onto one key through two replicas at once cannot both count its old object replaced: the
one refused is sent again after new HEADs; a target that keeps changing is 503 SlowDown. Where
a server-side copy ignores that condition (Ceph RGW 16) it is counted as before. A range-less
UploadPartCopy is bound to its source the same way (:func:`bound_part_copy`). Tenants without
a quota are copied as asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from s3proxy.backends.base import Backend
from s3proxy.backends.bound_writes import TargetChanged
from s3proxy.backends.copy_checksum import CopyChecksum, copy_checksum
from s3proxy.backends.copy_etag import MAX_COPY_SOURCE, TOO_LARGE, keeps_wrong_etag
from s3proxy.backends.usage_records import UsageBook
from s3proxy.checksums import object_checksums
from s3proxy.conditions import any_condition, copy_source_failed, sent_source_conditions
from s3proxy.copy_charge import charge_copy, debt_paid, handed_over
from s3proxy.copy_errors import naming_the_source
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    CopyObjectInput,
    CopyObjectOutput,
    ObjectInfo,
    ReadConditions,
    UploadPartCopyInput,
    WriteConditions,
)

R = TypeVar("R")
TRIES = 3
"""Copies sent per request when the gateway's own condition fails (the source overwritten
between its HEAD and the copy each time), or its target by another replica."""
CHANGED = "The copy source changed during the copy."

Copy = Callable[[CopyObjectInput, bool, CopyChecksum], Awaitable[CopyObjectOutput]]
"""Sends the copy: (the upstream request, whether server-side may copy it, its checksums)."""


async def checked_copy(
    source_backend: Backend,
    source: UpstreamLocation,
    client_key: str,
    request: CopyObjectInput,
    same: bool,
    usage: UsageBook | None,
    target: UpstreamLocation,
    copy: Copy,
) -> CopyObjectOutput:
    """HEAD ``source`` (the copy's checksum, and its conditions checked here: Ceph RGW 16
    copies despite a failed If-Match), then ``copy``; for a quota tenant (``usage``), the HEAD
    is made under the target key's turn and the copy bound to its ETag and counted by
    ``usage``. ``same``: both ends share an upstream."""
    asked = request.source_conditions
    read = ReadConditions(customer_key=asked.customer_key)
    copy = _handed_over(copy)

    async def head() -> ObjectInfo:
        with naming_the_source(client_key):
            return await source_backend.head_object(source.bucket, source.key, read, True)

    async def prepared(info: ObjectInfo, binds: bool) -> tuple[CopyObjectInput, bool, CopyChecksum]:
        """The copy to send for the source ``info`` shows: its checksums, and whether
        server-side; bound to ``info``'s ETag when ``binds`` and the upstream honours it."""
        sums = copy_checksum(request.checksum_algorithm, object_checksums(info))
        if any_condition(asked) and copy_source_failed(asked, info.etag, info.last_modified):
            raise S3Error(S3ErrorCode.PreconditionFailed)
        if info.size > MAX_COPY_SOURCE:  # S3's limit: larger ones are copied in parts
            raise S3Error(S3ErrorCode.InvalidRequest, TOO_LARGE)
        # To the tenant's byte rate, before it is sent; under a key's turn without a wait
        # (debt_paid waited before the turn was taken).
        await charge_copy(info.size, wait=usage is None)
        if binds:
            conditions = dataclasses.replace(asked, if_match=info.etag)
        else:
            conditions = sent_source_conditions(asked, info.etag)
        # A multipart source copied server-side keeps its "-N" ETag on most upstreams, where
        # S3 gives the copy the MD5 of its bytes: such a copy passes through here (.copy_etag).
        server_side = same and not keeps_wrong_etag(info.etag, request, source_backend)
        if server_side and any_condition(conditions):
            # There, an upstream that ignores the conditions would copy an overwrite made after
            # that HEAD: the bytes pass through here, whose GET decides them.
            keeps = getattr(source_backend, "keeps_copy_conditions", None)
            server_side = keeps is None or await keeps(source.bucket, source.key)
            if binds and not server_side:
                # Not bound where only a copy through the gateway would honour it (Ceph RGW 16):
                # counted by what it stored (usage.copied_from), as before.
                conditions, server_side = asked, True
        return dataclasses.replace(request, source_conditions=conditions), server_side, sums

    if usage is None:
        return await copy(*await prepared(await head(), False))
    bound: list[str] = []  # the ETag each copy sent was bound to

    async def bound_copy(info: ObjectInfo, replacing: WriteConditions | None) -> CopyObjectOutput:
        if bound and info.etag == bound[-1]:
            # The source is the one the last copy was bound to: its 412 was the client's own.
            raise S3Error(S3ErrorCode.PreconditionFailed)
        sent, server_side, sums = await prepared(info, asked.if_match is None)
        if sent.source_conditions is not asked:
            bound.append(info.etag)
        if replacing is not None:  # bound to the target its HEAD read too (.bound_writes)
            sent = dataclasses.replace(sent, conditions=replacing)
        return await copy(sent, server_side, sums)

    book, scopes = usage, request.quota
    binds = request.conditions.if_match is None and request.conditions.if_none_match is None
    await debt_paid()  # not under the target key's turn, which copied_from takes
    return await bound_tries(
        bound, lambda: book.copied_from(scopes, target, head, bound_copy, binds)
    )


def _handed_over(copy: Copy) -> Copy:
    """``copy``, the copy handed to its store (:func:`~s3proxy.copy_charge.handed_over`): its
    target's refusals (its own ``If-None-Match: *``) may come after the work, and keep its
    charge, as does anything after the copy is made."""

    async def sent(request: CopyObjectInput, same: bool, sums: CopyChecksum) -> CopyObjectOutput:
        return await handed_over(copy(request, same, sums))

    return sent


async def bound_tries(bound: list[str], attempt: Callable[[], Awaitable[R]]) -> R:
    """``attempt`` again (at most :data:`TRIES` times) while it fails 412 after binding one
    more copy to a source ETag (appended to ``bound``), or fails its target's condition
    (:class:`~.bound_writes.TargetChanged`): a refusal only the gateway's own conditions
    caused; any other failure is the answer. A source that keeps changing is 503
    ServiceUnavailable, a target that keeps changing 503 SlowDown (as a bound PUT's)."""
    last = S3Error(S3ErrorCode.ServiceUnavailable, CHANGED)
    for _ in range(TRIES):
        tried = len(bound)
        try:
            return await attempt()
        except TargetChanged as changed:  # the target's own condition: the source's held
            del bound[tried:]
            last = changed
        except S3Error as error:
            if error.code is not S3ErrorCode.PreconditionFailed or len(bound) == tried:
                raise  # not the gateway's own condition
            last = S3Error(S3ErrorCode.ServiceUnavailable, CHANGED)
    raise last


async def bound_part_copy(
    source_backend: Backend,
    source: UpstreamLocation,
    client_key: str,
    request: UploadPartCopyInput,
    usage: UsageBook,
    target: UpstreamLocation,
    copy: Callable[[UploadPartCopyInput], Awaitable[CopyObjectOutput]],
) -> CopyObjectOutput:
    """A quota tenant's range-less UploadPartCopy (``request``, upstream names) on an S3
    upstream, as :func:`checked_copy` binds a CopyObject: the source's HEAD under the part's
    turn (:meth:`.usage_writes.WritingBook.part_guarded`), its size checked, the client's
    conditions checked on it, and ``copy`` sent with ``x-amz-copy-source-if-match: <its
    ETag>`` unless the client sent its own If-Match, or the copy is server-side on an upstream
    whose part copies ignore it (Ceph RGW 16: there it stays unbound, read back by ListParts)."""
    asked = request.source_conditions
    binds = asked.if_match is None
    if binds and source.upstream == target.upstream:
        keeps = getattr(source_backend, "keeps_copy_conditions", None)
        binds = keeps is None or await keeps(source.bucket, source.key)
    read = ReadConditions(customer_key=asked.customer_key)
    bound: list[str] = []  # the ETag each copy sent was bound to
    seen: list[ObjectInfo] = []

    async def size() -> int:
        with naming_the_source(client_key):
            info = await source_backend.head_object(source.bucket, source.key, read)
        if bound and info.etag == bound[-1]:
            # The source is the one the last copy was bound to: its 412 was the client's own.
            raise S3Error(S3ErrorCode.PreconditionFailed)
        if any_condition(asked) and copy_source_failed(asked, info.etag, info.last_modified):
            raise S3Error(S3ErrorCode.PreconditionFailed)
        await charge_copy(info.size, wait=False)  # debt_paid waited, before the part's turn
        seen.append(info)
        return info.size

    async def send() -> CopyObjectOutput:
        if not binds:
            return await copy(request)
        bound.append(seen[-1].etag)
        conditions = dataclasses.replace(asked, if_match=seen[-1].etag)
        return await copy(dataclasses.replace(request, source_conditions=conditions))

    where = (request.upload_id, request.part_number)
    await debt_paid()  # not under the part's turn, which part_guarded takes
    return await bound_tries(
        bound,
        lambda: usage.part_guarded(request.quota, target, *where, size, send, read_back=True),
    )
