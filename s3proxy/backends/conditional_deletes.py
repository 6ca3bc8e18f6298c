"""Deletes a client makes conditional (``If-Match`` on DeleteObject, ``<ETag>`` in an entry of
DeleteObjects), and a quota tenant's DeleteObjects bound to the objects its HEADs read.

**S3's answers** (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html,
and S3 as measured by others): an If-Match naming the current object's ETag, or ``*`` with an
object there, deletes it (204); another ETag is 412 PreconditionFailed; no object at all is
404 NoSuchKey, whatever the value. In DeleteObjects the same per entry (``<Error>`` with
PreconditionFailed or NoSuchKey, the other keys deleted).

**Where it is carried out.** The local store checks the condition in the delete's own
transaction. An S3 upstream must refuse a DELETE whose If-Match fails, and a DeleteObjects
entry whose ETag fails: SeaweedFS 4.48 does both (measured; a missing key is 412 there, read
again here to answer S3's 404), Ceph RGW 16 ignores both and deletes (measured: a wrong ETag
deletes). A HEAD before an unconditional delete would not be atomic, so on such an upstream a
conditional delete is refused with 501 NotImplemented before anything is deleted. Which
upstreams: a probe, once per process and upstream, on the first conditional delete, as for a
conditional Complete (:mod:`.complete_conditions`): it writes an empty object at
``home.prefix + ".delete-probe"`` (README, "The upstream layout") and deletes it, once alone and
once in a DeleteObjects, under an ETag it does not have; an upstream that refuses both keeps it.
A tenant without a home on the target's upstream cannot be probed for: 501 likewise.

On an S3 upstream a conditional DeleteObject HEADs the key and sends the delete bound to the
ETag read, once the client's condition holds for it (:func:`.quota_writes.delete_counted`), so
the answer is S3's on every upstream that honours If-Match (SeaweedFS answers 412 for a missing
key) and a quota tenant counts only what it deleted. A DeleteObjects entry goes upstream with
the client's ETag as sent; a quota tenant's keys go with the ETags their HEADs read
(:func:`removed_bound`): an entry whose ETag the upstream refuses was changed or deleted by
another replica since, and is deleted again alone, counted only where that holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from s3proxy.backends.base import Backend
from s3proxy.backends.local.conditions import check_write
from s3proxy.backends.probed_once import ProbedOnce
from s3proxy.backends.quota_writes import MatchingDeletes, delete_counted
from s3proxy.backends.records import RACED, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation, UpstreamRoot
from s3proxy.model import DeleteResult, WriteConditions

if TYPE_CHECKING:
    from s3proxy.backends.usage_writes import WritingBook
    from s3proxy.model import QuotaScope


PROBE = ".delete-probe"
"""Under the tenant's home prefix: the object the probe's conditional deletes must not remove
(a name no bucket can take, as bucket names never start with ".")."""
WRONG_ETAG = '"00000000000000000000000000000000"'


@runtime_checkable
class MatchingBatches(Protocol):
    """A backend whose DeleteObjects takes a per-key ETag (S3Upstream, LocalStore)."""

    async def delete_objects_matching(
        self, bucket: str, keys: list[str], etags: Sequence[str | None]
    ) -> list[DeleteResult]: ...


def checked_here(backend: Backend) -> bool:
    """Whether ``backend`` checks a delete's condition itself, atomically (the local store)."""
    return getattr(backend, "checks_delete_conditions", False) is True


async def require_checked(
    backends: Mapping[str, Backend], tenant: TenantLayout, upstream: str
) -> None:
    """Return when a conditional delete on ``upstream`` is carried out exactly; else 501
    NotImplemented naming If-Match (also when no probe can tell)."""
    backend = backends.get(upstream)
    if backend is None or checked_here(backend):
        return
    known = _can_bind(backend) and await _LEARNT.learnt(backend, upstream, tenant.home)
    if not known:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Conditional deletes are not supported by this storage.",
            Header="If-Match",
        )


async def deletes_bound(backend: Backend, home: UpstreamRoot) -> bool:
    """Whether ``backend``, the upstream of ``home``, refuses a DELETE whose ``If-Match`` fails
    (probed in ``home`` the first time): an upload claim left by a dead holder is removed
    bound to its ETag only there (:mod:`.upload_claims`)."""
    if checked_here(backend):
        return True
    return _can_bind(backend) and await _LEARNT.learnt(backend, home.upstream, home)


def _can_bind(backend: Backend) -> bool:
    return isinstance(backend, MatchingDeletes) and isinstance(backend, MatchingBatches)


