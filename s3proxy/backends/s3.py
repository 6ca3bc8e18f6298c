"""A real S3 upstream (AWS S3, SeaweedFS, MinIO, Ceph RGW) over per-tenant connection pools.

Why not aiobotocore: it cannot upload from an async iterator (aiobotocore #618) and costs ~4× a
raw signed aiohttp hop per request (``../shared/S3-NOTES.md``). Requests are signed here with
the proxy's own SigV4 signer and sent on per-tenant keep-alive connection pools
(:mod:`s3proxy.backends.s3_transport`).

Upstream failures are translated once, in :meth:`S3Upstream._raise_for_status` (the table is
:mod:`s3proxy.backends.upstream_errors`), into S3 errors that carry nothing of the upstream (no
bucket, key or message text); the details go to the log. A read the upstream failed with 500
is asked once more first (:meth:`S3Transport._send`, :mod:`s3proxy.backends.upstream_retry`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from functools import cached_property, partial

from s3proxy import sse
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.backends import upstream_errors
from s3proxy.backends.base import NotReady
from s3proxy.backends.s3_multipart import S3MultipartMixin
from s3proxy.backends.s3_object_reads import WHOLE_BODY_LIMIT, S3ObjectReadsMixin
from s3proxy.backends.s3_tagging import S3TaggingMixin
from s3proxy.backends.s3_transport import S3Transport
from s3proxy.backends.upstream_chunked import (
    UNSIGNED_TRAILER,
    chunked_headers,
    encode_with_trailer,
    takes_trailers,
)
from s3proxy.backends.upstream_kind import if_match_for
from s3proxy.backends.upstream_metadata import stored_headers
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.upstream_results import upstream_result
from s3proxy.backends.wire import encode_path, encode_query, xml_body_headers
from s3proxy.conditions import copy_source_failed
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    STANDARD,
    CopyObjectInput,
    CopyObjectOutput,
    DeleteResult,
    ListEntry,
    ListPage,
    PutObjectInput,
    PutObjectOutput,
    ReadConditions,
    Tags,
)
from s3proxy.upstream_xml import (
    parse_copy_result,
    parse_delete_result,
    parse_list_v2,
    resume_after,
)
from s3proxy.xmlcodec import delete_request_xml, quoted_etag

log = logging.getLogger("s3proxy.upstream")

SELF_COPY_TRIES = 3
"""Copies sent for a self-copy whose object is overwritten between its HEAD and the copy."""
SOURCE_CHANGED = "The copy source changed during the copy."


class _Rebound(Exception):
    """A self-copy refused only because its object changed since the HEAD it is bound to."""


class S3Upstream(S3ObjectReadsMixin, S3MultipartMixin, S3TaggingMixin, S3Transport):
    """One configured upstream. Implements :class:`s3proxy.backends.base.Backend` (GET/HEAD in
    :mod:`s3proxy.backends.s3_object_reads`, multipart uploads in
    :mod:`s3proxy.backends.s3_multipart`, connections, signing and error translation in
    :mod:`s3proxy.backends.s3_transport`)."""

    @property
    def encryption_modes(self) -> frozenset[str]:
        """What this upstream's ``sse`` setting says it encrypts (:mod:`s3proxy.sse`)."""
        return frozenset(self._config.sse)

    @cached_property
    def offered_storage_classes(self) -> frozenset[str]:
        """The classes besides STANDARD this upstream stores and lists itself (its
        ``storage_classes`` setting); the proxy keeps any other (:mod:`.class_records`)."""
        return frozenset(self._config.storage_classes)

    @property
    def copies_md5_etag(self) -> bool:
        """Whether a server-side CopyObject of a multipart object gives the copy the MD5 of its
        bytes as ETag, as S3 does (:mod:`.copy_etag`): AWS S3 only; SeaweedFS 4.48, Ceph RGW 16
        and MinIO keep the source's ``-N`` ETag."""
        return self.aws

    async def keeps_trailer_checksum(self, bucket: str, length: int) -> bool:
        """Whether a ``length``-byte PUT keeps a ``trailer_checksum`` (:mod:`.upstream_chunked`;
        before the upstream's first answer a HEAD of ``bucket`` learns which server it is)."""
        if length <= WHOLE_BODY_LIMIT:
            return True
        if self.server is None and self._config.request_style != "aws-chunked":
            (await self._send("HEAD", bucket, None, {})).release()
        return takes_trailers(self._config.request_style, self.server, self._scheme == "https")

    # -- Backend ---------------------------------------------------------------------------

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        headers = stored_headers(request.attributes, self.ceph_rgw, self.aws)
        headers["content-length"] = str(request.content_length)
        if request.content_md5 is not None:
            headers["content-md5"] = request.content_md5
        if request.checksum is not None:
            headers[request.checksum[0]] = request.checksum[1]
        if request.conditions.if_match is not None:
            headers["if-match"] = if_match_for(request.conditions.if_match, self.ceph_rgw)
        if request.conditions.if_none_match is not None:
            headers["if-none-match"] = request.conditions.if_none_match
        headers.update(sse.upstream_headers(request.encryption))
        headers.update(self.class_headers(request.storage_class, request.tags))
        body: AsyncIterator[bytes] = request.body
        payload_hash = request.content_sha256 or UNSIGNED_PAYLOAD
        trailer = request.trailer_checksum  # kept upstream as README says (upstream_chunked)
        small = request.content_length <= WHOLE_BODY_LIMIT
        if (
            trailer is not None
            and not small
            and await self.keeps_trailer_checksum(request.bucket, request.content_length)
        ):
            del headers["content-length"]
            headers.update(
                chunked_headers(headers.get("content-encoding"), request.content_length, trailer[0])
            )
            body = encode_with_trailer(body, trailer[0], trailer[1])
            payload_hash = UNSIGNED_TRAILER
        data: AsyncIterator[bytes] | bytes = body
        if small:
            # Small bodies go out as bytes: headers and body in one write, without aiohttp's
            # streaming-payload machinery. The body is verified before its last chunk is
            # released (s3proxy.body), so nothing unverified reaches the upstream either way,
            # and a trailer's checksum, verified by then, goes as a header.
            data = b"".join([chunk async for chunk in body])
            if trailer is not None:
                headers[trailer[0]] = trailer[1]()
        response = await self._send(
            "PUT", request.bucket, request.key, headers, body=data, payload_hash=payload_hash
        )
        await self._raise_for_status(response)
        etag = quoted_etag(response.headers.get("ETag", ""))
        response.release()
        if not etag:  # S3 answers every write it made with the ETag: a 200 without one (an
            raise _unreadable("PUT", response)  # HTML page, a cache) says nothing was stored
        return PutObjectOutput(etag=etag)

    async def delete_object(self, bucket: str, key: str) -> None:
        response = await self._send("DELETE", bucket, key, {})
        try:
            await self._raise_for_status(response)
        except S3Error as error:  # already gone: done, if an S3 answer said so (a code-less
            if error.status != 404:  # 404 page from something in front of it is a 500)
                raise
        response.release()

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        """DeleteObject under ``If-Match: etag``: S3 (since 2025) and SeaweedFS refuse it 412
        when the object is another, and when it is gone 404 (S3) or 412 (SeaweedFS); Ceph RGW
        16 ignores the header and deletes (:func:`.quota_writes.delete_counted`)."""
        headers = {"if-match": if_match_for(etag, self.ceph_rgw)}
        response = await self._send("DELETE", bucket, key, headers)
        await self._raise_for_status(response)
        response.release()

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        params = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(max_keys))]
        params.append(("prefix", prefix))
        if delimiter:
            params.append(("delimiter", delimiter))
        if token is not None:
            resume = resume_after(token)  # the upstream's page was truncated without a token
            if resume is None:
                params.append(("continuation-token", token))
            else:
                params.append(("start-after", resume))
        elif start_after:
            params.append(("start-after", start_after))
        response = await self._send("GET", bucket, None, {}, query=encode_query(params))
        await self._raise_for_status(response)
        page = await upstream_result(self, response, partial(parse_list_v2, url_encoded=True))
        if page.entries and page.entries[0].etag[:1] != '"':  # pages are uniform: one look
            page = dataclasses.replace(page, entries=[_quoted(e) for e in page.entries])
        return page

    async def copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        """A server-side copy. A copy onto itself that keeps the metadata (a new storage class)
        replaces the metadata with the object's own, read by a HEAD, and is bound to that
        HEAD's ETag (``x-amz-copy-source-if-match``, unless the client's binds it): unbound,
        an overwrite between the two got the old object's Content-Type and metadata on its own
        bytes, answered 200. Refused for that binding alone (the ETag moved), it is read and
        sent again, :data:`SELF_COPY_TRIES` times; a source that keeps changing is 503."""
        for _ in range(SELF_COPY_TRIES):
            with contextlib.suppress(_Rebound):
                return await self._copy_object(request)
        raise S3Error(S3ErrorCode.ServiceUnavailable, SOURCE_CHANGED)

    async def _copy_object(self, request: CopyObjectInput) -> CopyObjectOutput:
        source = "/" + encode_path(request.source_bucket) + "/" + encode_path(request.source_key)
        headers: dict[str, str] = {"x-amz-copy-source": source}
        # S3 gives a copy the class asked for, STANDARD when none (SeaweedFS would keep the
        # source's), and the tags asked for only with REPLACE.
        headers.update(self.class_headers(request.storage_class, request.tags or ()))
        headers.setdefault("x-amz-storage-class", STANDARD)
        if request.tags is not None:
            headers["x-amz-tagging-directive"] = "REPLACE"
        attributes = request.attributes if request.replace_metadata else None
        source_tagged = True  # not known: asked when the copy replaces the metadata
        bound: str | None = None  # the ETag of the HEAD the metadata was read from
        read = ReadConditions(customer_key=request.source_conditions.customer_key)
        if attributes is None and (request.source_bucket, request.source_key) == (
            request.bucket,
            request.key,
        ):
            # A self-copy that changes only the class: SeaweedFS refuses it unless the
            # metadata is replaced, so it is replaced with the object's own.
            current = await self.head_object(request.bucket, request.key, read)
            attributes, source_tagged = current.attributes, current.tag_count > 0
            if request.source_conditions.if_match is None:
                # Bound, an If-Match that holds would override the client's If-Unmodified-Since
                # on S3: it is decided here, on what the HEAD read (the copy is of that object).
                _check_unmodified(request.source_conditions, current.etag, current.last_modified)
                bound = current.etag
        kept: Tags = ()
        # Ceph RGW 16 drops the tags here (COPY) or keeps the source's (REPLACE): they are set
        # after the copy there. Only there: a write between the two got the copy's tags.
        retags = self.ceph_rgw is not False
        if attributes is not None:
            if request.tags is None and source_tagged and retags:
                kept = await self.tags_to_keep(request.source_bucket, request.source_key)
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(stored_headers(attributes, self.ceph_rgw, self.aws))
        conditions = request.source_conditions
        for name, condition in (
            ("x-amz-copy-source-if-match", conditions.if_match or bound),
            ("x-amz-copy-source-if-none-match", conditions.if_none_match),
            ("x-amz-copy-source-if-modified-since", conditions.if_modified_since),
            ("x-amz-copy-source-if-unmodified-since", conditions.if_unmodified_since),
            ("if-match", request.conditions.if_match),
            ("if-none-match", request.conditions.if_none_match),
        ):
            if condition is not None:
                headers[name] = condition
        headers.update(sse.upstream_headers(request.encryption))
        headers.update(sse.key_headers(conditions.customer_key, sse.SOURCE_CUSTOMER))
        response = await self._send("PUT", request.bucket, request.key, headers)
        try:
            await self._raise_for_status(response)
        except S3Error as error:
            if bound is None or error.code is not S3ErrorCode.PreconditionFailed:
                raise
            # The binding's 412 when the object is another now; else the client's own.
            if (await self.head_object(request.bucket, request.key, read)).etag == bound:
                raise
            raise _Rebound from error
        etag, last_modified = await upstream_result(self, response, parse_copy_result)
        if request.tags is not None and retags:
            await self.put_object_tagging(request.bucket, request.key, request.tags)
        elif kept:
            await self.put_object_tagging(request.bucket, request.key, kept)
        return CopyObjectOutput(etag=etag, last_modified=last_modified)

    async def delete_objects(
        self, bucket: str, keys: list[str], etags: Sequence[str | None] = ()
    ) -> list[DeleteResult]:
        """A key with an ETag in ``etags`` (same order) goes with ``<ETag>``: S3 and SeaweedFS
        4.48 delete it only if that names its object, Ceph RGW 16 ignores it (measured)."""
        body = delete_request_xml(keys, etags)
        headers, digest = xml_body_headers(body)
        response = await self._send(
            "POST", bucket, None, headers, query="delete=", body=body, payload_hash=digest
        )
        await self._raise_for_status(response)
        return await upstream_result(self, response, partial(parse_delete_result, asked=keys))

    delete_objects_matching = delete_objects  # (.conditional_deletes.MatchingBatches)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        query = encode_query([("max-uploads", "1"), ("prefix", prefix), ("uploads", "")])
        response = await self._send("GET", bucket, None, {}, query=query)
        await self._raise_for_status(response)
        return b"<Upload>" in await response.read()

    async def check_ready(self, bucket: str) -> None:
        """HEAD the bucket and name what is wrong: a HEAD answer has no body to carry a code,
        so the status says it (404: the bucket is missing; 401/403: the gateway's keys)."""
        try:
            response = await self._send("HEAD", bucket, None, {})
        except S3Error as error:  # no connection, or no credentials to sign with
            raise NotReady.unreachable(error) from error
        status = response.status
        response.release()
        if status < 300:
            return
        if status == 404:
            raise NotReady("NoSuchBucket", f"upstream bucket {bucket} does not exist")
        if status in (401, 403):
            raise NotReady("AuthFailure", f"upstream refused the gateway's credentials ({status})")
        raise NotReady("UpstreamError", f"upstream answered {status}")

    async def create_bucket(self, bucket: str) -> None:
        """Create an upstream bucket (the quick start's, when missing), in the upstream's
        region: us-east-1 is spelled with no LocationConstraint, as S3 wants it."""
        region = self._config.region
        body = b""
        if region != "us-east-1":
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        headers = {"content-length": str(len(body))}
        payload_hash = hashlib.sha256(body).hexdigest()
        response = await self._send(
            "PUT", bucket, None, headers, body=body, payload_hash=payload_hash
        )
        await self._raise_for_status(response)
        response.release()


