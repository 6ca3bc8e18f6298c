"""The answer to a CompleteMultipartUpload whose upload is gone upstream.

Two reasons an upload is gone, and S3's answer for each:

- **it completed**: SDKs retry Complete after a timeout, and S3 answers the retry 200 with the
  same ETag, so the proxy does too when the object is the one these parts make
  (:func:`completed_before`, :func:`~s3proxy.completion.completed_by`);
- **it was aborted**: NoSuchUpload. A Complete racing the Abort can find the upload half
  removed: SeaweedFS 4.48 lists or assembles its parts while the Abort deletes them and
  answers InvalidPart. The client's next step differs (an InvalidPart names a part to send
  again; NoSuchUpload says the upload is over), so on that error path only the proxy asks
  once whether the upload still exists (:func:`gone_or`).

A conditional Complete (``If-None-Match: *``, ``If-Match``) that the proxy sends again after an
upstream 500 (:mod:`.upstream_retry`) may meet the object its own first attempt made: the
upstream then answers 412, a failure for what in fact succeeded. So a 412 to a conditional
Complete is also asked about: an upload gone whose object is the one these parts make is the
Complete's own success (200, its ETag), as it is for an unconditional retry.

A 2xx Complete whose document cannot be read (InternalError "could not be read") was answered
after the upstream acted, so it is asked about the same way: gone with its object made of
these parts, the Complete's 200. The upstream may well have completed it: Ceph RGW 16 did, for
every long key, until the proxy stopped reading the ``<Location>`` it garbles
(:func:`~s3proxy.upstream_xml.parse_complete_result`).

An Abort of an upload already gone is NoSuchUpload on S3, but SeaweedFS 4.48 answers it 204: a
client told its completed upload was aborted would take the object for gone. So the proxy asks
first (ListParts) until it knows its upstream is not one of those (:data:`ABORTS_GONE_UPLOADS`).
It learns that from what the upstream does, never from who it says it is: after its first Abort
answered 204, it sends that Abort once more, now of an upload surely gone, and the answer says
which kind the upstream is (:func:`learn_abort_mode`). The ``Server`` header it read before
(``SeaweedFS …``) is lost behind a proxy that rewrites it (nginx's own): SeaweedFS was then
taken for a server that answers NoSuchUpload itself, and every later Abort of a completed upload
was 204 to its client.
"""

from __future__ import annotations

from s3proxy.backends.base import Backend
from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE
from s3proxy.checksums import object_checksums
from s3proxy.completion import completed_by
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompleteMultipartInput, CompleteMultipartOutput, ReadConditions

ABORTS_GONE_UPLOADS: dict[tuple[str, str], bool] = {}
"""Per upstream (name, endpoint), learnt from its answer to an Abort of an upload that is
gone: whether it answers 204 there (SeaweedFS 4.48), where S3 answers 404 NoSuchUpload.
Unknown (absent) until learnt, and then taken as yes: ListParts asks first, one request more
per Abort."""


def learn_abort_mode(upstream: tuple[str, str], status: int, error: S3Error | None) -> None:
    """Learn :data:`ABORTS_GONE_UPLOADS` from the answer to an Abort of an upload known to be
    gone (``status``; ``error``: the S3 error it was read as), only when it is an answer S3
    gives an Abort: its 204 (an upstream that answers gone uploads so), or a NoSuchUpload
    error document (one that reports them). Anything else may come from something in front of
    the upstream (a load balancer's 404 page, a 400 of its own, a 200 it makes up): learnt from
    it, a SeaweedFS behind it would be taken for an upstream that answers NoSuchUpload itself
    for the life of the process, and an Abort of a completed upload would be 204 to its
    client."""
    if status == 204 and error is None:
        ABORTS_GONE_UPLOADS[upstream] = True
    elif error is not None and error.code is S3ErrorCode.NoSuchUpload:
        ABORTS_GONE_UPLOADS[upstream] = False


async def after_failed_complete(
    backend: Backend, request: CompleteMultipartInput, error: S3Error
) -> CompleteMultipartOutput:
    """The answer to the upstream Complete ``request`` (upstream bucket and key) that failed
    with ``error``: the earlier result of a retried one, NoSuchUpload for an aborted one, else
    ``error`` itself."""
    error = await gone_or(backend, request, error)
    if error.code is not S3ErrorCode.NoSuchUpload:
        raise error
    done = await completed_before(backend, request)
    if done is None:
        raise error
    return done


async def gone_or(backend: Backend, request: CompleteMultipartInput, error: S3Error) -> S3Error:
    """NoSuchUpload for an InvalidPart, a conditional Complete's PreconditionFailed, or a 2xx
    answer that could not be read, whose upload no longer exists upstream, else ``error``."""
    conditional = (
        request.conditions.if_match is not None or request.conditions.if_none_match is not None
    )
    failed_condition = error.code is S3ErrorCode.PreconditionFailed and conditional
    unreadable = error.code is S3ErrorCode.InternalError and error.message == STORAGE_UNREADABLE
    if error.code is not S3ErrorCode.InvalidPart and not failed_condition and not unreadable:
        return error
    try:
        await backend.list_parts(request.bucket, request.key, request.upload_id, 0, 1)
    except S3Error as found:
        if found.code is S3ErrorCode.NoSuchUpload:
            return found
    return error


async def completed_before(
    backend: Backend, request: CompleteMultipartInput
) -> CompleteMultipartOutput | None:
    """The result of a Complete retried after it succeeded: the object, if it is the one these
    parts make (:func:`~s3proxy.completion.completed_by`), else None (NoSuchUpload stands)."""
    try:
        key = request.encryption.customer_key if request.encryption else None
        info = await backend.head_object(
            request.bucket, request.key, ReadConditions(customer_key=key), checksum_mode=True
        )
    except S3Error as error:
        if error.code in (S3ErrorCode.NoSuchKey, S3ErrorCode.NotModified):
            return None
        raise
    if not completed_by(request.parts, info.etag):
        return None
    return CompleteMultipartOutput(etag=info.etag, checksums=object_checksums(info))
