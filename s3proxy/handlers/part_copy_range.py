"""An UploadPartCopy whose ``x-amz-copy-source-range`` runs past its source's end, answered
as S3 answers it: 400 InvalidArgument "Range specified is not valid for source object of
size: N" (what S3 itself returns: versitygw#610 compared it, s3fs#321 met it; versitygw's
UploadPartCopy_exceeding_copy_source_range and _greater_range_than_obj_size pin it).

Every store refuses such a range with 416 InvalidRange, GetObject's answer: SeaweedFS and
Ceph RGW for a server-side part copy (SeaweedFS 4.48 without the source's size), the gateway
for one streamed through it or made by the local store. The size is the source's, read by a
HEAD made only on this refusal; when that HEAD fails (the source gone meanwhile, an SSE-C
source read without its key) the store's own refusal stands. The copy's bytes charged to the
tenant's rate are given back first, as for the InvalidRange it was
(:func:`s3proxy.copy_charge.refund_refused`): nothing was copied.
"""

from __future__ import annotations

from s3proxy import copy_charge
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.context import RequestContext
from s3proxy.model import ReadConditions, UploadPartCopyInput


async def range_past_source(
    ctx: RequestContext, request: UploadPartCopyInput, error: S3Error
) -> S3Error:
    """``error`` as the part copy's answer: S3's InvalidArgument for a 416 of a ranged copy,
    else ``error`` itself."""
    if error.code is not S3ErrorCode.InvalidRange or request.source_range is None:
        return error
    copy_charge.refund_refused(error)  # before its answer names another code
    key = request.source_conditions.customer_key
    try:
        info = await (ctx.source_storage or ctx.storage).head_object(
            request.source_bucket, request.source_key, ReadConditions(customer_key=key)
        )
    except S3Error:
        return error
    return S3Error(
        S3ErrorCode.InvalidArgument,
        f"Range specified is not valid for source object of size: {info.size}",
    )
