"""The ETag a CopyObject of a multipart object gets on the local store: the MD5 of its bytes.

Why: the store copies an object as a new row naming the source's blobs (no byte is copied),
and that row kept the source's multipart ETag (``"<hex>-N"``) and parts, where S3 makes the
copy a single object whose ETag is the MD5 of its bytes (:mod:`s3proxy.backends.copy_etag`).
The bytes are summed before the copy's transaction, never on the database thread, their blobs
pinned meanwhile (a delete or overwrite frees them only after, as for a GET); the transaction
then takes the sum only if the source still has the ETag summed (:class:`Unsummed`
otherwise: summed again, at most :data:`TRIES` times). Only such a copy reads the bytes; every
other copy stays a row.
"""

from __future__ import annotations

import asyncio
import hashlib

from s3proxy.backends.local.blobs import BlobFiles, Segment, read_segments

TRIES = 3
"""Sums made for one copy while its source keeps being overwritten by another multipart
object; then 503, as a copy through the gateway answers a source that changed."""
CHANGED = "The copy source changed during the copy."


class Unsummed(Exception):
    """Raised in the copy's transaction: its source is a multipart object whose bytes were not
    summed (or another object since): sum them, then commit again."""


async def md5_etag(files: BlobFiles, segments: list[Segment]) -> str:
    """The quoted MD5 of the concatenation of ``segments``, read and summed in 1 MiB chunks on
    worker threads (a large object holds no thread for long, and no chunk blocks the loop)."""
    digest = hashlib.md5()
    size = sum(segment.size for segment in segments)
    body = read_segments(files, segments, 0, size - 1)
    try:
        async for chunk in body:
            await asyncio.to_thread(digest.update, chunk)
    finally:
        await body.aclose()
    return f'"{digest.hexdigest()}"'
