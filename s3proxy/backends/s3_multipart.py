"""Multipart uploads on a real S3 upstream: the :class:`~s3proxy.backends.s3.S3Upstream` methods.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html and the
UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts and
ListMultipartUploads pages. A mixin (not free functions) so that S3Upstream itself satisfies the
Backend protocol; kept out of ``s3.py`` to keep that module small. It uses only the transport
hooks named in :class:`~s3proxy.backends.s3_transport_hooks._Transport`, and upstream errors
still go through S3Upstream's one translation (``_raise_for_status`` / ``translate``). What the
upstream's part copies do is learnt in :mod:`~s3proxy.backends.s3_copy_learning`; the calls'
shared request and answer steps are in :mod:`~s3proxy.backends.s3_upload_answers`; the
``?partNumber=`` reads in :mod:`~s3proxy.backends.s3_part_reads` (re-exported here).

Upstream behaviour handled here:

- Ceph RGW 16 answers CompleteMultipartUpload with an empty ``<ETag>``: the ETag is computed
  from the part ETags (S3's MD5 of the parts' MD5s, ``-N``), or read with HEAD when the part
  ETags are not MD5s (SSE-KMS on AWS).
- S3 may answer CompleteMultipartUpload or UploadPartCopy with 200, keep-alive whitespace and
  then an ``<Error>`` document: that is translated like an error status, never passed as 200.
- Ceph answers 404 NoSuchKey for an unknown upload id: NoSuchUpload here.
- Ceph RGW 16 refuses a Complete that leaves stored parts out (InvalidPart): 501 NotImplemented
  (:mod:`~s3proxy.backends.complete_left_out`).
- Ceph RGW 16 answers a Complete racing another Complete of the same upload with 500: it is
  sent again a little later while the upload is still there
  (:mod:`~s3proxy.backends.upstream_retry`); once it is gone, NoSuchUpload, which
  :mod:`~s3proxy.backends.upload_gone` answers as the finished Complete did. An Abort it
  answers 500 (racing a Complete) is asked about the same way.
- SeaweedFS 4.48 answers 204 to an Abort of an upload it no longer has: ListParts asks first
  there (and wherever that is not known yet), so the client gets S3's NoSuchUpload.
- Ceph RGW 16 completes an upload whose ``<Location>`` passes 1,023 bytes under a garbage
  status (:func:`~s3proxy.backends.s3_upload_answers._completed_anyway`): read as an
  unreadable 2xx, which upload_gone asks about.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator

from s3proxy import sse
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.backends.complete_left_out import refuse_left_out
from s3proxy.backends.part_order import numeric_page
from s3proxy.backends.s3_copy_learning import (
    _COPIES_OWN_ETAG,
    _KEEPS_COPY_CONDITIONS,
    _copies_own_etag,
    _learn_server,
)
from s3proxy.backends.s3_part_reads import part_query, part_range_of
from s3proxy.backends.s3_transport import discard
from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.backends.s3_upload_answers import (
    _ask_uploads,
    _completed_anyway,
    _upload_query,
    _upload_status,
)
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS, learn_abort_mode
from s3proxy.backends.upload_markers import (
    KEPT,
    MARKER_MODES,
    OWN_ORDER,
    WHOLE,
    WHOLE_PAGE,
    id_order_page,
    marker_mode,
    own_order_page,
    uploads_after,
)
from s3proxy.backends.upload_scans import CROWDED, turns_for, whole_listing
from s3proxy.backends.upstream_chunked import (
    UNSIGNED_TRAILER,
    chunked_headers,
    encode_with_trailer,
)
from s3proxy.backends.upstream_errors import STORAGE_UNREADABLE
from s3proxy.backends.upstream_metadata import stored_headers
from s3proxy.backends.upstream_results import complete_result, upstream_result
from s3proxy.backends.upstream_retry import ASKED_AGAIN, COMPLETE_DELAYS
from s3proxy.backends.wire import encode_path, encode_query
from s3proxy.complete_parse import complete_request_xml_stepped
from s3proxy.completion import multipart_etag
from s3proxy.conditions import any_condition
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompleteMultipartInput,
    CompleteMultipartOutput,
    CopyObjectOutput,
    CreateMultipartInput,
    PartsPage,
    ReadConditions,
    UploadPartCopyInput,
    UploadPartInput,
    UploadsPage,
)
from s3proxy.storage_classes import write_headers
from s3proxy.upstream_xml import (
    parse_copy_result,
    parse_initiate_result,
    parse_list_parts,
    parse_list_uploads,
)
from s3proxy.xmlcodec import quoted_etag

log = logging.getLogger("s3proxy.upstream")

__all__ = [
    "_COPIES_OWN_ETAG",
    "_KEEPS_COPY_CONDITIONS",
    "S3MultipartMixin",
    "_Transport",
    "part_query",
    "part_range_of",
]


PART_READ_WHOLE = 64 * 1024
"""A part up to this size carries its trailer's checksum as a header, read whole first
(``s3_object_reads.WHOLE_BODY_LIMIT``, up to which ``keeps_trailer_checksum`` answers yes for
any upstream)."""


class S3MultipartMixin:
    """The multipart half of the Backend protocol, for :class:`S3Upstream`."""

    records_upload_checksums = True
    """S3 upstreams may not report upload and part checksums (Ceph RGW 16, SeaweedFS 4.48):
    the proxy records them (:mod:`s3proxy.backends.upload_records`)."""

    async def keeps_copy_conditions(self: _Transport, bucket: str, key: str) -> bool:
        """Whether this upstream's copies refuse a source whose ``x-amz-copy-source-if-*``
        fails (:data:`_KEEPS_COPY_CONDITIONS`; False while unknown)."""
        await _learn_server(self, bucket, key)
        return _KEEPS_COPY_CONDITIONS.get(self.name, False)

    async def create_multipart_upload(self: _Transport, request: CreateMultipartInput) -> str:
        headers = stored_headers(request.attributes, self.ceph_rgw, self.aws)
        if request.checksum_algorithm is not None:
            headers["x-amz-checksum-algorithm"] = request.checksum_algorithm
        if request.checksum_type is not None:
            headers["x-amz-checksum-type"] = request.checksum_type
        offered = self._config.storage_classes
        headers.update(write_headers(offered, request.storage_class, request.tags))
        headers.update(sse.upstream_headers(request.encryption))
        response = await self._send("POST", request.bucket, request.key, headers, query="uploads=")
        await self._raise_for_status(response)
        return await upstream_result(self, response, parse_initiate_result)

    async def upload_part(self: _Transport, request: UploadPartInput) -> str:
        """Stream one part; the ETag. A body that fails verification aborts the upstream
        request, so the upstream keeps no part and the client can send it again."""
        headers = {"content-length": str(request.content_length)}
        if request.content_md5 is not None:
            headers["content-md5"] = request.content_md5
        if request.checksum is not None:
            headers[request.checksum[0]] = request.checksum[1]
        headers.update(sse.upstream_headers(request.encryption))
        body: AsyncIterator[bytes] | bytes = request.body
        payload_hash = request.content_sha256 or UNSIGNED_PAYLOAD
        trailer = request.trailer_checksum
        # As PutObject's (upstream_chunked): S3 refuses a part without its checksum in an
        # upload created with a COMPOSITE one, MinIO in any upload created with one.
        keeps = getattr(self, "keeps_trailer_checksum", None)
        length = request.content_length
        if trailer is not None and keeps is not None and await keeps(request.bucket, length):
            if length <= PART_READ_WHOLE:  # read whole, verified by then: a header
                body = b"".join([chunk async for chunk in request.body])
                headers[trailer[0]] = trailer[1]()
            else:
                del headers["content-length"]
                headers.update(chunked_headers(None, length, trailer[0]))
                body = encode_with_trailer(request.body, trailer[0], trailer[1])
                payload_hash = UNSIGNED_TRAILER
        query = _upload_query(request.upload_id, request.part_number)
        response = await self._send(
            "PUT",
            request.bucket,
            request.key,
            headers,
            query=query,
            body=body,
            payload_hash=payload_hash,
        )
        await _upload_status(self, response)
        etag = quoted_etag(response.headers.get("ETag", ""))
        response.release()
        if not etag:  # as PutObject (s3.py): a 200 without an ETag stored no part
            log.warning("upstream answered UploadPart %d without an ETag", response.status)
            raise S3Error(S3ErrorCode.InternalError, STORAGE_UNREADABLE)
        return etag

    async def upload_part_copy(self: _Transport, request: UploadPartCopyInput) -> CopyObjectOutput:
        """A part copied from an object of this upstream, without its bytes passing here —
        unless the upstream's copies do not carry the part's own ETag (:func:`_copies_own_etag`):
        then the bytes pass through and UploadPart gives the part its MD5, as S3 does; so do
        those of a conditional copy on an upstream that ignores the conditions."""
        # SSE-C parts pass through too: Ceph RGW 16 decrypts the source with the part's key.
        source_key = request.source_conditions.customer_key
        through = request.encryption is not None or source_key is not None
        if through or not await _copies_own_etag(self, request):
            through = True
        elif any_condition(request.source_conditions):
            through = not _KEEPS_COPY_CONDITIONS.get(self.name, False)
        if through:
            from s3proxy.backends.mapped_multipart import copy_part_through

            return await copy_part_through(self, self, request)  # type: ignore[arg-type]
        source = "/" + encode_path(request.source_bucket) + "/" + encode_path(request.source_key)
        headers = {"x-amz-copy-source": source}
        if request.source_range is not None:
            first, last = request.source_range
            headers["x-amz-copy-source-range"] = f"bytes={first}-{last}"
        conditions = request.source_conditions
        for name, condition in (
            ("x-amz-copy-source-if-match", conditions.if_match),
            ("x-amz-copy-source-if-none-match", conditions.if_none_match),
            ("x-amz-copy-source-if-modified-since", conditions.if_modified_since),
            ("x-amz-copy-source-if-unmodified-since", conditions.if_unmodified_since),
        ):
            if condition is not None:
                headers[name] = condition
        query = _upload_query(request.upload_id, request.part_number)
        response = await self._send("PUT", request.bucket, request.key, headers, query=query)
        # Not _upload_status: here NoSuchKey names the copy source, and it is the likelier case.
        await self._raise_for_status(response)
        etag, last_modified = await upstream_result(self, response, parse_copy_result)
        return CopyObjectOutput(etag=etag, last_modified=last_modified)

    async def complete_multipart_upload(
        self: _Transport, request: CompleteMultipartInput
    ) -> CompleteMultipartOutput:
        body = await complete_request_xml_stepped(request.parts)  # 10,000 parts: in steps
        headers = {"content-type": "application/xml", "content-length": str(len(body))}
        if request.conditions.if_match is not None:
            headers["if-match"] = request.conditions.if_match
        if request.conditions.if_none_match is not None:
            headers["if-none-match"] = request.conditions.if_none_match
        if request.checksum is not None:
            headers[request.checksum[0]] = request.checksum[1]
        headers.update(sse.upstream_headers(request.encryption))
        query, digest = _upload_query(request.upload_id), hashlib.sha256(body).hexdigest()
        where = (request.bucket, request.key, request.upload_id)
        pages = functools.partial(S3MultipartMixin.list_parts, self, *where)
        for delay in (*COMPLETE_DELAYS, None):
            # The body is bytes, sent again as it is; each request is signed anew.
            response = await self._send(
                "POST",
                request.bucket,
                request.key,
                headers,
                query=query,
                body=body,
                payload_hash=digest,
            )
            result = None
            failed = await _completed_anyway(self, response)
            if response.status != ASKED_AGAIN or delay is None:
                try:
                    await _upload_status(self, response, failed)
                except S3Error as error:  # parts left out, on Ceph RGW 16: .complete_left_out
                    raise await refuse_left_out(error, request.parts, pages) from None
                result = await complete_result(self, response, last=delay is None)
            else:  # as s3_transport.discard, with the body already read
                response.close()
                text = (failed or b"")[:300].decode("utf-8", "replace").replace("\n", " ")
                log.warning("upstream %s: POST -> 500, asked again %s", self.name, text)
            if result is not None or delay is None:
                break
            # A racing Complete of this upload (Ceph RGW 16), or AWS's InternalError (a 500, or
            # inside a 200), which S3 says to retry (upstream_retry) — while the upload is there:
            # once it is gone (completed by the other, or aborted, whose Complete Ceph keeps
            # answering 500), NoSuchUpload says which (upload_gone.after_failed_complete).
            await asyncio.sleep(delay)
            await S3MultipartMixin.list_parts(
                self, request.bucket, request.key, request.upload_id, 0, 1
            )
        assert result is not None  # the last attempt answers or raises
        etag, checksums = result
        if not etag:  # Ceph RGW 16
            etag = multipart_etag([part.etag for part in request.parts]) or ""
        if not etag:
            key = request.encryption.customer_key if request.encryption else None
            conditions = ReadConditions(customer_key=key)
            info = await self.head_object(request.bucket, request.key, conditions)
            etag = info.etag
        return CompleteMultipartOutput(etag=etag, checksums=checksums)

    async def abort_multipart_upload(
        self: _Transport, bucket: str, key: str, upload_id: str
    ) -> None:
        """S3's 204, or NoSuchUpload for an upload already completed or aborted — also where
        the upstream says otherwise (:data:`ABORTS_GONE_UPLOADS`: asked first, ListParts, until
        the first Abort answered 204, sent once more, shows the upstream reports gone uploads)
        or answers 500 to an Abort racing a Complete (asked again as Complete is: the upload
        still there, the Abort is sent again; gone, NoSuchUpload, as S3 orders the two)."""
        upstream = (self.name, self._config.endpoint)
        learnt = ABORTS_GONE_UPLOADS.get(upstream)
        if learnt is not False:
            await S3MultipartMixin.list_parts(self, bucket, key, upload_id, 0, 1)
        query = _upload_query(upload_id)
        for delay in (*COMPLETE_DELAYS, None):
            response = await self._send("DELETE", bucket, key, {}, query=query)
            if response.status != ASKED_AGAIN or delay is None:
                break
            await discard(self.name, response, self._config.read_timeout)
            await asyncio.sleep(delay)
            await S3MultipartMixin.list_parts(self, bucket, key, upload_id, 0, 1)
        await _upload_status(self, response)
        response.release()
        if learnt is None:  # now surely gone: what the upstream answers for that
            try:
                again = await self._send("DELETE", bucket, key, {}, query=query)
                await _upload_status(self, again)
            except S3Error as error:
                learn_abort_mode(upstream, error.status, error)
                return
            again.release()
            learn_abort_mode(upstream, again.status, None)

    async def list_parts(
        self: _Transport,
        bucket: str,
        key: str,
        upload_id: str,
        part_number_marker: int,
        max_parts: int,
    ) -> PartsPage:
        """S3's page, in numeric order where the upstream lists part 10000 out of place
        (SeaweedFS: :mod:`.part_order`)."""

        async def read(marker: int, most: int) -> PartsPage:
            params = [("uploadId", upload_id), ("max-parts", str(most))]
            if marker:
                params.append(("part-number-marker", str(marker)))
            response = await self._send("GET", bucket, key, {}, query=encode_query(params))
            await _upload_status(self, response)
            return await upstream_result(self, response, parse_list_parts)

        return await numeric_page(read, part_number_marker, max_parts)

    async def list_multipart_uploads(
        self: _Transport,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        """One page, read as the upstream's markers allow (learnt once from its first answer,
        :mod:`~s3proxy.backends.upload_markers`): passed on where they are S3's; read in its
        own order from just before them (Ceph RGW 16); else read whole without them, by upload
        id past one page, and paged by the proxy (SeaweedFS, and any upstream not known)."""
        upstream = (self.name, self._config.endpoint)
        mode = MARKER_MODES.get(upstream)
        if mode in (None, KEPT):
            markers = (key_marker, upload_id_marker if key_marker else None)  # S3's reading
            response = await _ask_uploads(self, bucket, prefix, delimiter, markers, max_uploads)
            if mode == KEPT:
                return await upstream_result(self, response, parse_list_uploads)
            headers = response.headers
            learnt = marker_mode(headers.get("Server", ""), headers.get("x-amz-request-id", ""))
            page = await upstream_result(self, response, parse_list_uploads)
            MARKER_MODES[upstream] = mode = learnt  # learnt from an S3 answer, not a proxy's page
            if mode == KEPT:
                return page  # else asked with the markers: ask again as this upstream needs

        async def ask(under: str, keys: str | None, ids: str | None) -> UploadsPage:
            response = await _ask_uploads(self, bucket, under, delimiter, (keys, ids), WHOLE_PAGE)
            return await upstream_result(self, response, parse_list_uploads)

        if mode == OWN_ORDER and not delimiter:
            return await own_order_page(ask, prefix, key_marker, upload_id_marker, max_uploads)

        async def scan(under: str, keys: str | None, ids: str | None) -> UploadsPage:
            async with turns_for(upstream).turn():  # each reads the whole bucket (.upload_scans)
                return await ask(under, keys, ids)

        if delimiter:  # common prefixes to keep: one whole page, as before
            return uploads_after(
                await scan(prefix, None, None), key_marker, upload_id_marker, max_uploads
            )
        return await id_order_page(scan, prefix, key_marker, upload_id_marker, max_uploads)

    async def whole_uploads(self: _Transport, bucket: str, prefix: str) -> UploadsPage | None:
        """Every upload under ``prefix`` in a few upstream answers, from an upstream whose every
        listing reads its whole bucket (:mod:`~s3proxy.backends.upload_scans`); None where its
        markers page it narrowly (or that is not known yet) or more than
        :data:`~s3proxy.backends.upload_scans.WHOLE_PAGES` answers hold them (then for a while
        without asking: :data:`~s3proxy.backends.upload_scans.CROWDED_SECONDS`)."""
        upstream = (self.name, self._config.endpoint)
        place = (*upstream, bucket, prefix)
        if MARKER_MODES.get(upstream) != WHOLE or place in CROWDED:
            return None

        async def scan(under: str, keys: str | None, ids: str | None) -> UploadsPage:
            async with turns_for(upstream).turn():
                response = await _ask_uploads(self, bucket, under, None, (keys, ids), WHOLE_PAGE)
                return await upstream_result(self, response, parse_list_uploads)

        whole = await whole_listing(scan, prefix)
        if whole is None:
            CROWDED.add(place)
        return whole
