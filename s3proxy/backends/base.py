"""The one storage interface that the S3 upstream and the local store both implement.

Backends speak in upstream terms (a bucket and a key they actually store) and the project's
own value types; they never see client credentials, client bucket names or HTTP requests.
They translate their own failures into :class:`~s3proxy.errors.S3Error` at their boundary, with
messages that name nothing upstream.
"""

from __future__ import annotations

from typing import Protocol

from s3proxy import readiness
from s3proxy.backends.credentials import CredentialsRefused, CredentialsUnavailable
from s3proxy.errors import S3Error
from s3proxy.model import (
    ByteRange,
    CompleteMultipartInput,
    CompleteMultipartOutput,
    CopyObjectInput,
    CopyObjectOutput,
    CreateMultipartInput,
    DeleteResult,
    GetObjectOutput,
    ListPage,
    ObjectInfo,
    PartsPage,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
    Tags,
    UploadPartCopyInput,
    UploadPartInput,
    UploadsPage,
)


class NotReady(Exception):
    """What a readiness probe found, named for the operator who must fix it: ``NoSuchBucket``,
    ``AuthFailure`` (the upstream refused the gateway's credentials or signature),
    ``Unreachable`` (no answer), ``CredentialsUnavailable`` (none on this replica),
    ``CredentialsRefused`` (a credential endpoint such as STS refused them), or
    ``UpstreamError`` with the upstream's status."""

    def __init__(self, condition: str, detail: str = "") -> None:
        self.condition = condition
        self.detail = detail
        super().__init__(f"{condition}: {detail}" if detail else condition)

    @classmethod
    def unreachable(cls, error: S3Error) -> NotReady:
        """A probe that failed before any answer: ``Unreachable`` (no connection: shared by every
        replica), ``CredentialsUnavailable`` when this replica has no credentials to sign with
        (its own: :data:`s3proxy.readiness.OWN_CONDITIONS`), or ``CredentialsRefused`` when a
        credential endpoint answered and refused them (an STS AccessDenied)."""
        if isinstance(error, CredentialsUnavailable):
            return cls(readiness.CREDENTIALS_UNAVAILABLE, error.detail)
        if isinstance(error, CredentialsRefused):  # shared, like AuthFailure
            return cls(readiness.CREDENTIALS_REFUSED, error.detail)
        return cls("Unreachable", error.message)


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
        part_number: int | None = None,
    ) -> GetObjectOutput:
        """The object, a range of it, or part ``part_number`` of it (``?partNumber=``)."""
        ...

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
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

    async def get_object_tagging(self, bucket: str, key: str) -> Tags:
        """The object's tags (empty when it has none); NoSuchKey when there is no object."""
        ...

    async def put_object_tagging(self, bucket: str, key: str, tags: Tags) -> None:
        """Replace the object's tags; an empty set removes them. NoSuchKey as above."""
        ...

    # -- multipart uploads: ids here are the upstream's, never the client's tokens ------------

    async def create_multipart_upload(self, request: CreateMultipartInput) -> str:
        """Start an upload; its upstream upload id."""
        ...

    async def upload_part(self, request: UploadPartInput) -> str:
        """Store one part; its ETag. As with put_object, a body that fails verification must
        leave no part behind (the upload stays usable, the client retries the part)."""
        ...

    async def upload_part_copy(self, request: UploadPartCopyInput) -> CopyObjectOutput:
        """A part copied server-side from an object of this backend."""
        ...

    async def complete_multipart_upload(
        self, request: CompleteMultipartInput
    ) -> CompleteMultipartOutput:
        """Assemble the object; on failure nothing may become visible under the key. The
        ETag returned is never empty."""
        ...

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None: ...

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int, max_parts: int
    ) -> PartsPage: ...

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        """One page of uploads under ``prefix``, sorted by key as S3 sorts them."""
        ...

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        """Whether any multipart upload is in progress under ``prefix``."""
        ...

    async def check_ready(self, bucket: str) -> None:
        """Raise :class:`NotReady` (or an S3Error) if the backend cannot serve ``bucket`` now
        (readiness probe)."""
        ...

    async def close(self) -> None: ...