async def _probe(backend: Backend, bucket: str, prefix: str) -> bool:
    """Whether ``backend`` keeps an object that a DELETE and a DeleteObjects entry name with an
    ETag it does not have (the probe object)."""
    assert isinstance(backend, MatchingDeletes) and isinstance(backend, MatchingBatches)
    key = prefix + PROBE
    await write_record(backend, bucket, key)
    try:  # (NoSuchKey: another process's probe deleted it meanwhile, and this one refused)
        await backend.delete_matching(bucket, key, WRONG_ETAG)
    except S3Error as error:
        if error.code not in RACED and error.code is not S3ErrorCode.NoSuchKey:
            raise
    else:
        return False  # deleted under a failing If-Match
    results = await backend.delete_objects_matching(bucket, [key], [WRONG_ETAG])
    return all(result.error in _CHANGED for result in results)


async def delete_one(backend: Backend, location: UpstreamLocation, if_match: str) -> None:
    """A DeleteObject under the client's ``If-Match``, on an upstream that :func:`require_checked`
    passed (no quota: what it frees is not counted)."""
    if checked_here(backend):
        assert isinstance(backend, MatchingDeletes)
        await backend.delete_matching(location.bucket, location.key, if_match)
    else:
        await delete_counted(backend, location, if_match)


async def delete_batch(
    backend: Backend, bucket: str, keys: list[str], etags: Sequence[str | None]
) -> list[DeleteResult]:
    """DeleteObjects with the client's per-key ETags (no quota)."""
    if not any(etag is not None for etag in etags):
        return await backend.delete_objects(bucket, keys)
    assert isinstance(backend, MatchingBatches)  # require_checked passed
    return await backend.delete_objects_matching(bucket, keys, etags)


async def delete_entries(
    usage: WritingBook | None,
    scopes: tuple[QuotaScope, ...],
    backend: Backend,
    where: UpstreamLocation,
    keys: list[str],
    etags: Sequence[str | None],
) -> list[DeleteResult]:
    """DeleteObjects of ``keys`` in ``where.bucket`` (``etags``: the client's, per key), freeing
    what the deleted objects counted for a quota tenant (``usage``, its book)."""
    if usage is None:
        return await delete_batch(backend, where.bucket, keys, etags)
    locations = [dataclasses.replace(where, key=key) for key in keys]
    return await usage.removed_bound(scopes, backend, locations, etags)


async def removed_bound(
    book: WritingBook,
    scopes: tuple[QuotaScope, ...],
    backend: Backend,
    locations: list[UpstreamLocation],
    etags: Sequence[str | None],
) -> list[DeleteResult]:
    """A quota tenant's DeleteObjects on an S3 upstream (keys held by the caller): each key
    with an object goes bound to the ETag its HEAD read, after the client's own ETag (if any)
    held for it; what the upstream deleted frees what its HEAD read. A key whose bound delete
    the upstream refused (replaced or deleted by another replica meanwhile) is deleted alone,
    as a DeleteObject (:func:`.quota_writes.delete_counted`). On an upstream that ignores the
    ETag (Ceph RGW 16) every key is deleted and counted as read, as before."""
    found = await book.looked_up(locations)
    results: dict[str, DeleteResult] = {}
    sent: list[int] = []
    bound: list[str | None] = []
    for at, location in enumerate(locations):
        wanted, entry = etags[at] if at < len(etags) else None, found[at]
        if wanted is not None:
            try:
                check_write(WriteConditions(if_match=wanted), entry[1] if entry else None)
            except S3Error as error:
                results[location.key] = DeleteResult(location.key, error.code.name)
                continue
        sent.append(at)
        bound.append(entry[1] if entry is not None and entry[2] else None)
    keys = [locations[at].key for at in sent]
    answers: list[DeleteResult] = []
    if keys:
        if isinstance(backend, MatchingBatches):
            answers = await backend.delete_objects_matching(locations[0].bucket, keys, bound)
        else:
            answers = await backend.delete_objects(locations[0].bucket, keys)
    by_key = {answer.key: answer for answer in answers}
    for at, etag in zip(sent, bound, strict=True):
        location = locations[at]
        answer = by_key.get(location.key, DeleteResult(location.key, "InternalError"))
        entry = found[at]
        size = entry[0] if entry is not None else None
        if etag is not None and answer.error in _CHANGED:  # another replica came first
            wanted = etags[at] if at < len(etags) else None
            try:
                size = await delete_counted(backend, location, wanted)
            except S3Error as error:
                if error.status >= 500:
                    raise
                results[location.key] = DeleteResult(location.key, error.code.name)
                continue
            answer = DeleteResult(location.key)
        if answer.error is None and size is not None:
            book.free(scopes, location, size)
        results[location.key] = answer
    return [results[location.key] for location in locations if location.key in results]


_CHANGED = (*(code.name for code in RACED), S3ErrorCode.NoSuchKey.name)
"""A DeleteObjects entry refused for its ETag: another ETag there, no object, or (AWS S3's
409) a write or delete of the key in flight."""


_LEARNT = ProbedOnce(
    _probe,
    "upstream %s ignores If-Match on DeleteObject or ETag in DeleteObjects: conditional "
    "deletes are refused (501)",
)
