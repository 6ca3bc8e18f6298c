"""What an S3 upstream's server-side part copies do, learnt once per upstream.

Split from :mod:`s3proxy.backends.s3_multipart`: whether UploadPartCopy gives the part S3's
ETag and whether it keeps ``x-amz-copy-source-if-*`` is one piece of learnt upstream
behaviour (read from the ``Server`` of S3's own answer), apart from the requests that use it.
"""

from __future__ import annotations

from s3proxy.backends.s3_transport import from_s3
from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.model import UploadPartCopyInput

_COPIES_OWN_ETAG: dict[str, bool] = {}
"""Per upstream name: whether its server-side UploadPartCopy answers with the part's MD5."""
_CHUNK_ETAG_SERVERS = ("seaweedfs",)
"""``Server`` headers of upstreams whose copied parts keep an ETag of their own making:
SeaweedFS 4.48 answers UploadPartCopy (and lists the part) with the source's chunk ETag
(``…-2``) or, for a range, a digest that is not the range's MD5."""
_KEEPS_COPY_CONDITIONS: dict[str, bool] = {}
"""Per upstream name, learnt with :data:`_COPIES_OWN_ETAG`: whether its UploadPartCopy refuses
a source whose ``x-amz-copy-source-if-*`` fails (412). Ceph RGW 16 (no ``Server`` header)
copies it all the same and answers 200: there a conditional part copy passes through the
proxy, whose GET decides the conditions on the bytes it copies."""
_COPY_CONDITION_SERVERS = ("amazons3", "minio", "seaweedfs")


async def _learn_server(upstream: _Transport, bucket: str, key: str) -> None:
    """What this upstream's copies do (:data:`_COPIES_OWN_ETAG`, :data:`_KEEPS_COPY_CONDITIONS`),
    learnt once from the ``Server`` of a HEAD of a copy source; nothing while that HEAD fails
    (the copy reports it) or is not S3's own (:func:`from_s3`: a page in front of it)."""
    if upstream.name in _COPIES_OWN_ETAG:
        return
    response = await upstream._send("HEAD", bucket, key, {})
    server = response.headers.get("Server", "").strip().lower()
    response.release()
    if response.status < 300 and from_s3(response):
        _COPIES_OWN_ETAG[upstream.name] = not server.startswith(_CHUNK_ETAG_SERVERS)
        _KEEPS_COPY_CONDITIONS[upstream.name] = server.startswith(_COPY_CONDITION_SERVERS)


async def _copies_own_etag(upstream: _Transport, request: UploadPartCopyInput) -> bool:
    """Whether a server-side copy gives the part S3's ETag (the MD5 of its bytes)."""
    await _learn_server(upstream, request.source_bucket, request.source_key)
    return _COPIES_OWN_ETAG.get(upstream.name, True)
