"""The gateway's own small records upstream (bucket markers and settings, object ACLs, kept
storage classes, upload marks, quota usage, the key-encoding marker), read and written the one
way. Reading: a GET whose absence is an answer, not an error, and whose body is read whole only
after its size is checked, since something too large is not a record the gateway wrote.
Writing: a PUT of a few bytes held in memory (never a client's body), with the conditions and
attributes the caller names."""

from __future__ import annotations

from collections.abc import AsyncIterator

from s3proxy.backends.base import Backend
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    ObjectAttributes,
    ObjectInfo,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
    WriteConditions,
)

RACED = (S3ErrorCode.PreconditionFailed, S3ErrorCode.ConditionalRequestConflict)
"""What a conditional write of a record answers when another writer's came first: 412 (its
record is there, or changed) or, on AWS S3, 409 ConditionalRequestConflict (a write or delete of
the key was in flight at that moment; S3 says retry). The gateway's own records take both
alike: the record is another's, read it again (or wait for it) rather than fail the client's
request with a 409 about a condition it never sent."""


async def read_record(
    backend: Backend, bucket: str, key: str, limit: int
) -> tuple[bytes, str] | None:
    """(body, ETag) of the record at (bucket, key); None when there is none. A body over
    ``limit`` bytes is refused (InternalError) without being read."""
    found = await read_record_info(backend, bucket, key, limit)
    return None if found is None else (found[0], found[1].etag)


async def read_record_info(
    backend: Backend, bucket: str, key: str, limit: int
) -> tuple[bytes, ObjectInfo] | None:
    """:func:`read_record` with the record's whole object info (its Last-Modified: when it was
    last written, whichever release wrote it)."""
    try:
        got = await backend.get_object(bucket, key, None, ReadConditions())
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            return None
        raise
    try:
        if got.content_length > limit:
            raise S3Error(S3ErrorCode.InternalError)
        body = b"".join([chunk async for chunk in got.body])
    finally:
        await got.aclose()
    return body, got.info


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def write_record(
    backend: Backend,
    bucket: str,
    key: str,
    body: bytes = b"",
    *,
    attributes: ObjectAttributes | None = None,
    conditions: WriteConditions | None = None,
) -> PutObjectOutput:
    """PUT the record at (bucket, key): ``body`` (empty for a marker whose name says it all)."""
    return await backend.put_object(
        PutObjectInput(
            bucket=bucket,
            key=key,
            body=_bytes(body),
            content_length=len(body),
            attributes=attributes if attributes is not None else ObjectAttributes(),
            conditions=conditions if conditions is not None else WriteConditions(),
        )
    )
