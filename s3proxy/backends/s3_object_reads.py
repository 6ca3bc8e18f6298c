"""GetObject and HeadObject on an S3 upstream: the :class:`~s3proxy.backends.s3.S3Upstream` reads.

Split from :mod:`s3proxy.backends.s3` (a pure move, wave 16) to keep that module well under the
500-line limit: the object read path is one concern of its own, what a GET/HEAD asks the upstream
and what of its answer is trusted: the served range checked against the one asked
(:func:`_served_range`), an SSE-C refusal answered as S3 answers it
(:func:`_encrypted_read_status`), SeaweedFS's 416 on part 1 of an empty object
(:mod:`~s3proxy.backends.empty_part`), a small body read whole and a large one streamed with a
cut seen as a cut. A mixin, as :mod:`~s3proxy.backends.s3_multipart` is, so that S3Upstream
itself satisfies the Backend protocol; upstream errors still go through S3Upstream's one
translation (``_raise_for_status``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Protocol

from s3proxy import sse
from s3proxy.backends import upstream_errors
from s3proxy.backends.empty_part import NOT_SATISFIABLE, whole_if_empty
from s3proxy.backends.s3_part_reads import part_query, part_range_of
from s3proxy.backends.s3_transport import BODY_ERRORS, log_answer
from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.backends.upstream_response import UpstreamResponse
from s3proxy.backends.upstream_results import object_answer
from s3proxy.backends.wire import object_info, parse_content_range, read_headers
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange, GetObjectOutput, ObjectInfo, ReadConditions
from s3proxy.range_checksums import (
    answers_checksums,
    covers_whole,
    full_object_checksums,
    ranged_headers,
)

log = logging.getLogger("s3proxy.upstream")

WHOLE_BODY_LIMIT = 64 * 1024
"""GET bodies up to this size are read whole before answering (see ``_read_whole``)."""


class _Reader(_Transport, Protocol):
    """What the reads need of :class:`~s3proxy.backends.s3.S3Upstream`: the transport hooks,
    its ``sse`` setting and the reads themselves (a read of part 1 asks the whole again)."""

    @property
    def encryption_modes(self) -> frozenset[str]: ...

    async def head_object(
        self,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo: ...

    async def get_object(
        self,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput: ...

    async def _read_whole(
        self, response: UpstreamResponse, length: int
    ) -> tuple[AsyncIterator[bytes], Callable[[], Awaitable[None]]]: ...


class S3ObjectReadsMixin:
    """Part of :class:`~s3proxy.backends.s3.S3Upstream`, as the multipart mixin is."""

    async def head_object(
        self: _Reader,
        bucket: str,
        key: str,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> ObjectInfo:
        headers = read_headers(conditions, checksum_mode)
        response = await self._send("HEAD", bucket, key, headers, query=part_query(part_number))
        if response.status == NOT_SATISFIABLE and part_number == 1:  # SeaweedFS: .empty_part
            whole = partial(self.head_object, bucket, key, conditions, checksum_mode)
            return await whole_if_empty(_encrypted_read_status(self, response, conditions), whole)
        await _encrypted_read_status(self, response, conditions)
        response.release()
        sse.check_read(response.headers, conditions.customer_key)
        length = object_answer(response)
        if part_number is None:
            return object_info(response.headers, length)
        part_range = part_range_of(response, part_number)
        info = object_info(response.headers, part_range[2] if part_range else length)
        return dataclasses.replace(info, part_range=part_range)

    async def get_object(
        self: _Reader,
        bucket: str,
        key: str,
        byte_range: ByteRange | None,
        conditions: ReadConditions,
        checksum_mode: bool = False,
        part_number: int | None = None,
    ) -> GetObjectOutput:
        headers = read_headers(conditions, checksum_mode)
        if byte_range is not None:
            headers["range"] = byte_range.header()
        response = await self._send("GET", bucket, key, headers, query=part_query(part_number))
        if response.status == NOT_SATISFIABLE and part_number == 1:  # SeaweedFS: .empty_part
            whole = partial(self.get_object, bucket, key, byte_range, conditions, checksum_mode)
            return await whole_if_empty(_encrypted_read_status(self, response, conditions), whole)
        await _encrypted_read_status(self, response, conditions)
        try:
            sse.check_read(response.headers, conditions.customer_key)
        except S3Error:
            response.close()
            raise
        if part_number is not None and response.status != 206:
            try:
                part_range_of(response, part_number)
            except S3Error:
                response.close()
                raise
        try:  # a length too: chunked or to the end, a cut body would not be seen
            length = object_answer(response)
        except S3Error:
            response.close()
            raise
        content_range: tuple[int, int, int] | None = None
        size = length
        if response.status == 206 or byte_range is not None:
            content_range = _served_range(response, byte_range, part_number, length)
            size = content_range[2] if content_range is not None else length
        info = object_info(response.headers, size)
        if checksum_mode and content_range is not None and part_number is None:
            try:
                info = await _range_checksums(self, bucket, key, conditions, info, content_range)
            except BaseException:  # cancelled meanwhile: the answer goes back closed
                response.close()
                raise
        if length <= WHOLE_BODY_LIMIT:
            body, aclose = await self._read_whole(response, length)
        else:
            body, aclose = _stream(response, length), _closer(response)
        return GetObjectOutput(
            info=info,
            body=body,
            content_range=content_range,
            content_length=length,
            aclose=aclose,
        )

    async def _read_whole(
        self: _Reader, response: UpstreamResponse, length: int
    ) -> tuple[AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        """A small body read at once: the upstream connection goes back to the pool before
        the client is answered, and a failure is still a clean 503, not a cut connection."""
        try:
            data = await response.content.readexactly(length) if length else b""
        except BODY_ERRORS as exc:
            response.close()
            raise self._unavailable("GET", exc) from exc
        response.release()
        return _single(data), _nothing_to_close


def _served_range(
    response: UpstreamResponse,
    asked: ByteRange | None,
    part_number: int | None,
    length: int,
) -> tuple[int, int, int] | None:
    """The Content-Range of a GET answer, checked against the range asked: an upstream's 206
    for other bytes than those (or than its own Content-Length) is refused, never served as
    the range. A 200 to a ranged GET is the whole object (HTTP lets a server ignore Range);
    a 206 to a GET without Range or partNumber is refused."""
    if response.status != 206:
        return None
    served = parse_content_range(response.headers.get("Content-Range", ""))
    if served is not None and _range_matches(served, asked, part_number, length):
        return served
    response.close()
    log.warning(
        "upstream answered Content-Range %r (Content-Length %d) to a GET of %s",
        response.headers.get("Content-Range"),
        length,
        asked.header() if asked is not None else f"part {part_number}",
    )
    raise S3Error(S3ErrorCode.InternalError, upstream_errors.STORAGE_UNREADABLE)


async def _range_checksums(
    upstream: _Reader,
    bucket: str,
    key: str,
    conditions: ReadConditions,
    info: ObjectInfo,
    served: tuple[int, int, int],
) -> ObjectInfo:
    """``info`` of a ranged GET with the checksums S3 answers (:mod:`s3proxy.range_checksums`):
    none for part of the object; the object's FULL_OBJECT checksum for all of it, which no
    upstream answers to a Range (SeaweedFS 4.48), so one HEAD with checksum mode, bound to the
    served ETag, asks it; an object changed since, or a failed HEAD, claims none. An answer
    that carries a checksum or its type already says what the object has (a COMPOSITE one:
    nothing to answer), so it asks nothing more. The caller closes the GET's answer on any
    exception."""
    whole = covers_whole(*served)
    extra = ranged_headers(info.extra_headers, whole)
    if whole and not answers_checksums(info.extra_headers):  # what it answered stands
        pinned = ReadConditions(if_match=info.etag, customer_key=conditions.customer_key)
        try:
            head = await upstream.head_object(bucket, key, pinned, True)
        except S3Error:
            pass
        else:
            if head.etag == info.etag:
                extra.update(full_object_checksums(head.extra_headers))
    return dataclasses.replace(info, extra_headers=extra)


def _range_matches(
    served: tuple[int, int, int], asked: ByteRange | None, part_number: int | None, length: int
) -> bool:
    first, last, total = served
    if not (first <= last < total and last - first + 1 == length):
        return False
    if asked is None:
        return part_number is not None
    if asked.suffix is not None:
        return (first, last) == (max(0, total - asked.suffix), total - 1)
    end = total - 1 if asked.end is None else min(asked.end, total - 1)
    return (first, last) == (asked.start, end)


async def _encrypted_read_status(
    upstream: _Reader, response: UpstreamResponse, conditions: ReadConditions
) -> None:
    """``_raise_for_status`` for a GET/HEAD, but an upstream's refusal of an SSE-C read is
    answered as S3 answers it (:func:`s3proxy.sse.refused_read`), logged as any other
    upstream error is (its body unread: the upstream's code is not named)."""
    refusal = sse.refused_read(response.status, conditions.customer_key, upstream.encryption_modes)
    if refusal is not None:
        response.release()
        keyed = "with" if conditions.customer_key is not None else "without"
        detail = f"(an SSE-C read {keyed} a key)"
        log_answer(upstream.name, response.method, response.status, "", refusal, detail)
        raise refusal
    await upstream._raise_for_status(response)


async def _stream(response: UpstreamResponse, length: int) -> AsyncIterator[bytes]:
    """The upstream body; raises if it ends short so the client connection is aborted."""
    sent = 0
    try:
        # One upstream read per chunk, as received: iter_chunked(n) joins (copies) buffered
        # reads to make n bytes (BENCHMARKS.md "Large objects").
        async for chunk, _ in response.content.iter_chunks():
            sent += len(chunk)
            yield chunk
    except BODY_ERRORS as exc:
        log.warning("upstream body failed after %d of %d bytes: %r", sent, length, exc)
        raise
    if sent != length:
        log.warning("upstream body ended after %d of %d bytes", sent, length)
        raise ConnectionError("upstream body ended early")


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _nothing_to_close() -> None:
    return None


def _closer(response: UpstreamResponse) -> Callable[[], Awaitable[None]]:
    async def aclose() -> None:
        if not response.content.at_eof():
            response.close()
        else:
            response.release()

    return aclose
