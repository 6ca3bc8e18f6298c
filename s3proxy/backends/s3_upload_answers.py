"""The multipart calls' shared request and answer steps on an S3 upstream.

Split from :mod:`s3proxy.backends.s3_multipart`, which keeps the calls themselves: the
``uploadId`` query, Ceph's NoSuchKey for an unknown upload read as NoSuchUpload, a Complete's
error body that is really a result (Ceph RGW 16's long ``<Location>``), and one
ListMultipartUploads request.
"""

from __future__ import annotations

import logging

from s3proxy.backends.s3_transport import BODY_ERRORS, error_body
from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.wire import encode_query
from s3proxy.errors import S3Error, S3ErrorCode

log = logging.getLogger("s3proxy.upstream")


async def _upload_status(
    upstream: _Transport, response: UpstreamResponse, body: bytes | None = None
) -> None:
    """Like ``_raise_for_status``, with Ceph's NoSuchKey for an unknown upload as NoSuchUpload."""
    try:
        await upstream._raise_for_status(response, body)
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            raise S3Error(S3ErrorCode.NoSuchUpload) from None
        raise


async def _completed_anyway(upstream: _Transport, response: UpstreamResponse) -> bytes | None:
    """The error body of a Complete answered 300 or more (None for a 2xx); an unreadable
    result (InternalError "could not be read", which :mod:`.upload_gone` asks about) when that
    body is a CompleteMultipartUploadResult and no ``<Error>``.

    Ceph RGW 16 completes the upload, then writes the result's ``<Location>`` (endpoint,
    bucket and key, unescaped) with a 1,024-byte buffer: past 1,023 bytes it reads on into its
    memory, and the answer's status is garbage too — 500 here, 400 in another run. Passed on,
    the client was told its upload failed (a 400 InvalidRequest it would not retry) while the
    object was written. S3 completes such keys, so the proxy answers as S3 does: the upload is
    gone and the object is the one its parts make, 200 with its ETag."""
    if response.status < 300:
        return None
    try:
        body = await error_body(response, upstream._config.read_timeout)
    except BODY_ERRORS as exc:  # as _raise_for_status: an error body that broke off is 503
        response.release()
        raise upstream._unavailable(response.method, exc) from exc
    if b"<CompleteMultipartUploadResult" in body and b"<Error>" not in body:
        response.release()
        log.warning(
            "upstream %s: Complete -> %d with a result document: asked about",
            upstream.name,
            response.status,
        )
        raise S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
    return body


def _upload_query(upload_id: str, part_number: int | None = None) -> str:
    params = [("uploadId", upload_id)]
    if part_number is not None:
        params.append(("partNumber", str(part_number)))
    return encode_query(params)


async def _ask_uploads(
    upstream: _Transport,
    bucket: str,
    prefix: str,
    delimiter: str | None,
    markers: tuple[str | None, str | None],
    size: int,
) -> UpstreamResponse:
    """One upstream ListMultipartUploads request, its status checked."""
    params = [("uploads", ""), ("prefix", prefix), ("max-uploads", str(size))]
    if delimiter:
        params.append(("delimiter", delimiter))
    key_marker, id_marker = markers
    if key_marker:
        params.append(("key-marker", key_marker))
    if id_marker:  # alone: SeaweedFS resumes after that id (.upload_markers.by_upload_id)
        params.append(("upload-id-marker", id_marker))
    response = await upstream._send("GET", bucket, None, {}, query=encode_query(params))
    await upstream._raise_for_status(response)
    return response
