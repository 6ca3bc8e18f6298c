"""A copy source granted by its object's own ACL alone, read only as the very object the ACL
was set on (:mod:`s3proxy.granted_reads`, wave 14 C).

Another tenant's ``public-read`` or ``authenticated-read`` object in a bucket that grants the
caller nothing is one S3 lets the caller copy (CopyObject, UploadPartCopy). Its record
(:mod:`s3proxy.object_acl`) grants one object, named by its ETag and Last-Modified; an
overwrite of the key is private again. A server-side copy never shows which object it copied,
and S3's copy conditions cannot pin both validators (a passing ``If-Match`` overrides a failing
``If-Unmodified-Since``), so an overwrite with the same bytes and new metadata would be copied
under the old grant. So such a copy is never server-side: every read of the source goes
through :class:`PinnedBackend`, which answers only when the upstream's answer names the
recorded object (the check anonymous and granted GETs make on their response), and the bytes
pass through the gateway into the caller's own write. The metadata copied is that GET's, so
it is the granted object's too; its tags are not the caller's to copy (an ACL's READ is not
s3:GetObjectTagging: :func:`s3proxy.handlers.object_copy.foreign_tags` refuses a tagged
source, since wave 15), and should a read of them ever reach here, they are kept only when a
HEAD after them still finds the recorded object. Anything else —
the key overwritten or deleted since the grant was checked — is the caller's own refusal
again (``refused``), exactly as a GET of it would be. The client's own
``x-amz-copy-source-if-*`` are decided by the copy on the answers read here (the gateway
does that for every copy through it), so the upstream never judges them against an object
the caller may not read.

Only this path pays: a copy whose source's bucket grants the read is unchanged (server-side
on a shared upstream).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, cast

from s3proxy.errors import S3Error
from s3proxy.model import ObjectInfo, ReadConditions

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend
    from s3proxy.backends.mapped import MappedStorage
    from s3proxy.layout import UpstreamLocation
    from s3proxy.model import GetObjectOutput
    from s3proxy.object_acl import ObjectAcl

ELSEWHERE = "\x00pinned"
"""Appended to the source location's upstream name, so no copy takes it for the target's own
upstream and copies server-side (the bytes must pass the check here)."""


class _Pin:
    """The check shared by the storage and backend wrappers."""

    def __init__(self, record: ObjectAcl, refused: S3Error) -> None:
        self.record = record
        self.refused = refused

    def check(self, info: ObjectInfo) -> None:
        if not self.record.matches(info.etag, info.last_modified):
            raise self.refused

    async def checked_get(self, got: GetObjectOutput) -> GetObjectOutput:
        try:
            self.check(got.info)
        except S3Error:
            await got.aclose()
            raise
        return got


def _unconditional(conditions: ReadConditions) -> ReadConditions:
    """The read without the client's ``If-*``: the copy decides them on the answer, once it
    is known to be the granted object's."""
    return ReadConditions(customer_key=conditions.customer_key)


class _PinnedReads:
    """GET and HEAD through ``_inner`` (a backend or a tenant's storage), answered only for the
    recorded object; everything not read here is passed through unchanged."""

    def __init__(self, inner: Any, pin: _Pin) -> None:
        self._inner = inner
        self._pin = pin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: Any,
        conditions: ReadConditions,
        *rest: Any,
        **named: Any,
    ) -> GetObjectOutput:
        got = await self._inner.get_object(
            bucket, key, byte_range, _unconditional(conditions), *rest, **named
        )
        return await self._pin.checked_get(got)

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, *rest: Any, **named: Any
    ) -> ObjectInfo:
        """As the copy's 412 names its failed condition: of the granted object only."""
        info = await self._inner.head_object(
            bucket, key, _unconditional(conditions), *rest, **named
        )
        self._pin.check(info)
        return cast("ObjectInfo", info)


class PinnedBackend(_PinnedReads):
    """The source's upstream, answering only for the recorded object."""

    async def list_objects(self, *args: Any, **named: Any) -> Any:
        """Never: a listing would show the key's entry whatever object it is now (a HEAD
        refused here falls back to one for a part copy's size)."""
        raise self._pin.refused

    async def get_object_tagging(self, bucket: str, key: str) -> Any:
        tags = await self._inner.get_object_tagging(bucket, key)
        await self.head_object(bucket, key, ReadConditions())  # still the granted object
        return tags


class PinnedSource(_PinnedReads):
    """Another tenant's storage as a copy source granted by ``record`` alone."""

    def __init__(self, storage: MappedStorage, record: ObjectAcl, refused: S3Error) -> None:
        super().__init__(storage, _Pin(record, refused))

    async def existing(self, bucket: str, key: str) -> tuple[Backend, UpstreamLocation]:
        backend, location = await self._inner.existing(bucket, key)
        apart = dataclasses.replace(location, upstream=location.upstream + ELSEWHERE)
        return cast("Backend", PinnedBackend(backend, self._pin)), apart


def pinned(storage: MappedStorage, record: ObjectAcl, refused: S3Error) -> MappedStorage:
    """``storage`` read as the source of a copy that ``record`` alone grants."""
    return cast("MappedStorage", PinnedSource(storage, record, refused))
