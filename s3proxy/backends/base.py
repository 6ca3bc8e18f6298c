"""The one storage interface that the S3 upstream and the local store both implement.

Backends speak in upstream terms (a bucket and a key they actually store) and the project's
own value types; they never see client credentials, client bucket names or HTTP requests.
They translate their own failures into :class:`~s3proxy.errors.S3Error` at their boundary, with
messages that name nothing upstream.
"""

from __future__ import annotations

from typing import Protocol

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
    ReadConditions,
)


class Backend(Protocol):
    name: str

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        """Store the body under (bucket, key). The body iterator raises if verification fails;
        the backend must then leave the previous object in place."""
        ...

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
    ) -> GetObjectOutput: ...

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
    ) -> ObjectInfo: ...

    async def delete_object(self, bucket: str, key: str) -> None: ...

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        """One page of keys under ``prefix`` in UTF-8 byte order, S3 ListObjectsV2 semantics."""
        ...

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        """Server-side copy within this backend (no bytes through the proxy)."""
        ...

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]: ...

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        """Whether any multipart upload is in progress under ``prefix``."""
        ...

    async def check_ready(self, bucket: str) -> None:
        """Raise if the backend cannot serve ``bucket`` now (readiness probe)."""
        ...

    async def close(self) -> None: ...
