"""Whose bucket a name is for a reader that does not own it: an anonymous request
(:mod:`s3proxy.anonymous`), or a read or copy signed by another tenant
(:mod:`s3proxy.granted_reads`).

Bucket names are per tenant, so several tenants may each have created a bucket of one name.
Before wave 13 such a name was served to nobody ("never guessed"), which let any tenant make
another's public bucket unreachable to every anonymous reader by creating a bucket of the same
name: one tenant hurting another. Now the name goes to the grant that has stood longest:

- a bucket whose ACL grants the reader (``public-read``/``public-read-write`` for anonymous
  requests, and ``authenticated-read`` too for other tenants) counts from the time its ACL
  started granting that without a break (the settings record's ``public_since`` /
  ``granted_since``; a record written before those members, by a release before wave 13:
  the end of the second of its own Last-Modified, which the grant cannot postdate,
  :mod:`s3proxy.backends.bucket_settings`; the bucket's ``created`` date before wave
  14 let an old private bucket made public through such a replica take the name);
- for GetObject/HeadObject, an object whose own record grants the reader and names the object
  stored now (:mod:`s3proxy.object_acl`) counts from when that grant was set: the later of
  the object's Last-Modified and its record's (a PutObjectAcl on an old object grants from
  then: counting from the object's age let a tenant with an old object under a public
  bucket's name take that key's readers by making it public later);
- the earliest wins; two claims of the same time (a race to the microsecond) or of unknown
  time leave the name to nobody, as before. A private bucket claims nothing, so creating a
  bucket of a public bucket's name never hides it, and a bucket made public later never takes
  over the readers of one public before it. A bucket mapped in the configuration still wins
  over created ones (the operator's choice), and two mapped ones still serve nobody.

Every replica reads the same records, so all of them decide alike once their caches
(``server.bucket_cache_seconds``) have passed; a bucket deleted and created again starts a new
claim. Only a name two tenants have pays more than before: one settings read per holder
(cached), and for an object read the object records of a holder whose bucket once had object
ACLs, unless the bucket was created after the earliest bucket grant found (none of its objects
can be older, so a squatter never makes a public bucket's reads cost upstream requests). A
Last-Modified has whole seconds, so within the second a bucket grant began, an object written
just after it can rank first: a race of one second, which a later squatter cannot join.

A look-up that went on without a slow or unreachable home, because the names that home held
when last listed do not include the bucket (:mod:`s3proxy.bucket_index`), cannot see a bucket
of the name that home created since; such a bucket was granted only after that listing. So the
claim then serves the earliest grant found only if it began more than :data:`CLOCK_MARGIN`
before that listing was sent, and answers 503 SlowDown otherwise (wave 17 R4: the later
tenant's bucket was served under the first owner's public name while the first owner's home
was slow). The margin covers a Last-Modified's whole seconds and clocks of replicas and
upstreams a little apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from s3proxy import object_acl
from s3proxy.acl import PUBLIC
from s3proxy.bucket_index import INDEX, Found
from s3proxy.cors_requests import has_bucket
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.object_acl import ObjectAcl

if TYPE_CHECKING:
    from s3proxy.backends.bucket_settings import BucketSettings
    from s3proxy.backends.mapped import MappedStorage

_SECOND = timedelta(seconds=1)
UNKNOWN = datetime.max.replace(tzinfo=UTC)
"""The time of a claim whose record says none: it ranks after every known one."""
CLOCK_MARGIN = timedelta(seconds=5)
"""How much older than a left-out home's last listing a grant must be to be served without
that home (module docstring): a Last-Modified's whole second plus clocks a little apart."""

_LOOKED_UP: ContextVar[tuple[str, datetime] | None] = ContextVar("name_look_up", default=None)
"""The bucket this request's last :func:`holders` looked up and, when it left a home out by
its last names, the wall-clock time that listing was sent: what :func:`claim` checks. A
context variable, so callers that pass on one holder of several keep the bound."""


