"""Which buckets a tenant has: explicit mappings from config, plus buckets it created.

A created bucket B is recorded upstream, in the tenant's home, as an empty marker object at
``home.prefix + ".buckets/" + B`` (part of the layout contract: no client bucket root can
collide with it, since bucket names cannot start with "."). Every replica therefore sees the
same buckets. Creation writes the marker with ``If-None-Match: *``, so two replicas racing to
create one bucket cannot both succeed where the upstream honours conditional writes (AWS S3,
SeaweedFS, MinIO, recent Ceph); where it does not, both succeed and the bucket simply exists.

Existence is cached per process (positive answers only), checked against a generation that
every worker of one server shares (:mod:`s3proxy.backends.bucket_cache`): a creation or deletion
through any worker is seen by all of them before its response is sent. Across replicas the cache
lifetime, ``server.bucket_cache_seconds``, is the window in which a bucket deleted on one replica
may still be read on another; writes look again once the upstream's answer is older than
:data:`~s3proxy.backends.bucket_race.RECHECK_SECONDS` (:meth:`BucketRegistry.checked_since`).
DeleteBucket leaves a tombstone, an empty object at ``home.prefix + ".buckets/.deleted/" + B``
(written before the marker goes), so that the next CreateBucket of the name knows that what
lies under the root was written after a delete, and removes it (:mod:`.bucket_leftovers`); a
root with no tombstone was filled some other way (an operator's copy by the layout) and is
adopted as it is.

The marker's body is the bucket's settings record (CORS, tags: JSON, empty when there are none;
:mod:`s3proxy.backends.bucket_settings`). Its size comes with the existence HEAD, so a bucket
without settings costs no further request. The marker's LastModified is the bucket's
CreationDate until a settings write rewrites it; from then on the record keeps that date.
A bucket mapped in the configuration has no marker: its record, when it has one, is
``home.prefix + ".buckets/.mapped/" + B`` (bucket names never start with ".", so it is no
created bucket's marker, and it stays with the other records that no quota counts).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import PROCESS_CACHE, BucketCache, TenantCache
from s3proxy.backends.bucket_settings import BucketSettingsStore
from s3proxy.backends.records import RACED, write_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout
from s3proxy.limits import Gate
from s3proxy.model import ListEntry, ReadConditions, WriteConditions

MARKER_DIR = ".buckets/"
SETTINGS_DIR = MARKER_DIR + ".mapped/"
"""Settings records of buckets mapped in the configuration (created buckets use the marker)."""
TOMBSTONE_DIR = MARKER_DIR + ".deleted/"
"""Tombstones of buckets deleted through the gateway (a name starting with "." is no bucket's
marker: ListBuckets and the bucket-name index list ``.buckets/`` one level deep, by name)."""
EXPLICIT_CREATION_DATE = "2000-01-01T00:00:00.000Z"
"""Config-mapped buckets have no creation record; S3 clients need some date."""

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

ABSENT: ContextVar[tuple[BucketRegistry, str] | None] = ContextVar("absent_bucket", default=None)
"""The registry and bucket whose :meth:`BucketRegistry.require` last failed in this request
(reset by one that passes): the handler's NoSuchBucket came from that very check, so the
look-up of a granted foreign read (:mod:`s3proxy.granted_reads`) need not ask the caller's
home a second time (absences are not cached)."""


HAND_OVER = 10
"""A tenant's CreateBucket waits for the one before it ``HAND_OVER`` x ``limits.max_wait`` (10 s
by default) before it takes the home for hung: a creation through a working home can take
longer than ``max_wait`` (the cap's count lists up to 10,000 markers, one request per 1,000, on
a loaded upstream), and was refused 503 SlowDown for it (wave 16 E's bound of one ``max_wait``);
a home that does not answer held the turn for its read timeout (300 s)."""


def check_bucket_name(name: str) -> None:
    """S3's general-purpose bucket naming rules → InvalidBucketName."""
    reserved = name.startswith("amzn-s3-demo-") or name.endswith(_LATER_RESERVED)
    if reserved or not valid_bucket_name(name):
        raise S3Error(S3ErrorCode.InvalidBucketName, BucketName=name)


_LATER_RESERVED = (".mrap", "--x-s3", "--table-s3")
"""Suffixes AWS reserved later (access points, directory and table buckets): refused on
CreateBucket only, so that a bucket created before keeps working (valid_bucket_name)."""


def valid_bucket_name(name: str) -> bool:
    """Whether ``name`` follows S3's general-purpose bucket naming rules: every bucket a
    tenant can create does (CreateBucket checks them since the first release)."""
    if not _BUCKET_NAME.fullmatch(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return True
    return False


class MarkerNames(set[str]):
    """The names of a tenant's created buckets (:meth:`BucketRegistry.names`), and which of
    them had an empty marker when listed: no settings record, so no grant then (no ACL, and
    no object ACL, whose first grant flags the record). A look-up that goes on without a slow
    home needs no 503 for those (:mod:`s3proxy.bucket_index`)."""

    empty: frozenset[str] = frozenset()


class BucketRegistry:
    def __init__(
        self,
        tenant: TenantLayout,
        backends: Mapping[str, Backend],
        foreign_buckets: frozenset[str],
        cache: BucketCache = PROCESS_CACHE,
    ) -> None:
        self.tenant = tenant
        self._backends = backends
        self._foreign = foreign_buckets
        self._cache = cache.for_tenant(tenant.name)
        """The tenant's own generation: other tenants' bucket changes leave its answers be."""
        self._seen: dict[str, tuple[float, int]] = {}
        """bucket → (expiry, generation read before the upstream said it exists)."""
        self._record_sizes: dict[str, int] = {}
        """bucket → its marker's size at that HEAD: 0 means no settings."""
        self._checked: dict[str, float] = {}
        """bucket → when (monotonic) the last HEAD that found its marker was sent: a write
        trusts an older answer only after looking again (:mod:`.bucket_race`)."""
        self.settings = BucketSettingsStore(self)
        self.max_buckets: int | None = None
        """Buckets the tenant may have, mapped and created (None: no cap); set by the gateway
        from ``limits.max_buckets``."""
        self._creating = Gate(1, tenant.name, "bucket_creation", patient=True)
        """One CreateBucket of the tenant at a time in this process, so that two cannot both
        pass the cap's count (:meth:`_check_cap`). A gate, not a lock: the one holding it waits
        on the tenant's home, and a home that does not answer held it for the upstream's read
        timeout (300 s), queueing every CreateBucket of the tenant behind it, each holding a
        request slot. A waiter waits on while creations finish within :data:`HAND_OVER` x
        ``creation_wait`` of each other (10 of them at most, as an expensive slot's waiter:
        s3proxy.limits.Gate), else gets 503 SlowDown with ``Retry-After``."""
        self.creation_wait = 1.0
        """Set by the gateway from ``server.limits.max_wait``."""

    def keep_creation_turns(self, previous: BucketRegistry) -> None:
        """Take ``previous``'s creation gate: a SIGHUP reload builds the tenant a new registry,
        and a CreateBucket still in flight through the old one must take turns with those that
        arrive after the reload, or both could pass the cap's count."""
        self._creating = previous._creating

    def _marker(self, bucket: str, directory: str = MARKER_DIR) -> tuple[Backend, str, str]:
        """(backend, upstream bucket, key) of ``bucket``'s marker, or of its tombstone."""
        home = self.tenant.home
        if home is None:
            raise S3Error(S3ErrorCode.NoSuchBucket)
        return self._backends[home.upstream], home.bucket, f"{home.prefix}{directory}{bucket}"

    async def was_deleted(self, bucket: str) -> bool:
        """Whether a DeleteBucket of this gateway left ``bucket``'s tombstone (one HEAD)."""
        backend, upstream_bucket, tombstone = self._marker(bucket, TOMBSTONE_DIR)
        try:
            await backend.head_object(upstream_bucket, tombstone, ReadConditions())
        except S3Error as error:
            if error.code in (S3ErrorCode.NoSuchKey, S3ErrorCode.NoSuchBucket):
                return False
            raise
        return True

    async def forget_deletion(self, bucket: str) -> None:
        """Remove ``bucket``'s tombstone (CreateBucket, once the root is cleared)."""
        backend, upstream_bucket, tombstone = self._marker(bucket, TOMBSTONE_DIR)
        await backend.delete_object(upstream_bucket, tombstone)

    def _check_owner(self, bucket: str) -> None:
        if bucket in self._foreign and bucket not in self.tenant.buckets:
            raise S3Error(S3ErrorCode.AccessDenied)

    async def exists(self, bucket: str, fresh: bool = False) -> bool:
        """Whether ``bucket`` exists; ``fresh``: ask the upstream, whatever the cache says."""
        self._check_owner(bucket)
        if bucket in self.tenant.buckets:
            return True
        if not fresh and self._cache.trusted(self._seen.get(bucket)):
            return True
        if not valid_bucket_name(bucket):
            # No tenant created it, and its marker's name would leave .buckets/: a path-style
            # "/.mapped%2FB/…" or "/.acls%2FB%2F<sha>/…" would find a record of the proxy's as
            # its marker and then read, list and write that record space as a bucket.
            return False
        # Read before asking: a deletion that lands while the HEAD is in flight bumps the
        # generation past this value, so the answer below is never trusted afterwards.
        generation = self._cache.generation.current()
        backend, upstream_bucket, marker = self._marker(bucket)
        sent = time.monotonic()
        try:
            info = await backend.head_object(upstream_bucket, marker, ReadConditions())
        except S3Error as error:
            if error.code in (S3ErrorCode.NoSuchKey, S3ErrorCode.NoSuchBucket):
                self._seen.pop(bucket, None)
                self._checked.pop(bucket, None)
                return False
            raise
        self._checked[bucket] = sent
        entry = self._cache.entry(generation)
        if entry is not None:
            self._seen[bucket] = entry
            self._record_sizes[bucket] = info.size
        return True

    def checked_since(self, bucket: str, moment: float) -> bool:
        """Whether an upstream HEAD sent at or after ``moment`` (monotonic) found ``bucket``'s
        marker; a mapped bucket always exists."""
        return bucket in self.tenant.buckets or self._checked.get(bucket, -1.0) >= moment

    def known_record_size(self, bucket: str) -> int | None:
        """The size of a created bucket's marker as the trusted existence check saw it; None
        when no trusted check is cached (the settings store then reads the record)."""
        if self._cache.trusted(self._seen.get(bucket)):
            return self._record_sizes.get(bucket)
        return None

    def settings_record(self, bucket: str) -> tuple[Backend, str, str] | None:
        """Where ``bucket``'s settings record lives: (backend, upstream bucket, key); None for
        a tenant without a home (its mapped buckets cannot keep settings)."""
        if self.tenant.home is None:
            return None
        if bucket in self.tenant.buckets:
            home = self.tenant.home
            key = f"{home.prefix}{SETTINGS_DIR}{bucket}"
            return self._backends[home.upstream], home.bucket, key
        return self._marker(bucket)

    @property
    def cache(self) -> TenantCache:
        return self._cache

    @property
    def backends(self) -> Mapping[str, Backend]:
        return self._backends

    def forget(self, bucket: str) -> None:
        """Drop this process's cached answers for ``bucket`` (after a settings change)."""
        self._seen.pop(bucket, None)
        self._record_sizes.pop(bucket, None)

    async def require(self, bucket: str) -> None:
        if not await self.exists(bucket):
            ABSENT.set((self, bucket))
            raise S3Error(S3ErrorCode.NoSuchBucket)
        ABSENT.set(None)

    async def create(self, bucket: str, clear: Callable[[], Awaitable[None]] | None = None) -> None:
        """Create ``bucket``: ``clear()`` runs once no bucket of that name exists, before the
        marker is written (:func:`.bucket_leftovers.clear_root`: late writes of another replica
        into a bucket of that name deleted earlier, when its tombstone says so)."""
        if bucket in self.tenant.buckets:
            raise S3Error(S3ErrorCode.BucketAlreadyOwnedByYou, BucketName=bucket)
        if bucket in self._foreign:
            raise S3Error(S3ErrorCode.BucketAlreadyExists, BucketName=bucket)
        check_bucket_name(bucket)
        if self.tenant.home is None:
            raise S3Error(S3ErrorCode.AccessDenied, "This tenant has no home to create buckets in.")
        # The conditional write below is the race-safe check; this one gives the right answer
        # on upstreams that ignore If-None-Match, outside a race.
        if await self.exists(bucket):
            raise S3Error(S3ErrorCode.BucketAlreadyOwnedByYou, BucketName=bucket)
        await self._creating.enter(self.creation_wait * HAND_OVER)
        try:
            await self._check_cap(bucket)
            if clear is not None:
                await clear()
            backend, upstream_bucket, marker = self._marker(bucket)
            try:
                await write_record(
                    backend, upstream_bucket, marker, conditions=WriteConditions(if_none_match="*")
                )
            except S3Error as error:  # another create's marker: there, or being written
                if error.code in RACED:
                    raise S3Error(S3ErrorCode.BucketAlreadyOwnedByYou, BucketName=bucket) from None
                raise
            finally:
                self._cache.generation.bump()
        finally:
            self._creating.leave()

    async def _check_cap(self, bucket: str) -> None:
        """400 TooManyBuckets when the tenant already has ``max_buckets`` buckets: its mapped
        ones and its markers, counted by listing (one page per 1,000, so a CreateBucket costs a
        listing request more). Exact within one process (:attr:`_creating`); CreateBuckets
        racing through other workers or replicas may each pass the count (README, "Tenants,
        keys and limits")."""
        cap = self.max_buckets
        if cap is None:
            return
        mapped = len(self.tenant.buckets)
        created = await self.names(max(cap - mapped, 0)) if mapped < cap else None
        if created is None or mapped + len(created) >= cap:
            if created is not None and bucket in created:  # a racing CreateBucket of the name
                raise S3Error(S3ErrorCode.BucketAlreadyOwnedByYou, BucketName=bucket)
            raise S3Error(S3ErrorCode.TooManyBuckets)

    async def delete(self, bucket: str) -> None:
        """Remove the record, after writing the tombstone (a crash in between leaves the
        bucket, beside a tombstone that counts only once the marker is gone); the caller has
        checked that the bucket is empty."""
        if bucket in self.tenant.buckets:
            raise S3Error(
                S3ErrorCode.AccessDenied, "Buckets mapped in the configuration cannot be deleted."
            )
        backend, upstream_bucket, marker = self._marker(bucket)
        self._seen.pop(bucket, None)
        self._checked.pop(bucket, None)
        await write_record(*self._marker(bucket, TOMBSTONE_DIR))
        try:
            await backend.delete_object(upstream_bucket, marker)
        finally:  # after the upstream delete (even a failed one), before the response
            self._cache.generation.bump()

    async def _markers(self) -> AsyncIterator[tuple[str, ListEntry]]:
        """(name, listing entry) of each created bucket's marker in the tenant's home."""
        home = self.tenant.home
        if home is None:
            return
        backend = self._backends[home.upstream]
        prefix = f"{home.prefix}{MARKER_DIR}"
        token: str | None = None
        while True:
            # "/": one level only, so records kept below (SETTINGS_DIR, s3proxy.object_acl)
            # are one common prefix each, never paged through.
            page = await backend.list_objects(home.bucket, prefix, "/", None, 1000, token)
            for entry in page.entries:
                name = entry.key[len(prefix) :]
                # Only markers of bucket names: not the settings of mapped buckets
                # (SETTINGS_DIR, "."), nor the directory entry SeaweedFS lists as the
                # prefix itself ("") once its last marker is deleted.
                if _BUCKET_NAME.fullmatch(name):
                    yield name, entry
            token = page.next_token
            if token is None:
                break

    async def names(self, limit: int) -> MarkerNames | None:
        """The names of the buckets the tenant has created (its markers: one listing page per
        1,000), without their dates, those with empty markers noted; None once there are more
        than ``limit``."""
        found = MarkerNames()
        empty: set[str] = set()
        async for name, entry in self._markers():
            found.add(name)
            if not entry.size:
                empty.add(name)
            if len(found) > limit:
                return None
        found.empty = frozenset(empty)
        return found

    async def list(self) -> list[tuple[str, str]]:
        """(name, creation date ISO 8601) of every bucket the tenant has, by name."""
        found = {name: EXPLICIT_CREATION_DATE for name in self.tenant.buckets}
        recorded: dict[str, ListEntry] = {}
        async for name, entry in self._markers():
            if name not in found:
                found[name] = entry.last_modified
                if entry.size:  # rewritten: its record keeps the first date
                    recorded[name] = entry
        home = self.tenant.home
        if recorded and home is not None:
            backend = self._backends[home.upstream]
            found.update(await self.settings.creation_dates(backend, home.bucket, recorded))
        return sorted(found.items())
