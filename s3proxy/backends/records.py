"""Reading one of the gateway's own small records upstream (bucket settings, object ACLs, upload
marks, quota usage), the one way: a GET whose absence is an answer, not an error, and whose body
is read whole only after its size is checked, since something too large is not a record the
gateway wrote."""

from __future__ import annotations

from s3proxy.backends.base import Backend
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions


async def read_record(
    backend: Backend, bucket: str, key: str, limit: int
) -> tuple[bytes, str] | None:
    """(body, ETag) of the record at (bucket, key); None when there is none. A body over
    ``limit`` bytes is refused (InternalError) without being read."""
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
    return body, got.info.etag
