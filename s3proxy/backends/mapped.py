"""A tenant's view of storage: client (bucket, key) in, upstream location applied, backend called.

This is the only place where :mod:`s3proxy.layout` meets a backend; handlers above it speak
client names only, backends below it upstream names only (after gaul/s3proxy's blob-store
wrappers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from s3proxy.backends.base import Backend
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation, locate
from s3proxy.model import (
    ByteRange,
    GetObjectOutput,
    ObjectInfo,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
)


class MappedStorage:
    __slots__ = ("_backends", "_digits", "_foreign", "tenant")

    def __init__(
        self,
        tenant: TenantLayout,
        backends: Mapping[str, Backend],
        digits: int,
        foreign_buckets: frozenset[str] = frozenset(),
    ) -> None:
        self.tenant = tenant
        self._backends = backends
        self._digits = digits
        self._foreign = foreign_buckets
        """Buckets other tenants map explicitly: as in S3, someone else's bucket is AccessDenied."""

    def locate(self, bucket: str, key: str) -> tuple[Backend, UpstreamLocation]:
        if bucket in self._foreign and bucket not in self.tenant.buckets:
            raise S3Error(S3ErrorCode.AccessDenied)
        location = locate(self.tenant, bucket, key, self._digits)
        backend = self._backends.get(location.upstream)
        if backend is None:  # config validation makes this unreachable; never leak the name
            raise S3Error(S3ErrorCode.InternalError)
        return backend, location

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        backend, location = self.locate(request.bucket, request.key)
        upstream_request = dataclasses.replace(request, bucket=location.bucket, key=location.key)
        return await backend.put_object(upstream_request)

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
    ) -> GetObjectOutput:
        backend, location = self.locate(bucket, key)
        return await backend.get_object(
            location.bucket, location.key, byte_range, conditions, checksum_mode
        )

    async def head_object(
        self, bucket: str, key: str, conditions: ReadConditions, checksum_mode: bool = False
    ) -> ObjectInfo:
        backend, location = self.locate(bucket, key)
        return await backend.head_object(location.bucket, location.key, conditions, checksum_mode)

    async def delete_object(self, bucket: str, key: str) -> None:
        backend, location = self.locate(bucket, key)
        await backend.delete_object(location.bucket, location.key)
