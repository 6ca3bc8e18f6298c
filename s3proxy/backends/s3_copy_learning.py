"""What an S3 upstream's server-side part copies do, learnt once per upstream.

Split from :mod:`s3proxy.backends.s3_multipart`: whether UploadPartCopy gives the part S3's
ETag and whether it keeps ``x-amz-copy-source-if-*`` is one piece of learnt upstream
behaviour, apart from the requests that use it. The ``Server`` of S3's own answer names the
servers known either way; any other — Ceph RGW 16 (no ``Server``), or a known one behind a
proxy that rewrites the header (nginx's own) — is judged by what its copies answer: a copy of a
whole object that was not uploaded in parts must give the part that object's ETag (the MD5 of
the same bytes). SeaweedFS behind such a proxy was taken for a server whose copies keep S3's
ETag, and its parts answered ETags of its own making (``…-2``, or a digest that is not the
range's MD5), which S3 clients take for the MD5 of the part.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import weakref
from contextvars import ContextVar
from datetime import UTC, datetime

from s3proxy.backends.part_copy import MAX_PART_SIZE
from s3proxy.backends.s3_transport import BODY_ERRORS, discard, from_s3
from s3proxy.backends.s3_transport_hooks import _Transport
from s3proxy.backends.s3_upload_answers import _ask_uploads, _upload_query
from s3proxy.backends.upstream_results import upstream_result
from s3proxy.backends.wire import encode_path
from s3proxy.conditions import any_condition
from s3proxy.errors import S3Error
from s3proxy.layout import UpstreamRoot
from s3proxy.model import UploadPartCopyInput
from s3proxy.upstream_xml import parse_copy_result, parse_initiate_result, parse_list_uploads

_COPIES_OWN_ETAG: dict[str, bool] = {}
"""Per upstream name: whether its server-side UploadPartCopy answers with the part's MD5.
Absent while not known (:func:`_copies_own_etag`)."""
_CHUNK_ETAG_SERVERS = ("seaweedfs",)
"""``Server`` headers of upstreams whose copied parts keep an ETag of their own making:
SeaweedFS 4.48 answers UploadPartCopy (and lists the part) with the source's chunk ETag
(``…-2``) or, for a range, a digest that is not the range's MD5."""
_MD5_ETAG_SERVERS = ("amazons3", "minio")
"""``Server`` headers of upstreams whose copied parts get S3's ETag (S3 itself: with SSE-KMS
neither the source's nor the part's ETag is an MD5, so no answer could show it)."""
_KEEPS_COPY_CONDITIONS: dict[str, bool] = {}
"""Per upstream name, learnt with :data:`_COPIES_OWN_ETAG`: whether its UploadPartCopy refuses
a source whose ``x-amz-copy-source-if-*`` fails (412). Ceph RGW 16 (no ``Server`` header)
copies it all the same and answers 200: there a conditional part copy passes through the
proxy, whose GET decides the conditions on the bytes it copies."""
_COPY_CONDITION_SERVERS = ("amazons3", "minio", "seaweedfs")
_PROBING: weakref.WeakKeyDictionary[object, asyncio.Lock] = weakref.WeakKeyDictionary()
"""Per upstream: held by the one probe in flight, so concurrent first part copies (aws-cli sends
ten at once) wait for its answer instead of each sending a probe of their own."""
PROBE = ".copy-probe"
"""Under the tenant's home prefix: the key of the probe's scratch upload (a name no bucket can
take, as bucket names never start with "."), created and aborted by :func:`_probe`."""
ABORT_TRIES = 3
"""Aborts sent for a scratch upload while the upstream fails them (a 5xx, no answer)."""
LEFTOVER_AGE = 600.0
"""Seconds after which an upload found at the probe's key is a leftover (its abort failed all
:data:`ABORT_TRIES`, or its process died between creating and aborting it), aborted by the
next probe; a younger one may be another replica's probe in flight, and is left to it."""
SCRATCH: ContextVar[UpstreamRoot | None] = ContextVar("copy_probe_home", default=None)
"""The home of the tenant whose UploadPartCopy runs (set by the handler): where the probe may
create its scratch upload. None, or a home on another upstream: no probe, the copy passes
through the proxy (its part then gets the MD5 of its bytes, as S3 gives)."""


