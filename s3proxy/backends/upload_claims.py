"""One Complete or abort of an upload at a time across replicas, where the upstream cannot tell.

A quota tenant's abort reads what the upload's parts hold (ListParts), aborts it, then frees
that (:func:`.part_quotas.aborted`); its Complete reads the parts, completes, and frees them as
the object's bytes. Within one server these take turns per upload
(:class:`.quota_writes.UploadGates`), and S3 or Ceph RGW 16 answer the later of two NoSuchUpload.
SeaweedFS 4.48 answers 204 to an abort of an upload already aborted or completed, so two
aborts through two replicas at once (or an abort racing a Complete) both read the parts before
either ended the upload, both were answered as ending it, and both freed its parts (measured:
usage fell below what is stored by the parts' bytes for each abort that raced).

So where the upstream answers an abort of a gone upload 204 (or has not shown yet that it does
not: :data:`.upload_gone.ABORTS_GONE_UPLOADS`), the Complete or abort first claims the upload: it
writes ``home.prefix + ".ending/" + D`` (D: 32 hex digits of SHA-256 of the upstream, bucket,
key and upload id) under ``If-None-Match: *``, and removes it once it has counted. A claim
that exists is waited for (polled, at most :data:`PATIENCE` seconds): the next holder then reads
the upload after the previous one ended it, finds it gone (NoSuchUpload) and frees nothing.
A claim left by a process that died while holding it is waited for that long, then ignored (as
before: the two may still both free the parts). Quota tenants only; two requests more for each
Complete and abort there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from s3proxy.backends.base import Backend
from s3proxy.backends.records import write_record
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import WriteConditions

ENDING = ".ending/"
PATIENCE = 30.0
"""Seconds a Complete or abort waits for another's claim of its upload (a 10,000-part Complete
takes a few seconds)."""
HELD_ELSEWHERE = (S3ErrorCode.PreconditionFailed, S3ErrorCode.ConditionalRequestConflict)
"""The claim's ``If-None-Match: *`` PUT met another's claim: there (412), or being written at
that moment (AWS S3's 409)."""
FIRST_POLL = 0.02
LAST_POLL = 0.5


def needs_claim(backend: Backend) -> bool:
    """Whether Completes and aborts on ``backend`` claim their upload first: an S3 upstream not
    known to answer an abort of a gone upload NoSuchUpload (the local store ends uploads in
    its transactions). AWS S3 (known by its endpoint) and Ceph RGW 16 (by its answers) do
    answer it so, and are known without waiting for an abort: a process that serves Completes
    but no aborts would else pay a claim's PUT and DELETE on every quota Complete there."""
    if getattr(backend, "aws", False) is True or getattr(backend, "ceph_rgw", None) is True:
        return False
    name = getattr(backend, "name", None)
    endpoint = getattr(getattr(backend, "_config", None), "endpoint", None)
    if not isinstance(name, str) or not isinstance(endpoint, str):
        return False
    return ABORTS_GONE_UPLOADS.get((name, endpoint)) is not False


def claim_key(home: UpstreamRoot, location: UpstreamLocation, upload_id: str) -> str:
    named = "\0".join((location.upstream, location.bucket, location.key, upload_id))
    return f"{home.prefix}{ENDING}{hashlib.sha256(named.encode()).hexdigest()[:32]}"


@contextlib.asynccontextmanager
async def claimed(
    keeper: Backend, home: UpstreamRoot, location: UpstreamLocation, upload_id: str
) -> AsyncIterator[None]:
    """Hold the upload's claim (written on ``keeper``, the home's upstream) while the body runs;
    waits for another holder's, at most :data:`PATIENCE` seconds."""
    key = claim_key(home, location, upload_id)
    deadline = time.monotonic() + PATIENCE
    delay, held = FIRST_POLL, False
    while not held:
        try:
            await write_record(
                keeper, home.bucket, key, conditions=WriteConditions(if_none_match="*")
            )
            held = True
        except S3Error as error:
            if error.code not in HELD_ELSEWHERE:
                raise
            if time.monotonic() + delay > deadline:  # its holder died: go on unclaimed
                break
            await asyncio.sleep(delay)
            delay = min(2 * delay, LAST_POLL)
    try:
        yield
    finally:
        if held:
            with contextlib.suppress(S3Error):  # left behind: the next waits PATIENCE for it
                await keeper.delete_object(home.bucket, key)


@contextlib.asynccontextmanager
async def ending(
    gate: AbstractAsyncContextManager[None],
    backend: Backend,
    keeper: Backend,
    home: UpstreamRoot,
    location: UpstreamLocation,
    upload_id: str,
) -> AsyncIterator[None]:
    """A Complete's or abort's hold on its upload on ``backend``: this process's ``gate``
    (:class:`.quota_writes.UploadGates`), then, where :func:`needs_claim`, its claim."""
    async with gate:
        if not needs_claim(backend):
            yield
            return
        async with claimed(keeper, home, location, upload_id):
            yield