def _quoted(entry: ListEntry) -> ListEntry:
    """An entry with its ETag in quotes, as S3 lists it (some upstreams leave them out)."""
    etag = quoted_etag(entry.etag)
    return ListEntry(entry.key, etag, entry.size, entry.last_modified, entry.storage_class)


def _unreadable(method: str, response: UpstreamResponse) -> S3Error:
    log.warning(
        "upstream answered %s %d without an ETag (Content-Type %r)",
        method,
        response.status,
        response.headers.get("Content-Type"),
    )
    return S3Error(S3ErrorCode.InternalError, upstream_errors.STORAGE_UNREADABLE)


def _check_unmodified(conditions: ReadConditions, etag: str, last_modified: str) -> None:
    """412 when ``x-amz-copy-source-if-unmodified-since`` fails for the object a self-copy's
    HEAD read: the copy is then bound to that HEAD's ETag, which on S3 overrides this condition
    (wave 18 R3F: unbound, an overwrite between the HEAD and the copy got the old metadata)."""
    unmodified = ReadConditions(if_unmodified_since=conditions.if_unmodified_since)
    if copy_source_failed(unmodified, etag, last_modified):
        raise S3Error(
            S3ErrorCode.PreconditionFailed, Condition="x-amz-copy-source-If-Unmodified-Since"
        )
