"""A tenant's view of storage: client (bucket, key) in, upstream location applied, backend called.

This is the only place where :mod:`s3proxy.layout` meets a backend; handlers above it speak
client names only, backends below it upstream names only (after gaul/s3proxy's blob-store
wrappers). Which of a tenant's buckets exist is :class:`~s3proxy.backends.buckets.BucketRegistry`'s
business; listing over shards is :mod:`s3proxy.listing`'s; where each client name lives
upstream (ownership, roots, key encodings, locations) is the base class's
(:mod:`s3proxy.backends.mapped_locations`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

from s3proxy import sse
from s3proxy.backends.base import Backend
from s3proxy.backends.bound_copy import checked_copy
from s3proxy.backends.bucket_race import kept_or_undone
from s3proxy.backends.bucket_removal import remove_bucket
from s3proxy.backends.class_records import ClassRecords
from s3proxy.backends.conditional_deletes import delete_entries, delete_one, require_checked
from s3proxy.backends.copy_checksum import CopyChecksum
from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.backends.mapped_locations import MappedLocations
from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.part_copy import copy_object_through
from s3proxy.backends.wire import http_date
from s3proxy.conditions import (
    failed_condition,
    upstream_conditions,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import (
    TenantLayout,
    UnstorableKey,
    UpstreamLocation,
    UpstreamRoot,
    absent_delete,
    absent_if_unstorable,
)
from s3proxy.listing import ListQuery, MergedPage, merge_listing
from s3proxy.model import (
    ByteRange,
    CopyObjectInput,
    CopyObjectOutput,
    DeleteResult,
    GetObjectOutput,
    ListPage,
    ObjectInfo,
    PutObjectInput,
    PutObjectOutput,
    QuotaScope,
    ReadConditions,
    Tags,
)
from s3proxy.quotas import QuotaPolicy, UsageCounter


class MappedStorage(MappedLocations):
    def __init__(
        self,
        tenant: TenantLayout,
        backends: Mapping[str, Backend],
        digits: int,
        foreign_buckets: frozenset[str] = frozenset(),
        encodings: KeyEncodings | None = None,
        quotas: QuotaPolicy | None = None,
    ) -> None:
        super().__init__(tenant, backends, digits, foreign_buckets, encodings, quotas)
        self.uploads = MappedUploads(self, backends)
        self.classes = ClassRecords(self)
        """Classes an S3 upstream does not offer, kept by the proxy (.class_records)."""

    # -- objects -----------------------------------------------------------------------------

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        looked_at = self.buckets.cache.current()  # a DeleteBucket meanwhile: bucket_race
        backend, location = await self.existing(request.bucket, request.key)
        scopes = self.quota_scopes(request.bucket)
        if scopes and isinstance(backend, UsageCounter):  # before any body byte moves
            await backend.check_quota(scopes, location.bucket, location.key, request.content_length)
        asked = request.storage_class
        classes = self.classes
        upstream_class = await classes.upstream_class(request.bucket, request.key, backend, asked)
        upstream_request = dataclasses.replace(
            request,
            bucket=location.bucket,
            key=location.key,
            quota=scopes,
            storage_class=upstream_class,
        )
        usage = self.usage_book(scopes, backend)
        if usage is not None:  # before any body byte moves, too
            put = backend.put_object  # bound to what its HEAD read (.usage_writes)
            result = await usage.put_bound(scopes, location, upstream_request, put)
        else:
            result = await backend.put_object(upstream_request)
        await kept_or_undone(
            self.buckets,
            request.bucket,
            looked_at,
            lambda: self.unwrite(scopes, backend, location),
        )
        await self.classes.written(request.bucket, request.key, backend, asked, result.etag)
        return result

    async def unwrite(
        self, scopes: tuple[QuotaScope, ...], backend: Backend, location: UpstreamLocation
    ) -> None:
        """Remove an object written into a bucket deleted meanwhile, and what it counted
        (:mod:`.bucket_race`)."""
        usage = self.usage_book(scopes, backend)
        delete = backend.delete_object
        if usage is not None:
            await usage.deleted(scopes, location)  # what it freed, under If-Match where it can
        else:
            await delete(location.bucket, location.key)

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput:
        with absent_if_unstorable():  # never stored: NoSuchKey
            backend, location = await self.existing(bucket, key)
        try:
            got = await backend.get_object(
                location.bucket,
                location.key,
                byte_range,
                upstream_conditions(conditions),
                checksum_mode,
                part_number,
            )
        except S3Error as error:
            raise await _with_validators(error, backend, location, conditions) from None
        failed = failed_condition(conditions, got.info.etag, got.info.last_modified)
        if failed is not None:  # the upstream ignored a condition: answer as S3 would
            await got.aclose()
            raise S3Error(failed, headers=_validators(got.info, failed))
        try:
            got.info = await self.classes.current(bucket, key, backend, got.info)
        except BaseException:
            await got.aclose()
            raise
        return got

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo:
        with absent_if_unstorable():  # never stored: NoSuchKey
            backend, location = await self.existing(bucket, key)
        try:
            info = await backend.head_object(
                location.bucket,
                location.key,
                upstream_conditions(conditions),
                checksum_mode,
                part_number,
            )
        except S3Error as error:
            raise await _with_validators(error, backend, location, conditions) from None
        failed = failed_condition(conditions, info.etag, info.last_modified)
        if failed is not None:
            raise S3Error(failed, headers=_validators(info, failed))
        return await self.classes.current(bucket, key, backend, info)

    async def delete_object(self, bucket: str, key: str, if_match: str | None = None) -> None:
        """``if_match``: the client's condition (:mod:`.conditional_deletes`)."""
        try:
            backend, location = await self.existing(bucket, key)
        except UnstorableKey:  # never stored: deleted, as S3 deletes a missing key
            absent_delete(if_match)
            return
        if if_match is not None:  # 501 where the upstream would delete unchecked
            await require_checked(self._backends, self.tenant, location.upstream)
        scopes = self.quota_scopes(bucket)
        usage = self.usage_book(scopes, backend)
        if usage is not None:
            await usage.deleted(scopes, location, if_match)  # what it freed, under If-Match
        elif if_match is not None:
            await delete_one(backend, location, if_match)
        else:
            await backend.delete_object(location.bucket, location.key)
        await self.classes.removed(bucket, [key], backend)

    async def get_object_tagging(self, bucket: str, key: str) -> Tags:
        with absent_if_unstorable():  # never stored: NoSuchKey
            backend, location = await self.existing(bucket, key)
        return await backend.get_object_tagging(location.bucket, location.key)

    async def put_object_tagging(self, bucket: str, key: str, tags: Tags) -> None:
        """Replace the object's tags (an empty set: DeleteObjectTagging)."""
        with absent_if_unstorable():  # never stored: NoSuchKey
            backend, location = await self.existing(bucket, key)
        await backend.put_object_tagging(location.bucket, location.key, tags)

    async def copy_object(
        self, request: CopyObjectInput, origin: MappedStorage | None = None
    ) -> CopyObjectOutput:
        """Server-side when both ends share an upstream, else streamed through the proxy.
        ``origin``: the source's storage when another tenant's grants it (s3proxy.granted_reads)."""
        looked_at = self.buckets.cache.current()  # a DeleteBucket meanwhile: bucket_race
        with absent_if_unstorable(request.source_key):  # never stored: NoSuchKey
            source_backend, source = await (origin or self).existing(
                request.source_bucket, request.source_key
            )
        backend, target = await self.existing(request.bucket, request.key)
        asked = request.storage_class
        mapped = dataclasses.replace(
            request,
            source_bucket=source.bucket,
            source_key=source.key,
            bucket=target.bucket,
            key=target.key,
            quota=self.quota_scopes(request.bucket),
            storage_class=await self.classes.upstream_class(
                request.bucket, request.key, backend, asked
            ),
        )
        same = source.upstream == target.upstream
        destination = request.conditions
        if (destination.if_match or destination.if_none_match) is not None and not getattr(
            backend, "checks_copy_conditions", False
        ):
            # The destination's If-Match / If-None-Match: Ceph RGW 16 ignores both on a copy (200,
            # the object replaced under If-None-Match: *), while every upstream checks them on a
            # PUT: the bytes pass through here, into a conditional PUT.
            same = False
        # The source's HEAD decides the copy's checksum and checks its conditions; a quota
        # tenant's copy is bound to that HEAD's ETag (.bound_copy).
        usage = self.usage_book(mapped.quota, backend)
        copy = functools.partial(_copy, source_backend, backend)
        result = await checked_copy(
            source_backend, source, request.source_key, mapped, same, usage, target, copy
        )
        await kept_or_undone(
            self.buckets, request.bucket, looked_at,
            lambda: self.unwrite(mapped.quota, backend, target),
        )  # fmt: skip
        await self.classes.written(request.bucket, request.key, backend, asked, result.etag)
        return result

    async def delete_objects(
        self, bucket: str, keys: list[str], etags: Sequence[str | None] = ()
    ) -> list[DeleteResult]:
        """Multi-delete: one upstream DeleteObjects call, results mapped back to client keys.
        ``etags``: the client's per-key conditions (:mod:`.conditional_deletes`)."""
        await self.buckets.require(bucket)
        encoding = await self.encoding(bucket)
        results: dict[str, DeleteResult] = {}
        upstream_keys: dict[str, str] = {}
        wanted: dict[str, str | None] = {}
        backend: Backend | None = None
        upstream_bucket = ""
        for at, key in enumerate(keys):
            try:
                self._check_reserved(bucket, key, encoding)
                backend, location = self.locate(bucket, key, encoding)
            except UnstorableKey:  # never stored: deleted, as S3 deletes a missing key
                results[key] = DeleteResult(key, "NoSuchKey" if any(etags[at : at + 1]) else None)
                continue
            except S3Error as error:
                results[key] = DeleteResult(key, error.code.name)
                continue
            upstream_bucket = location.bucket
            upstream_keys[location.key] = key
            wanted[location.key] = etags[at] if at < len(etags) else None
        if backend is not None and upstream_keys:
            if any(etag is not None for etag in wanted.values()):
                await require_checked(self._backends, self.tenant, location.upstream)
            where = UpstreamLocation(location.upstream, upstream_bucket, "")
            scopes = self.quota_scopes(bucket)
            usage = self.usage_book(scopes, backend)
            entries = list(upstream_keys), list(wanted.values())
            for result in await delete_entries(usage, scopes, backend, where, *entries):
                client_key = upstream_keys.get(result.key)
                if client_key is not None:
                    results[client_key] = DeleteResult(client_key, result.error)
            failed = {key for key, result in results.items() if result.error is not None}
            deleted = [key for key in upstream_keys.values() if key not in failed]
            await self.classes.removed(bucket, deleted, backend)
        return [results.get(key, DeleteResult(key)) for key in keys]

    # -- listing -----------------------------------------------------------------------------

    def shard_roots(self, root: UpstreamRoot) -> list[str]:
        if self._digits == 0:
            return [root.prefix]
        return [f"{root.prefix}{i:0{self._digits}x}/" for i in range(16**self._digits)]

    async def list_objects(self, bucket: str, query: ListQuery) -> MergedPage:
        root = self.root(bucket)
        await self.buckets.require(bucket)
        backend = self._backend(root.upstream)
        encoding = await self.encoding(bucket)
        # Under flat the upstream sees encoded names: the merge rolls up common prefixes.
        delimiter = query.delimiter if encoding == "plain" else None

        async def fetch(
            prefix: str, start_after: str | None, max_keys: int, token: str | None
        ) -> ListPage:
            return await backend.list_objects(
                root.bucket, prefix, delimiter, start_after, max_keys, token
            )

        whole = root.prefix if delimiter is None else None  # the shards' parent, listed alike
        page = await merge_listing(self.shard_roots(root), query, fetch, encoding, whole_root=whole)
        return await self.classes.listed(bucket, backend, query, page)

    async def delete_bucket(self, bucket: str) -> None:
        """Delete a created bucket with no objects, its uploads in progress aborted, as S3
        does (s3proxy.backends.bucket_removal); one with objects is BucketNotEmpty."""
        await remove_bucket(self, self._backends, bucket)


