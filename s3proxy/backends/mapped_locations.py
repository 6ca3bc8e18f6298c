"""Where a tenant's client names live upstream: which buckets are its own, each bucket's root
and key encoding, and the upstream location of each key (:mod:`s3proxy.layout` applied), with
the quota scopes a write there is counted under. The base of
:class:`~s3proxy.backends.mapped.MappedStorage`, whose object, copy and listing calls start from
these answers; kept apart so that module holds the calls and this one the names."""

from __future__ import annotations

from collections.abc import Mapping

from s3proxy.backends.base import Backend
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.backends.key_encoding import MARKER as LAYOUT_MARKER
from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.backends.usage_records import UsageBook, book
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import (
    MAX_KEY_BYTES,
    KeyEncoding,
    TenantLayout,
    UpstreamLocation,
    UpstreamRoot,
    bucket_root,
    key_too_long,
    layout_root,
    locate_under,
)
from s3proxy.model import QuotaScope
from s3proxy.quotas import QuotaPolicy, UsageCounter

_MAX_ROOTS = 4096


class MappedLocations:
    def __init__(
        self,
        tenant: TenantLayout,
        backends: Mapping[str, Backend],
        digits: int,
        foreign_buckets: frozenset[str] = frozenset(),
        encodings: KeyEncodings | None = None,
        quotas: QuotaPolicy | None = None,
    ) -> None:
        self.tenant = tenant
        self._backends = backends
        self._digits = digits
        self.encodings = encodings or KeyEncodings.fixed("plain")
        """Which key encoding each root uses (s3proxy.backends.key_encoding)."""
        self._foreign = foreign_buckets
        """Buckets other tenants map explicitly: as in S3, someone else's bucket is AccessDenied."""
        self.buckets = BucketRegistry(tenant, backends, foreign_buckets)
        self.quotas = quotas
        """None for a tenant without quotas: its writes cost nothing more (s3proxy.quotas)."""
        self._roots: dict[str, UpstreamRoot | None] = {}
        """bucket_root per client bucket name: a pure function of the (immutable) layout, built
        once instead of an UpstreamRoot and a prefix string per request."""
        self._last_located: tuple[tuple[str, str, str], tuple[Backend, UpstreamLocation]] | None
        self._last_located = None
        """The last :meth:`locate` answer, by everything it depends on: PutObject locates its
        key before the body is read and again to write it (the key's hash and encoding)."""

    def quota_scopes(self, bucket: str) -> tuple[QuotaScope, ...]:
        return self.quotas.scopes(bucket) if self.quotas is not None else ()

    def usage_book(self, scopes: tuple[QuotaScope, ...], backend: Backend) -> UsageBook | None:
        """Where a write under ``scopes`` to an S3 upstream is checked and counted
        (s3proxy.backends.usage_records); None without a quota, or on the local store."""
        if not scopes or isinstance(backend, UsageCounter):
            return None
        return book(self.tenant, self._backends)

    def _backend(self, upstream: str) -> Backend:
        backend = self._backends.get(upstream)
        if backend is None:  # config validation makes this unreachable; never leak the name
            raise S3Error(S3ErrorCode.InternalError)
        return backend

    def _check_owner(self, bucket: str) -> None:
        if bucket in self._foreign and bucket not in self.tenant.buckets:
            raise S3Error(S3ErrorCode.AccessDenied)

    def locate(
        self, bucket: str, key: str, encoding: KeyEncoding | None = None
    ) -> tuple[Backend, UpstreamLocation]:
        """Where (bucket, key) lives upstream under ``encoding``. Without one, under the
        root's encoding if this process knows it yet, else ``plain`` (the shortest, so a key
        refused here is refused under either): good for refusing a bad key or bucket before
        a body moves, but only :meth:`existing` gives a location to read or write."""
        self._check_owner(bucket)
        if encoding is None:
            root = layout_root(self.tenant, bucket)
            encoding = (self.encodings.known(root) if root is not None else None) or "plain"
        wanted = (bucket, key, encoding)
        last = self._last_located
        if last is not None and last[0] == wanted:
            return last[1]
        root = self._root(bucket)
        backend = self._backends.get(root.upstream) if root is not None else None
        # The local store keeps keys of any length (StoreCore.unlimited_keys).
        limit = None if getattr(backend, "unlimited_keys", False) is True else MAX_KEY_BYTES
        location = locate_under(root, bucket, key, self._digits, encoding, limit)
        located = self._backend(location.upstream), location
        self._last_located = (wanted, located)
        return located

    def _root(self, bucket: str) -> UpstreamRoot | None:
        if bucket in self._roots:
            return self._roots[bucket]
        root = bucket_root(self.tenant, bucket)
        if len(self._roots) < _MAX_ROOTS:  # names are the clients' choice: a bounded memo
            self._roots[bucket] = root
        return root

    async def encoding(self, bucket: str) -> KeyEncoding:
        """The key encoding of an existing bucket's root, decided on first use."""
        root = layout_root(self.tenant, bucket)
        if root is None:
            raise S3Error(S3ErrorCode.NoSuchBucket)
        known = self.encodings.known(root)
        if known is not None:
            return known
        return await self.encodings.of(root, home=bucket not in self.tenant.buckets)

    async def existing(self, bucket: str, key: str) -> tuple[Backend, UpstreamLocation]:
        """The location of a key of a bucket that exists (NoSuchBucket otherwise)."""
        self._check_owner(bucket)
        if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise key_too_long(key)
        try:
            await self.buckets.require(bucket)
        except S3Error as error:
            # The bucket asked for, which for a copy is the source, not the request's own.
            if error.code is S3ErrorCode.NoSuchBucket:
                error.fields["BucketName"] = bucket
            raise
        encoding = await self.encoding(bucket)
        self._check_reserved(bucket, key, encoding)
        return self.locate(bucket, key, encoding)

    def _check_reserved(self, bucket: str, key: str, encoding: KeyEncoding) -> None:
        """AccessDenied for the one client key that is a proxy record: with one shard and
        ``plain`` keys, key ``.s3proxy-layout`` of a mapped bucket is its root's layout marker
        (a PUT with ``x-amz-meta-key-encoding: flat`` would re-label every key of the root)."""
        if (
            key == LAYOUT_MARKER
            and not self._digits
            and encoding == "plain"
            and bucket in self.tenant.buckets
        ):
            raise S3Error(
                S3ErrorCode.AccessDenied,
                f"The key {LAYOUT_MARKER} is the gateway's layout record in this bucket.",
            )

    def root(self, bucket: str) -> UpstreamRoot:
        self._check_owner(bucket)
        root = bucket_root(self.tenant, bucket)
        if root is None:
            raise S3Error(S3ErrorCode.NoSuchBucket)
        return root
