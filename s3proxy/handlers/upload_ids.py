"""The client's UploadId: an HMAC token (:mod:`s3proxy.tokens`) bound to (tenant, bucket, key)
that carries the upstream's upload id and flags for the records the proxy keeps for the upload
(:mod:`s3proxy.backends.upload_records`: checksums, tags, SSE-C, storage class, public ACL).

The flags are why an upload without records pays nothing: every call reads them from the token
instead of asking upstream. The token is deterministic, so ListMultipartUploads — which reads the
records back — issues the very UploadId CreateMultipartUpload did.

SSE-S3 (``x-amz-server-side-encryption: AES256`` on Create), which S3 reports on UploadPart,
UploadPartCopy and Complete, is the ``e`` flag. The upstream encrypts the upload whatever UploadId
the client uses; its ``.sse-s3`` mark (one upstream write per such upload) is only there so that
ListMultipartUploads issues the same UploadId, flag included. A tenant without a home has no
marks, so on an S3 upstream its encrypted uploads are refused at Create
(:func:`s3proxy.backends.upload_records.refuse_unrecorded`).
"""

from __future__ import annotations

from s3proxy import tokens
from s3proxy.backends.upload_record_values import UploadChecksum, UploadMarks
from s3proxy.backends.upload_records import PUBLIC_UPLOAD_ACLS
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.context import RequestContext
from s3proxy.storage_classes import STORAGE_CLASSES

UPLOAD_TOKEN = "upload"


def issue_upload_id(
    ctx: RequestContext,
    bucket: str,
    key: str,
    upstream_id: str,
    checksum: UploadChecksum | None = None,
    marks: UploadMarks | None = None,
    sse_s3: bool = False,
) -> str:
    """The client's UploadId. ``checksum``, ``marks``: the upload has those records upstream
    (:mod:`s3proxy.backends.upload_records`), so calls on an upload without them pay nothing
    to find out; ListMultipartUploads reads the records to issue the same UploadId."""
    payload: dict[str, str | int] = {"u": upstream_id}
    if checksum is not None:
        payload["c"] = checksum.token()
    if marks is not None and marks.tagged:
        payload["t"] = 1
    if marks is not None and marks.customer_key:
        payload["k"] = 1
    if marks is not None and marks.storage_class is not None:
        payload["s"] = marks.storage_class
    if marks is not None and marks.acl is not None:
        payload["a"] = marks.acl
    if sse_s3 or (marks is not None and marks.sse_s3):
        payload["e"] = 1
    return tokens.issue(ctx.secret, UPLOAD_TOKEN, (ctx.tenant, bucket, key), payload)


def verified_marks(
    ctx: RequestContext, bucket: str, key: str, upload_id: str
) -> tuple[str, UploadChecksum | None, UploadMarks]:
    """The upstream id, recorded checksum and other records named by a client's UploadId;
    NoSuchUpload unless bound to this target."""
    upstream, checksum, marks, _ = verified_upload(ctx, bucket, key, upload_id)
    return upstream, checksum, marks


async def upload_of(
    ctx: RequestContext, bucket: str, key: str, upload_id: str
) -> tuple[str, UploadChecksum | None, UploadMarks, bool]:
    """:func:`verified_upload` in S3's order of errors: a bucket the caller does not have is
    NoSuchBucket before its UploadId is looked at, so another tenant's bucket that grants the
    caller READ answers the 403 AccessDenied it answers any write (:mod:`s3proxy.granted_reads`)
    and no UploadId answers for a bucket nobody has. Before wave 14 every UploadId not bound to
    the caller's target was NoSuchUpload, whatever the bucket. Only that error path pays the
    bucket's existence check (cached, :meth:`BucketRegistry.require`)."""
    try:
        return verified_upload(ctx, bucket, key, upload_id)
    except S3Error:
        await ctx.storage.buckets.require(bucket)
        raise


def verified_upload(
    ctx: RequestContext, bucket: str, key: str, upload_id: str
) -> tuple[str, UploadChecksum | None, UploadMarks, bool]:
    """:func:`verified_marks` and whether the upload was created with SSE-S3."""
    payload = tokens.verify(ctx.secret, UPLOAD_TOKEN, (ctx.tenant, bucket, key), upload_id)
    upstream = payload.get("u") if payload is not None else None
    if payload is None or not isinstance(upstream, str) or not upstream:
        raise S3Error(S3ErrorCode.NoSuchUpload, UploadId=upload_id)
    storage_class = payload.get("s")
    if not isinstance(storage_class, str) or storage_class not in STORAGE_CLASSES:
        storage_class = None
    acl = payload.get("a")
    sse_s3 = payload.get("e") == 1
    marks = UploadMarks(
        payload.get("t") == 1,
        payload.get("k") == 1,
        storage_class,
        acl if isinstance(acl, str) and acl in PUBLIC_UPLOAD_ACLS else None,
        sse_s3,
    )
    return upstream, UploadChecksum.from_token(payload.get("c")), marks, sse_s3