@dataclass(frozen=True, slots=True)
class Claim:
    """The bucket a name resolves to for this reader, and what grants the read."""

    storage: MappedStorage
    settings: BucketSettings
    record: ObjectAcl | None
    """The object's own grant (checked again on the response); None: the bucket's ACL."""


async def holders(bucket: str, storages: Iterable[MappedStorage]) -> Found:
    """The storages among ``storages`` that have ``bucket``: the one that maps it in its
    configuration (none when several do: never guessed), else every one that has created it
    (only homes whose listed names may include it are asked, :mod:`s3proxy.bucket_index`)."""
    candidates = list(storages)
    _LOOKED_UP.set(None)
    mapped = [s for s in candidates if bucket in s.tenant.buckets]
    if mapped:
        return Found(mapped if len(mapped) == 1 else [])
    homes = [s for s in candidates if s.tenant.home is not None]
    found = await INDEX.candidates(bucket, homes)
    listed = found.listed_before
    held = Found()
    for storage in found:
        try:
            if await has_bucket(storage, bucket):
                held.append(storage)
        except S3Error:
            # A home that cannot tell (its upstream refuses the gateway, or fails) is left out
            # as a slow one is: 503 unless its last names rule the bucket out. Its error was
            # the answer, so one tenant's broken home failed every tenant's reads (wave 18 C).
            since = INDEX.left_out(bucket, storage)
            listed = since if listed is None else min(listed, since)
    if listed is not None:
        _LOOKED_UP.set((bucket, datetime.fromtimestamp(listed, UTC)))
    held.listed_before = listed
    return held


def _left_out_since(bucket: str, found: Sequence[MappedStorage]) -> datetime | None:
    """When the look-up of ``bucket`` (:func:`holders`: ``found`` itself, or this request's
    last one) left a home out by names it listed then, or None."""
    if isinstance(found, Found) and found.listed_before is not None:
        return datetime.fromtimestamp(found.listed_before, UTC)
    looked_up = _LOOKED_UP.get()
    return looked_up[1] if looked_up is not None and looked_up[0] == bucket else None


async def claim(
    bucket: str,
    key: str | None,
    found: Sequence[MappedStorage],
    bucket_acls: frozenset[str],
    object_acls: frozenset[str],
) -> Claim | None:
    """The earliest grant of ``bucket`` among ``found`` (:func:`holders`): a bucket ACL in
    ``bucket_acls``, or, with ``key`` (a GetObject/HeadObject), that object's record in
    ``object_acls``; None when nothing grants the read or two grants tie. 503 SlowDown when
    the look-up left a home out by its last names and the earliest grant is not older than
    that listing by :data:`CLOCK_MARGIN` (module docstring)."""
    claims: list[tuple[datetime, Claim]] = []
    left_out = _left_out_since(bucket, found)
    # One holder and no home left out (nearly every request): no time is read.
    ranked = len(found) > 1 or left_out is not None
    others: list[tuple[MappedStorage, BucketSettings]] = []
    for storage in found:
        try:
            settings = await storage.buckets.settings.get(bucket)
        except S3Error:  # deleted meanwhile, or unreadable: nothing granted
            continue
        if settings.acl in bucket_acls:
            since = _since(settings, bucket_acls) if ranked else UNKNOWN
            claims.append((since, Claim(storage, settings, None)))
        elif key is not None:
            others.append((storage, settings))
    best = min((since for since, _ in claims), default=UNKNOWN)
    for storage, settings in others:
        created = settings.created
        if ranked and created is not None and _parsed(created, http=False) - _SECOND > best:
            # Its objects are younger than the bucket grant found (a Last-Modified has whole
            # seconds): none can win, so none is read. A bucket created under a public one's
            # name therefore costs that name's readers no upstream request per read.
            continue
        record = await object_acl.granting(storage, bucket, key or "", object_acls)
        if record is not None:
            since = await _granted_since(storage, bucket, key or "", record) if ranked else UNKNOWN
            claims.append((since, Claim(storage, settings, record)))
    if not claims:
        return None
    claims.sort(key=lambda pair: pair[0])
    if left_out is not None and not claims[0][0] < left_out - CLOCK_MARGIN:
        # A bucket the left-out home created since its listing may hold an earlier grant.
        raise S3Error(S3ErrorCode.SlowDown, "A bucket store is slow to answer; please try again.")
    if len(claims) > 1 and claims[0][0] == claims[1][0]:
        return None
    return claims[0][1]


