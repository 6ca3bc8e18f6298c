"""Conditional CompleteMultipartUpload (``If-Match``, ``If-None-Match: *``) only where the
upstream checks the condition itself.

S3 checks a Complete's write condition atomically with the commit
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). Ceph RGW 16
ignores both headers on Complete: it answered 200 and replaced an existing object under
``If-None-Match: *``, a 200 for a write the client had forbidden. A HEAD before the Complete
would not be atomic, so on such an upstream a conditional Complete is refused with 501
NotImplemented before anything commits.

Which upstreams: a probe, once per process and upstream, on the first conditional Complete. It
writes an empty object at ``home.prefix + ".complete-probe"`` (README, "The upstream layout"),
then completes a one-byte upload of the same key with ``If-None-Match: *``: an upstream that
refuses that Complete (412) checks the conditions; one that completes it does not. The local
store checks them itself and is never probed. A conditional Complete of a tenant without a home
on the target's upstream cannot be probed for, and is refused likewise.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from s3proxy.backends.base import Backend
from s3proxy.backends.probed_once import ProbedOnce
from s3proxy.backends.records import RACED, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    UploadPartInput,
    WriteConditions,
)

PROBE = ".complete-probe"
"""Under the tenant's home prefix: the object the probe's conditional Complete must not replace
(a name no bucket can take, as bucket names never start with ".")."""


async def require_checked(
    backends: Mapping[str, Backend],
    tenant: TenantLayout,
    upstream: str,
    conditions: WriteConditions,
) -> None:
    """Return when a Complete has no write condition or ``upstream`` checks them; else 501
    NotImplemented (also when no probe can tell)."""
    if conditions.if_match is None and conditions.if_none_match is None:
        return
    backend = backends.get(upstream)
    if backend is None:
        return  # the mapped storage has already refused it
    if getattr(backend, "checks_complete_conditions", False) is True:
        return
    known = await _LEARNT.learnt(backend, upstream, tenant.home)
    if not known:
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Conditional CompleteMultipartUpload is not supported by this storage.",
            Header="If-Match" if conditions.if_match is not None else "If-None-Match",
        )


async def _one_byte() -> AsyncIterator[bytes]:
    yield b"p"


async def _probe(backend: Backend, bucket: str, prefix: str) -> bool:
    """Whether ``backend`` refuses a Complete under ``If-None-Match: *`` over an object that
    exists (the probe object)."""
    key = prefix + PROBE
    await write_record(backend, bucket, key)
    upload = await backend.create_multipart_upload(
        CreateMultipartInput(bucket=bucket, key=key, attributes=ObjectAttributes())
    )
    try:
        etag = await backend.upload_part(
            UploadPartInput(
                bucket=bucket,
                key=key,
                upload_id=upload,
                part_number=1,
                body=_one_byte(),
                content_length=1,
            )
        )
        request = CompleteMultipartInput(
            bucket=bucket,
            key=key,
            upload_id=upload,
            parts=[CompletedPart(part_number=1, etag=etag)],
            conditions=WriteConditions(if_none_match="*"),
        )
        try:
            await backend.complete_multipart_upload(request)
        except S3Error as error:
            if error.code in RACED:  # a 409 too is a condition checked
                return True
            raise
        return False
    finally:
        with contextlib.suppress(S3Error):  # NoSuchUpload once it completed
            await backend.abort_multipart_upload(bucket, key, upload)


_LEARNT = ProbedOnce(
    _probe,
    "upstream %s ignores If-Match/If-None-Match on CompleteMultipartUpload: conditional "
    "Completes are refused (501)",
)