async def _learn_server(upstream: _Transport, bucket: str, key: str) -> tuple[str, int] | None:
    """What this upstream's copies do (:data:`_COPIES_OWN_ETAG` where its ``Server`` says,
    :data:`_KEEPS_COPY_CONDITIONS`), learnt once from the ``Server`` of a HEAD of a copy source;
    nothing while that HEAD fails (the copy reports it) or is not S3's own (:func:`from_s3`: a
    page in front of it). While the copies' ETags are not known, the source's ETag and size
    that HEAD read (None when not asked or not read)."""
    if upstream.name in _COPIES_OWN_ETAG and upstream.name in _KEEPS_COPY_CONDITIONS:
        return None
    response = await upstream._send("HEAD", bucket, key, {})
    server = response.headers.get("Server", "").strip().lower()
    etag, size = response.headers.get("ETag", ""), response.headers.get("Content-Length", "")
    response.release()
    if response.status >= 300 or not from_s3(response):
        return None
    _KEEPS_COPY_CONDITIONS.setdefault(upstream.name, server.startswith(_COPY_CONDITION_SERVERS))
    if server.startswith(_CHUNK_ETAG_SERVERS):
        _COPIES_OWN_ETAG.setdefault(upstream.name, False)
    elif server.startswith(_MD5_ETAG_SERVERS):
        _COPIES_OWN_ETAG.setdefault(upstream.name, True)
    return (etag, int(size)) if size.isdigit() and etag else None


async def _copies_own_etag(upstream: _Transport, request: UploadPartCopyInput) -> bool:
    """Whether a server-side copy gives the part S3's ETag (the MD5 of its bytes). While that
    is not known, the first byte of the source is copied into a scratch upload's part and read
    (:func:`_probe`), once; a copy that cannot ask so (a source of fewer than 2 bytes, source
    conditions the probe would have to meet too, a tenant without a home on this upstream)
    passes through the proxy meanwhile, and so does one that is refused whatever the answer (a
    range past the source's end, a part over 5 GiB: no probe is spent on it)."""
    source = await _learn_server(upstream, request.source_bucket, request.source_key)
    known = _COPIES_OWN_ETAG.get(upstream.name)
    if known is not None:
        return known
    if source is None or source[1] < 2 or any_condition(request.source_conditions):
        return False
    first, last = request.source_range or (0, source[1] - 1)
    if last >= source[1] or last - first + 1 > MAX_PART_SIZE:
        return False  # refused either way (InvalidRange, too large), the part left as it was
    async with _PROBING.setdefault(upstream, asyncio.Lock()):  # concurrent first copies: one
        known = _COPIES_OWN_ETAG.get(upstream.name)
        if known is not None:
            return known
        learnt = await _probe(upstream, request, source[0])
        if learnt is not None:
            _COPIES_OWN_ETAG[upstream.name] = learnt
    return bool(learnt)