async def _granted_since(
    storage: MappedStorage, bucket: str, key: str, record: ObjectAcl
) -> datetime:
    """Since when an object's own ACL has granted the read: the later of the object's
    Last-Modified and its record's (when the grant was written). A PutObjectAcl on an old
    object grants from now, never from the object's age: else a tenant with an old object
    under a public bucket's name would take that key's readers by making it public later."""
    try:
        written = await object_acl.written(storage, bucket, key)
    except S3Error:  # unreadable: never ranked before a known grant
        return UNKNOWN
    if written is None:  # removed meanwhile: the response check refuses it anyway
        return UNKNOWN
    return max(_parsed(record.last_modified, http=True), _parsed(written, http=True))


def _since(settings: BucketSettings, acls: frozenset[str]) -> datetime:
    """Since when the bucket's ACL has granted what ``acls`` name."""
    recorded = settings.public_since if acls <= PUBLIC else settings.granted_since
    return _parsed(recorded or settings.created, http=False)


def _parsed(value: str | None, *, http: bool) -> datetime:
    if value is None:
        return UNKNOWN
    try:
        when = (
            parsedate_to_datetime(value)
            if http
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except (TypeError, ValueError):
        return UNKNOWN
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def first_created(
    bucket: str, found: Sequence[MappedStorage], others: Iterable[MappedStorage] = ()
) -> MappedStorage | None:
    """Of the tenants in ``found`` (:func:`holders`) that have created ``bucket``, the one that
    created it first (its CreationDate, as ListBuckets shows it); None when that cannot be told
    (a date unknown or unreadable, two the same: never a guess). 503 SlowDown when the look-up
    left a home out by its last names and the first found is not older than that listing by
    :data:`CLOCK_MARGIN`: that home may have created one since, but not before it; None when
    such a home had the name at that listing (``others``: the storages looked up), its marker
    empty then (:mod:`s3proxy.bucket_index` left it out: it granted nothing, yet was made first).

    For a CORS preflight of a header-signed request (:mod:`s3proxy.cors_requests`), which
    carries no key: the request goes to its signer's own bucket, which the preflight cannot
    know, so the rules of the bucket that had the name first answer. A later bucket of the
    name then never takes the first one's browser clients (its rules admitting origins the
    first never allowed, or a refusal), whatever its ACL; a public grant decides only what an
    anonymous request reaches (:func:`claim`)."""
    left_out = _left_out_since(bucket, found)
    if left_out is not None and any(
        s not in found and INDEX.held_when_listed(bucket, s) for s in others
    ):
        return None
    dated: list[tuple[datetime, MappedStorage]] = []
    for storage in found:
        try:
            created = await storage.buckets.settings.creation_date(bucket)
        except S3Error as error:
            if error.code is S3ErrorCode.NoSuchBucket:  # deleted meanwhile: no longer a holder
                continue
            return None  # unreadable: it may be the first
        dated.append((_parsed(created, http=False), storage))
    dated.sort(key=lambda pair: pair[0])
    if not dated or dated[-1][0] == UNKNOWN or (len(dated) > 1 and dated[0][0] == dated[1][0]):
        return None  # a bucket of unknown date may be the first
    if left_out is not None and not dated[0][0] < left_out - CLOCK_MARGIN:
        raise S3Error(S3ErrorCode.SlowDown, "A bucket store is slow to answer; please try again.")
    return dated[0][1]
