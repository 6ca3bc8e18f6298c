"""A bucket's settings (CORS rules, tags; later its ACL): one JSON record per bucket, upstream.

Where: a created bucket's marker object (``.buckets/B``) carries the record as its body; a bucket
mapped in the configuration keeps it at ``.buckets/.mapped/B`` in the tenant's home
(:mod:`s3proxy.backends.buckets`, README "layout"). Every replica therefore reads the same state.

The record is one general JSON object, ``{"cors": [...], "tags": [[key, value], ...]}``; members
this version does not know are kept as they are on every rewrite, so a later feature (the bucket
ACL) can add its own member without a migration. A created bucket without settings keeps an empty
marker, so the existence HEAD that every request makes already says "no settings" (size 0): such
buckets, and every request that does not need settings, pay nothing here.

Reads are cached per process like existence: an entry remembers the bucket-cache generation read
before the upstream GET and is trusted while that generation is unchanged and its lifetime
(``server.bucket_cache_seconds``) has not passed. A write bumps the generation before its response,
so every worker of the server sees it at once; other replicas within the lifetime.

A rewrite gives the marker a new LastModified, and the marker's LastModified is the bucket's
CreationDate in ListBuckets (:meth:`BucketRegistry.list`). So the first rewrite of a created
bucket's marker keeps the date the marker had as ``"created"`` in the record, and every later
one carries it on; ListBuckets reads it from the markers that hold a record. When the last
setting is removed the record keeps ``{"created": ...}`` (read as no settings, by older releases
too): an empty marker would make that write's time the bucket's date, and the date also ranks
tenants' buckets of one name for a CORS preflight (:func:`s3proxy.name_claims.first_created`),
so a delete-then-put of a bucket's CORS handed a later tenant's bucket its preflights (wave 18).
The cost: such a bucket's record is read (once per cache lifetime) like any other record.

A rewrite is conditional on the ETag just read (``If-Match``; ``If-None-Match: *`` for a new
record), so a DeleteBucket racing with it cannot be undone by the rewrite recreating the marker,
and of two settings writes racing one retries on the other's result (SeaweedFS, Ceph RGW and the
local store honour both conditions).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from s3proxy.acl import GRANTING, PUBLIC
from s3proxy.backends.records import RACED, read_record, read_record_info, write_record
from s3proxy.cors import CorsRule
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.model import ListEntry, WriteConditions

if TYPE_CHECKING:
    from s3proxy.backends.base import Backend
    from s3proxy.backends.buckets import BucketRegistry

MAX_RECORD_BYTES = 1024 * 1024
_DATE_READS = 8
"""Records ListBuckets reads at once for their creation dates."""
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
"""The record's ``ownership`` when CreateBucket asked for it: ACLs are disabled there, as on S3
(s3proxy.handlers.acl refuses any that grants more than the owner's full control)."""
_ATTEMPTS = 6
_BACKOFF_SECONDS = 0.01
"""Each retry waits up to this times its number: 50 concurrent PutBucketAcl (s3-tests'
test_bucket_concurrent_set_canned_acl) all land without a client retry."""


@dataclass(frozen=True, slots=True)
class BucketSettings:
    cors: tuple[CorsRule, ...] | None = None
    tags: tuple[tuple[str, str], ...] | None = None
    acl: str | None = None
    """A canned ACL granting others (s3proxy.acl.GRANTING); None: private."""
    ownership: str | None = None
    """BUCKET_OWNER_ENFORCED when ACLs are disabled; None: ACLs allowed (the default)."""
    other: dict[str, Any] = field(default_factory=dict)
    """Members of the record this version does not act on, kept as found."""
    created: str | None = None
    """A created bucket's CreationDate (ISO 8601, as its marker was listed before the record's
    first write); None until then, and always for a bucket mapped in the configuration."""
    public_since: str | None = None
    """Since when (ISO 8601) ``acl`` has granted anonymous reads (:data:`PUBLIC`) without a
    break; None when it does not, or the record predates the member. Of two tenants' buckets of
    one name, anonymous readers get the one public longest (:mod:`s3proxy.name_claims`)."""
    granted_since: str | None = None
    """The same for reads signed by other tenants (:data:`GRANTING`)."""

    @property
    def empty(self) -> bool:
        """No setting at all (the creation date is no setting)."""
        return (
            self.cors is None
            and self.tags is None
            and self.acl is None
            and self.ownership is None
            and not self.other
        )

    def encode(self) -> bytes:
        if self.empty and self.created is None:  # the layout's empty marker
            return b""
        record = dict(self.other)
        if self.created is not None:
            record["created"] = self.created
        if self.cors is not None:
            record["cors"] = [rule.to_json() for rule in self.cors]
        if self.tags is not None:
            record["tags"] = [list(pair) for pair in self.tags]
        if self.acl is not None:
            record["acl"] = self.acl
        if self.ownership is not None:
            record["ownership"] = self.ownership
        if self.public_since is not None:
            record["public_since"] = self.public_since
        if self.granted_since is not None:
            record["granted_since"] = self.granted_since
        return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def decode(cls, body: bytes) -> BucketSettings:
        if not body.strip():
            return NO_SETTINGS
        try:
            record = json.loads(body)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            cors = record.pop("cors", None)
            tags = record.pop("tags", None)
            acl = record.pop("acl", None)
            if acl is not None and acl not in GRANTING:
                raise ValueError("unknown ACL")
            ownership = record.pop("ownership", None)
            if ownership is not None and ownership != BUCKET_OWNER_ENFORCED:
                raise ValueError("unknown object ownership")
            dates = [
                record.pop(name, None) for name in ("created", "public_since", "granted_since")
            ]
            if any(date is not None and not isinstance(date, str) for date in dates):
                raise ValueError("a date not a string")
            created, public_since, granted_since = dates
            return cls(
                cors=tuple(CorsRule.from_json(r) for r in cors) if cors is not None else None,
                tags=tuple((str(k), str(v)) for k, v in tags) if tags is not None else None,
                acl=acl,
                ownership=ownership,
                other=record,
                created=created,
                public_since=public_since if acl in PUBLIC else None,
                granted_since=granted_since if acl is not None else None,
            )
        except (ValueError, TypeError, KeyError):
            # A record this gateway did not write: never guess at it, never show it.
            raise S3Error(S3ErrorCode.InternalError) from None


NO_SETTINGS = BucketSettings()


class BucketSettingsStore:
    """The settings of one tenant's buckets: cached reads, conditional rewrites."""

    def __init__(self, registry: BucketRegistry) -> None:
        self._registry = registry
        self._cached: dict[str, tuple[tuple[float, int], BucketSettings]] = {}
        self._dates: dict[str, tuple[str, str]] = {}
        """bucket → (its marker's ETag, the creation date that record keeps): a record's date
        never changes, and a rewrite changes the ETag, so a match needs no read."""
        self._listed: dict[str, tuple[tuple[float, int], str]] = {}
        """bucket → (bucket-cache entry, its empty marker's listed date): :meth:`creation_date`."""

    async def creation_dates(
        self, backend: Backend, upstream_bucket: str, markers: dict[str, ListEntry]
    ) -> dict[str, str]:
        """bucket → the creation date kept in its marker's record, for the markers that hold
        one (``markers``: bucket → its marker's listing entry). Read a few at a time; a record
        this gateway cannot read shows its marker's own date, never fails the listing."""
        limit = asyncio.Semaphore(_DATE_READS)

        async def one(name: str, entry: ListEntry) -> str | None:
            known = self._dates.get(name)
            if known is not None and known[0] == entry.etag:
                return known[1]
            try:
                async with limit:
                    found = await read_record(backend, upstream_bucket, entry.key, MAX_RECORD_BYTES)
            except S3Error as error:
                if error.code is not S3ErrorCode.InternalError:  # over the size: not ours
                    raise
                return None
            date = recorded_date(found[0]) if found is not None else None
            if date is not None and found is not None:
                self._dates[name] = (found[1], date)
            return date

        names = list(markers)
        dates = await all_or_none(*(one(name, markers[name]) for name in names))
        return {name: date for name, date in zip(names, dates, strict=True) if date is not None}

    async def get(self, bucket: str) -> BucketSettings:
        """``bucket``'s settings (NoSuchBucket when it does not exist)."""
        registry = self._registry
        await registry.require(bucket)
        mapped = bucket in registry.tenant.buckets
        if not mapped and registry.known_record_size(bucket) == 0:
            return NO_SETTINGS  # the existence check saw an empty marker: nothing to read
        cached = self._cached.get(bucket)
        if cached is not None and registry.cache.trusted(cached[0]):
            return cached[1]
        generation = registry.cache.generation.current()
        settings, _ = await self._read(bucket)
        entry = registry.cache.entry(generation)
        if entry is not None:
            self._cached[bucket] = (entry, settings)
        return settings

    def cached(self, bucket: str) -> BucketSettings | None:
        """``bucket``'s settings when a trusted copy is cached, else None: no request made."""
        cached = self._cached.get(bucket)
        if cached is not None and self._registry.cache.trusted(cached[0]):
            return cached[1]
        return None

    async def stored(self, bucket: str) -> BucketSettings:
        """``bucket``'s settings as stored now, never a cached copy (NoSuchBucket when it is
        gone): what an anonymous write is judged by (:mod:`s3proxy.anonymous`), since another
        replica may have revoked its grant within ``server.bucket_cache_seconds``."""
        return (await self._read(bucket))[0]

    async def creation_date(self, bucket: str) -> str | None:
        """``bucket``'s CreationDate as ListBuckets shows it (ISO 8601): the date its record
        keeps, else its empty marker's own (one listing, then cached as existence is); None
        for a mapped bucket or a record that keeps no date (written before wave 11). What
        orders tenants' buckets of one name for a CORS preflight that cannot tell whose
        bucket its request is for (:func:`s3proxy.name_claims.first_created`)."""
        registry = self._registry
        settings = await self.get(bucket)
        if settings.created is not None or not settings.empty:
            return settings.created
        location = registry.settings_record(bucket)
        if location is None or bucket in registry.tenant.buckets:
            return None
        cached = self._listed.get(bucket)
        if cached is not None and registry.cache.trusted(cached[0]):
            return cached[1]
        generation = registry.cache.generation.current()
        date = await _listed_date(*location)
        entry = registry.cache.entry(generation)
        if entry is not None and date is not None:
            self._listed[bucket] = (entry, date)
        return date

    async def _read(self, bucket: str) -> tuple[BucketSettings, str | None]:
        """The record as stored now, and its ETag (None: no record)."""
        location = self._registry.settings_record(bucket)
        if location is None:
            return NO_SETTINGS, None
        found = await read_record_info(*location, MAX_RECORD_BYTES)
        if found is None:
            if bucket in self._registry.tenant.buckets:
                return NO_SETTINGS, None
            raise S3Error(S3ErrorCode.NoSuchBucket)  # deleted meanwhile
        body, info = found
        return _dated(BucketSettings.decode(body), info.last_modified), info.etag

    async def update(self, bucket: str, change: Callable[[BucketSettings], BucketSettings]) -> None:
        """Apply ``change`` to the stored record and write it back, retried when the record
        changed in between (another settings write won the race)."""
        registry = self._registry
        await registry.require(bucket)
        location = registry.settings_record(bucket)
        if location is None:
            raise S3Error(
                S3ErrorCode.NotImplemented,
                "Settings of this bucket cannot be stored: its tenant has no home.",
            )
        backend, upstream_bucket, key = location
        mapped = bucket in registry.tenant.buckets
        failed: S3Error | None = None
        created: str | None = None  # the marker's date, looked up once, by the first rewrite
        try:
            for attempt in range(_ATTEMPTS):
                if attempt:  # racing writers: spread the retries out
                    await asyncio.sleep(random.uniform(0, _BACKOFF_SECONDS * attempt))
                current, etag = await self._read(bucket)
                wanted = change(current)
                if wanted == current:
                    return  # a write that failed with a 5xx may have landed after all
                wanted = stamped(current, wanted)
                if not mapped and wanted.created is None:
                    if created is None:
                        created = await _listed_date(backend, upstream_bucket, key)
                    wanted = replace(wanted, created=created)
                try:
                    if await self._write(backend, upstream_bucket, key, wanted, etag, mapped):
                        return
                except S3Error as error:
                    # Ceph RGW answers some conditional writes that race on one object with a
                    # 5xx: the write is conditional, so reading again and retrying is safe.
                    if error.code is not S3ErrorCode.ServiceUnavailable:
                        raise
                    failed = error
            raise failed or S3Error(
                S3ErrorCode.SlowDown, "The bucket's settings are changing; retry."
            )
        finally:  # after the write (even a failed one), before the response
            self._cached.pop(bucket, None)
            registry.forget(bucket)
            registry.cache.generation.bump()

    @staticmethod
    async def _write(
        backend: Backend,
        upstream_bucket: str,
        key: str,
        settings: BucketSettings,
        etag: str | None,
        mapped: bool,
    ) -> bool:
        """One conditional write; False when the record changed since it was read."""
        if mapped and settings.empty:
            await backend.delete_object(upstream_bucket, key)
            return True
        body = settings.encode()
        # Upstreams disagree on the form of If-Match: SeaweedFS matches only the quoted ETag,
        # Ceph RGW 16 only the bare one. Each form is an atomic check where it is understood
        # and fails where it is not, so trying both never writes over a changed record.
        forms = [WriteConditions(if_none_match="*")]
        if etag:
            forms = [WriteConditions(if_match=etag)]
            if etag.startswith('"'):
                forms.append(WriteConditions(if_match=etag.strip('"')))
        for conditions in forms:
            try:
                await write_record(backend, upstream_bucket, key, body, conditions=conditions)
            except S3Error as error:
                if error.code in RACED:  # changed, or changing (409): read again
                    continue
                raise
            return True
        return False


async def _listed_date(backend: Backend, upstream_bucket: str, marker: str) -> str | None:
    """The marker's LastModified as ListBuckets shows it (a listing, not a HEAD: the same
    ISO 8601 form and precision); None when the marker is gone (the bucket was deleted)."""
    page = await backend.list_objects(upstream_bucket, marker, None, None, 1)
    if page.entries and page.entries[0].key == marker:  # the shortest key under the prefix
        return page.entries[0].last_modified
    return None


def recorded_date(body: bytes) -> str | None:
    """The creation date a marker's record keeps; None when it keeps none (or is not a record
    this gateway wrote: ListBuckets then shows the marker's own date, never an error)."""
    try:
        created = json.loads(body).get("created")
    except (ValueError, AttributeError):
        return None
    return created if isinstance(created, str) else None


def _dated(settings: BucketSettings, written: str) -> BucketSettings:
    """``settings`` whose ACL grants others, with the grant's time bounded where the record
    names none: a record an older release (before wave 13) made public carries no
    ``public_since``/``granted_since``, and counting it from the bucket's ``created`` date let
    an old private bucket, made public through such a replica during a rolling upgrade, take
    the name (and its readers) from another tenant's bucket public since long before. Its ACL
    was set no later than the record was last written, so it counts from the end of the second
    of the record's Last-Modified (``written``, an HTTP-date of whole seconds): never earlier
    than the grant began. The next rewrite through this release stores that time, so it no
    longer moves with later writes. Unreadable dates leave the record as it is (ranked last,
    :data:`s3proxy.name_claims.UNKNOWN`)."""
    public = settings.acl in PUBLIC and settings.public_since is None
    granting = settings.acl in GRANTING and settings.granted_since is None
    if not public and not granting:
        return settings
    try:
        when = parsedate_to_datetime(written)
    except (TypeError, ValueError):
        return settings
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    bound = _iso(when.astimezone(UTC) + timedelta(seconds=1))
    return replace(
        settings,
        public_since=bound if public else settings.public_since,
        granted_since=bound if granting else settings.granted_since,
    )


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamped(current: BucketSettings, wanted: BucketSettings) -> BucketSettings:
    """``wanted`` with the times since which its ACL grants others: kept from ``current`` while
    it granted them already, now where it starts to, gone where it stops. Every ACL change
    goes through :meth:`BucketSettingsStore.update`, so no handler has to know (the time is
    this gateway's clock: replicas agree as far as their clocks do)."""
    now = _iso(datetime.now(UTC))

    def since(group: frozenset[str], kept: str | None) -> str | None:
        if wanted.acl not in group:
            return None
        return kept if current.acl in group else now

    return replace(
        wanted,
        public_since=since(PUBLIC, current.public_since),
        granted_since=since(GRANTING, current.granted_since),
    )


def with_cors(rules: tuple[CorsRule, ...] | None) -> Callable[[BucketSettings], BucketSettings]:
    return lambda settings: replace(settings, cors=rules)


def with_tags(
    tags: tuple[tuple[str, str], ...] | None,
) -> Callable[[BucketSettings], BucketSettings]:
    return lambda settings: replace(settings, tags=tags)


def with_acl(acl: str | None) -> Callable[[BucketSettings], BucketSettings]:
    return lambda settings: replace(settings, acl=acl)