async def _probe(upstream: _Transport, request: UploadPartCopyInput, etag: str) -> bool | None:
    """Whether a copy of the source's first byte into a part answers that byte's MD5
    (SeaweedFS answers the source's ETag whatever the range); None when a request fails (the
    source changed since ``etag``, which binds the read and the copy) or the caller's tenant
    has no home on this upstream (:data:`SCRATCH`). The part is one of a scratch upload at
    ``home.prefix + ".copy-probe"`` (README "The upstream layout"), aborted at once: before
    wave 15 R2 it was the client's own part, and a copy that then failed (its source deleted
    in between) left that part holding one byte of another object, where S3 leaves a part as
    it was."""
    home = SCRATCH.get()
    if home is None or home.upstream != upstream.name:
        return None
    read = await upstream._send("GET", request.source_bucket, request.source_key, {
        "range": "bytes=0-0", "if-match": etag,
    })  # fmt: skip
    byte = None
    if read.status == 206 and read.headers.get("Content-Length") == "1":
        with contextlib.suppress(*BODY_ERRORS):
            byte = await read.content.readexactly(1)
    if byte is None:
        read.close()
        return None
    read.release()
    key = home.prefix + PROBE
    await _clear_leftovers(upstream, home.bucket, key)
    created = await upstream._send("POST", home.bucket, key, {}, query="uploads=")
    if created.status != 200:
        await discard(upstream.name, created, upstream._config.read_timeout)
        return None
    try:
        upload_id = await upstream_result(upstream, created, parse_initiate_result)
    except S3Error:
        return None
    try:
        return await _copy_byte(upstream, request, etag, (home.bucket, key, upload_id), byte)
    finally:
        await _abort(upstream, home.bucket, key, upload_id)


async def _abort(upstream: _Transport, bucket: str, key: str, upload_id: str) -> None:
    """The scratch upload ``upload_id`` aborted, sent again while the upstream fails it (at
    most :data:`ABORT_TRIES` times); one still there is the next probe's to clear (before wave
    16 a failed abort left an empty upload under the home for good)."""
    query = _upload_query(upload_id)
    for _ in range(ABORT_TRIES):
        try:
            aborted = await upstream._send("DELETE", bucket, key, {}, query=query)
        except S3Error:  # no answer: sent again
            continue
        if aborted.status == 204:
            aborted.release()
            return
        await discard(upstream.name, aborted, upstream._config.read_timeout)
        if aborted.status < 500 and aborted.status != 429:
            return  # gone already (404 NoSuchUpload), or refused whatever is sent


async def _clear_leftovers(upstream: _Transport, bucket: str, key: str) -> None:
    """Abort the uploads at the probe's ``key`` older than :data:`LEFTOVER_AGE`: what earlier
    probes (this process's or another's) failed to abort. One ListMultipartUploads per probe;
    a listing that fails leaves them for the next."""
    with contextlib.suppress(S3Error):
        response = await _ask_uploads(upstream, bucket, key, None, (None, None), 1000)
        page = await upstream_result(upstream, response, parse_list_uploads)
        before = time.time() - LEFTOVER_AGE
        for upload in page.uploads:
            if upload.key == key and _started(upload.initiated) < before:
                await _abort(upstream, bucket, key, upload.upload_id)


def _started(initiated: str) -> float:
    """An upload's ``Initiated`` as seconds since the epoch; one that cannot be read counts as
    just started (never taken for a leftover)."""
    try:
        moment = datetime.fromisoformat(initiated.replace("Z", "+00:00"))
    except ValueError:
        return time.time()
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def _copy_byte(
    upstream: _Transport,
    request: UploadPartCopyInput,
    etag: str,
    scratch: tuple[str, str, str],
    byte: bytes,
) -> bool | None:
    """Part 1 of the ``scratch`` upload (bucket, key, upload id) copied from the source's
    first byte: whether its ETag is that byte's MD5 (None: the copy failed)."""
    source = "/" + encode_path(request.source_bucket) + "/" + encode_path(request.source_key)
    headers = {
        "x-amz-copy-source": source,
        "x-amz-copy-source-range": "bytes=0-0",
        "x-amz-copy-source-if-match": etag,
    }
    bucket, key, upload_id = scratch
    response = await upstream._send("PUT", bucket, key, headers, query=_upload_query(upload_id, 1))
    if response.status != 200:
        await discard(upstream.name, response, upstream._config.read_timeout)
        return None
    try:
        answered, _ = await upstream_result(upstream, response, parse_copy_result)
    except S3Error:
        return None
    return answered.strip('" ').lower() == hashlib.md5(byte).hexdigest()
