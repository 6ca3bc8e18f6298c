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
that exists is waited for (polled): the next holder then reads the upload after the previous
one ended it, finds it gone (NoSuchUpload) and frees nothing. Quota tenants only; two requests
more for each Complete and abort there (and a HEAD of the claim for one that waits).

**A claim left by a process that died holding it** (since wave 16). Each claim holds a random
token, so its ETag names its holder alone. A waiter HEADs the claim it meets (its ETag and
Last-Modified); one still the same :data:`PATIENCE` seconds later is taken for a dead holder's
(a live Complete or abort slower than that loses it too: the same window after which a waiter
went on unclaimed before), and is removed by a DELETE under ``If-Match`` its ETag (only where the
upstream refuses a delete whose ``If-Match`` fails, :mod:`.conditional_deletes`): a claim taken
since, by anyone, has another ETag and stays. The waiter then takes the claim and goes on as
usual. Before, the claim was ignored (both might free the parts) and never removed, so every
later Complete or abort of that upload waited 30 s. A claim that changed meanwhile is a live
holder's, waited for anew; after :data:`PATIENCE` x :data:`ROUNDS` in all, or after
:data:`PATIENCE` where the upstream cannot delete bound to an ETag, the waiter goes on
unclaimed, as before; so does one that cannot read the claim (its HEAD fails) or learn whether
the upstream deletes bound (the ``.delete-probe`` fails), rather than failing the client's
request. A holder removes its own claim bound to its ETag too: one so slow that a waiter took
its claim for a dead one's leaves the waiter's; where the upstream refuses the header (a 4xx,
or S3's 501 NotImplemented) it sends a plain DELETE.
An older replica
(wave 15) writes empty claims, all with one ETag: it reads a new claim as it reads its own
(it never reads the body), and one of its claims left behind is removed the same way, its
Last-Modified telling a claim taken again apart (a second's resolution: one rewritten between
the last HEAD and the DELETE would be removed; only during such an upgrade).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from s3proxy.backends.base import Backend
from s3proxy.backends.conditional_deletes import deletes_bound
from s3proxy.backends.quota_writes import MatchingDeletes
from s3proxy.backends.records import RACED, write_record
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import ReadConditions, WriteConditions

log = logging.getLogger("s3proxy.quotas")

ENDING = ".ending/"
PATIENCE = 30.0
"""Seconds a claim may stay the same before a waiter takes it for a dead holder's (a 10,000-part
Complete takes a few seconds)."""
ROUNDS = 3
"""A waiter goes on unclaimed after ``ROUNDS`` x :data:`PATIENCE` seconds in all."""
HELD_ELSEWHERE = RACED
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
    waits for another holder's, and removes one left by a dead holder (:class:`Waiting`)."""
    key = claim_key(home, location, upload_id)
    waiting = Waiting(keeper, home, key)
    delay, held, etag = FIRST_POLL, False, ""
    while not held:
        try:
            written = await write_record(
                keeper,
                home.bucket,
                key,
                secrets.token_hex(16).encode(),  # its ETag names this holder alone
                conditions=WriteConditions(if_none_match="*"),
            )
            held, etag = True, written.etag or ""
        except S3Error as error:
            if error.code not in HELD_ELSEWHERE:
                raise
            if waiting.out_of_time(delay):  # go on unclaimed, as before wave 16
                break
            if await waiting.removed_stale():
                delay = FIRST_POLL
                continue
            await asyncio.sleep(delay)
            delay = min(2 * delay, LAST_POLL)
    try:
        yield
    finally:
        if held:
            with contextlib.suppress(S3Error):  # left behind: the next removes it (Waiting)
                await _release(keeper, home.bucket, key, etag)


async def _release(keeper: Backend, bucket: str, key: str, etag: str) -> None:
    """Remove this holder's claim, bound to its ETag: a holder so slow that a waiter took its
    claim for a dead one's (412 or 404 now) leaves the waiter's. An upstream that refuses the
    header (another 4xx, or 501 NotImplemented, S3's answer to a header whose function it does
    not carry out) gets a plain DELETE, as before wave 16; one that ignores it deletes. Raises
    only on those two answers and on another 5xx (unreachable: the claim is left behind)."""
    if etag and isinstance(keeper, MatchingDeletes):
        try:
            await keeper.delete_matching(bucket, key, etag)
            return
        except S3Error as error:
            if error.code in RACED or error.code is S3ErrorCode.NoSuchKey or _failed(error):
                raise
    await keeper.delete_object(bucket, key)


def _failed(error: S3Error) -> bool:
    """An upstream's failure (a 5xx), not its refusal of the header (501 NotImplemented)."""
    return error.status >= 500 and error.code is not S3ErrorCode.NotImplemented


Seen = tuple[str, str]
"""A claim's (ETag, Last-Modified): which holder's, written when."""


class Waiting:
    """One waiter's view of the claim it keeps meeting: what it saw first and when."""

    def __init__(self, keeper: Backend, home: UpstreamRoot, key: str) -> None:
        self._keeper, self._home, self._key = keeper, home, key
        self._started = time.monotonic()
        self._seen: Seen | None = None
        self._since = 0.0
        self._rounds = ROUNDS
        self._blind = False
        """The claim cannot be read or removed here: waited for, as before wave 16."""

    def out_of_time(self, delay: float) -> bool:
        return time.monotonic() + delay > self._started + PATIENCE * self._rounds

    async def removed_stale(self) -> bool:
        """Whether the claim met was a dead holder's and is now removed: read it the first time
        and once it has been met for :data:`PATIENCE` seconds; still the same then, it is
        deleted bound to its ETag (another taken since stays). False otherwise."""
        now = time.monotonic()
        if self._blind or (self._seen is not None and now - self._since < PATIENCE):
            return False
        try:
            return await self._removed(now)
        except S3Error as error:  # the claim's HEAD, or the .delete-probe, failed
            log.warning("quotas: an upload claim not checked (%s): waited for", error.code.name)
            self._blind, self._rounds = True, 1  # go on unclaimed after PATIENCE, as before
            return False

    async def _removed(self, now: float) -> bool:
        seen = await self._read()
        if seen is None:  # released (or being written, 409): try again after the poll
            self._seen = None
            return False
        if seen != self._seen:  # a holder met for the first time: give it PATIENCE
            self._seen, self._since = seen, now
            return False
        keeper = self._keeper
        if not isinstance(keeper, MatchingDeletes) or not await deletes_bound(keeper, self._home):
            self._rounds = 1  # nothing removes it: go on unclaimed now, as before wave 16
            return False
        self._seen = None
        try:
            await keeper.delete_matching(self._home.bucket, self._key, seen[0])
        except S3Error:  # 412 / 404: taken again, or removed by another; or failed: try again
            return True
        log.warning("quotas: an upload claim unchanged for %.0f s removed (dead holder)", PATIENCE)
        return True

    async def _read(self) -> Seen | None:
        try:
            info = await self._keeper.head_object(self._home.bucket, self._key, ReadConditions())
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchKey:
                return None
            raise
        return info.etag, info.last_modified


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