async def _copy(
    source: Backend,
    target: Backend,
    request: CopyObjectInput,
    same_upstream: bool,
    sums: CopyChecksum,
) -> CopyObjectOutput:
    """``sums``: the copy's checksum (:mod:`.copy_checksum`): a new one is summed here."""
    if same_upstream and sums.summed is None:
        try:
            result = await target.copy_object(request)
            return dataclasses.replace(result, checksums=sums.kept)
        except S3Error as error:
            # Ceph RGW 16 does not copy SSE-C objects (501): their bytes pass through here.
            if error.code is not S3ErrorCode.NotImplemented or not sse.customer_copy(request):
                raise
    return await copy_object_through(source, target, request, sums)


def _validators(info: ObjectInfo, answer: S3ErrorCode | None = None) -> dict[str, str]:
    if answer is S3ErrorCode.PreconditionFailed:  # a 412 carries neither, as a store's own
        return {}
    return {"ETag": info.etag, "Last-Modified": info.last_modified}


async def _with_validators(
    error: S3Error, backend: Backend, location: UpstreamLocation, conditions: ReadConditions
) -> S3Error:
    """A 304 carries the object's ETag and Last-Modified (an IMF-fixdate), as S3's does; some
    upstreams send neither (Ceph RGW 16) or no Last-Modified (SeaweedFS), so they are fetched
    (with the read's SSE-C key). A failed If-Unmodified-Since is 412 before any 304, as S3
    orders them; Ceph RGW 16 answered 304 when If-Modified-Since failed too."""
    if error.code is not S3ErrorCode.NotModified:
        return error
    modified = error.headers.get("Last-Modified")
    if "ETag" in error.headers and modified:
        shown = {"ETag": error.headers["ETag"], "Last-Modified": http_date(modified)}
    else:
        read = ReadConditions(customer_key=conditions.customer_key)
        shown = _validators(await backend.head_object(location.bucket, location.key, read))
    failed = failed_condition(conditions, shown["ETag"], shown["Last-Modified"])
    if failed is S3ErrorCode.PreconditionFailed:
        return S3Error(failed)
    return S3Error(S3ErrorCode.NotModified, headers={**error.headers, **shown})
