"""Storage quotas: ``tenants.NAME.quota`` and ``tenants.NAME.bucket_quotas.BUCKET``.

Ceph RGW's user and bucket quotas, with its error code (403 QuotaExceeded). Accounting:

- a write of N bytes under a key counts N bytes and one object, minus what the object it
  replaces counted (an overwrite of an 8-byte object with 10 bytes adds 2 bytes, no object);
- a delete frees the object's bytes and its one object at once;
- a multipart part counts its bytes (no object) from the moment it is stored, as S3 bills
  stored parts: otherwise a tenant could park unbounded bytes on the shared upstream in
  uploads it never completes. A part sent again under its number counts the difference;
  CompleteMultipartUpload turns the upload's parts into the object (the object's bytes and one
  object, all the parts' bytes freed, those left out of the list too, as S3 frees them); an
  abort frees them all.

A write is refused when the usage after it would pass a limit, so a write that frees room (an
overwrite with fewer bytes) always passes. The local store checks inside the transaction that
commits the write (exact, whatever the number of workers); a PUT (and an UploadPart) is also
checked against its Content-Length before its body moves. On S3 upstreams the usage is kept in
records shared by the replicas (s3proxy.backends.usage_records): close, not exact. A tenant
without a quota pays nothing: no scope, no query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot, bucket_root
from s3proxy.model import QuotaScope

if TYPE_CHECKING:
    from s3proxy.config.models import TenantConfig

Root = tuple[str, str, str]
"""(upstream, upstream bucket, key prefix)."""


@dataclass(frozen=True, slots=True)
class Usage:
    objects: int = 0
    bytes: int = 0
    """Every byte a quota counts: objects' and those of open uploads' parts."""
    parts: int = 0
    """Of ``bytes``, those held by the parts of uploads not yet completed (the admin endpoint
    shows them apart)."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.objects + other.objects, self.bytes + other.bytes, self.parts + other.parts
        )

    def __neg__(self) -> Usage:
        return Usage(-self.objects, -self.bytes, -self.parts)

    def __sub__(self, other: Usage) -> Usage:
        return self + -other


def parts_change(size: int, replaced: int = 0) -> Usage:
    """A part of ``size`` bytes stored in place of one of ``replaced`` bytes (0: none)."""
    return Usage(0, size - replaced, size - replaced)


def completed(replaced: int | None, size: int, parts: int) -> Usage:
    """A Complete's change: an object of ``size`` bytes in place of one of ``replaced`` bytes
    (None: none), made of an upload whose parts, all freed, held ``parts`` bytes."""
    return after_write(Usage(), replaced, size) - parts_change(parts)


@dataclass(frozen=True, slots=True)
class Limit:
    max_bytes: int | None = None
    max_objects: int | None = None


def after_write(usage: Usage, replaced: int | None, size: int) -> Usage:
    """The usage once an object of ``size`` bytes is written in place of one of ``replaced``
    bytes (None: no object was there)."""
    if replaced is None:
        return Usage(usage.objects + 1, usage.bytes + size)
    return Usage(usage.objects, usage.bytes - replaced + size)


def exceeded(scope: QuotaScope, before: Usage, after: Usage) -> bool:
    """Whether going from ``before`` to ``after`` passes a limit of ``scope``. Only growth
    is refused: a write that leaves a figure where it was or lowers it passes even when the
    scope is already over (a quota lowered below the current usage)."""
    over_bytes = scope.max_bytes is not None and after.bytes > max(scope.max_bytes, before.bytes)
    over_objects = scope.max_objects is not None and after.objects > max(
        scope.max_objects, before.objects
    )
    return over_bytes or over_objects


def check(scope: QuotaScope, usage: Usage, replaced: int | None, size: int) -> None:
    check_change(scope, usage, after_write(Usage(), replaced, size))


def check_change(scope: QuotaScope, usage: Usage, change: Usage) -> None:
    """403 QuotaExceeded if adding ``change`` to ``usage`` passes a limit of ``scope``."""
    if exceeded(scope, usage, usage + change):
        raise S3Error(S3ErrorCode.QuotaExceeded)


def within(root: Root, bucket: str, key: str) -> bool:
    return root[1] == bucket and key.startswith(root[2])


def distinct_roots(roots: list[UpstreamRoot]) -> tuple[Root, ...]:
    """Roots with none inside another (a tenant's own roots may nest): each object once."""
    chosen: list[Root] = []
    for root in sorted(roots, key=lambda r: (r.upstream, r.bucket, len(r.prefix))):
        inside = any(
            (c[0], c[1]) == (root.upstream, root.bucket) and root.prefix.startswith(c[2])
            for c in chosen
        )
        if not inside:
            chosen.append((root.upstream, root.bucket, root.prefix))
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """One tenant's quotas, resolved to the scopes each write must fit in."""

    layout: TenantLayout
    tenant: Limit | None = None
    buckets: Mapping[str, Limit] | None = None

    def tenant_scope(self) -> QuotaScope | None:
        if self.tenant is None:
            return None
        roots = [self.layout.home] if self.layout.home is not None else []
        roots += list(self.layout.buckets.values())
        return QuotaScope(
            "tenant", distinct_roots(roots), self.tenant.max_bytes, self.tenant.max_objects
        )

    def bucket_scope(self, bucket: str) -> QuotaScope | None:
        limit = (self.buckets or {}).get(bucket)
        root = bucket_root(self.layout, bucket)
        if limit is None or root is None:
            return None
        roots = ((root.upstream, root.bucket, root.prefix),)
        return QuotaScope(f"bucket {bucket}", roots, limit.max_bytes, limit.max_objects)

    def scopes(self, bucket: str) -> tuple[QuotaScope, ...]:
        found = (self.tenant_scope(), self.bucket_scope(bucket))
        return tuple(scope for scope in found if scope is not None)


@runtime_checkable
class UsageCounter(Protocol):
    """A backend that can count what lies under its roots (the local store)."""

    name: str

    async def usage(self, roots: tuple[Root, ...]) -> Usage:
        """Objects and bytes under the roots on this backend (other upstreams' are ignored)."""
        ...

    async def check_quota(
        self, scopes: tuple[QuotaScope, ...], bucket: str, key: str, size: int
    ) -> None:
        """Raise QuotaExceeded if writing ``size`` bytes under (bucket, key) now would pass a
        limit: the early check, before a body moves. The commit checks again."""
        ...

    async def check_part_quota(
        self,
        scopes: tuple[QuotaScope, ...],
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        size: int,
    ) -> None:
        """The same for a part of ``size`` bytes stored under ``part_number`` of an upload
        (in place of the part already stored under that number, if any)."""
        ...


def _limits(scope: QuotaScope | None) -> dict[str, int | None] | None:
    if scope is None:
        return None
    return {"max_bytes": scope.max_bytes, "max_objects": scope.max_objects}


async def _count(
    roots: tuple[Root, ...], backends: Mapping[str, object], policy: QuotaPolicy, tracked: bool
) -> Usage | None:
    """Usage under ``roots``; None when one of them is on a backend that cannot count and the
    roots are not a quota scope's (an S3 upstream counts only what a quota makes it track)."""
    elsewhere = not all(isinstance(backends.get(root[0]), UsageCounter) for root in roots)
    if tracked and elsewhere and policy.layout.home is not None:
        from s3proxy.backends import usage_records  # it builds on this module

        book = usage_records.book(policy.layout, backends)  # type: ignore[arg-type]
        return await book.total(roots)
    total = Usage()
    for name in dict.fromkeys(root[0] for root in roots):
        backend = backends.get(name)
        if not isinstance(backend, UsageCounter):
            return None
        total += await backend.usage(tuple(root for root in roots if root[0] == name))
    return total


def _figures(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {"objects": None, "bytes": None, "upload_bytes": None}
    return {"objects": usage.objects, "bytes": usage.bytes, "upload_bytes": usage.parts}


async def usage_report(policy: QuotaPolicy, backends: Mapping[str, object]) -> dict[str, Any]:
    """A tenant's usage as the admin endpoint shows it: the whole tenant, and each mapped or
    quota-limited bucket, with their limits (null where none is set; on an S3 server, null
    for what no quota tracks: counting it would take a listing). ``bytes`` is what the quota
    counts; ``upload_bytes`` the part of it held by parts of uploads not yet completed."""
    whole = QuotaPolicy(policy.layout, policy.tenant or Limit()).tenant_scope()
    assert whole is not None
    report: dict[str, Any] = {
        **_figures(await _count(whole.roots, backends, policy, policy.tenant is not None)),
        "quota": _limits(policy.tenant_scope()),
        "buckets": {},
    }
    named = sorted({*policy.layout.buckets, *(policy.buckets or {})})
    for bucket in named:
        root = bucket_root(policy.layout, bucket)
        if root is None:
            continue
        limited = bucket in (policy.buckets or {})
        roots = ((root.upstream, root.bucket, root.prefix),)
        usage = await _count(roots, backends, policy, limited)
        report["buckets"][bucket] = {
            **_figures(usage),
            "quota": _limits(policy.bucket_scope(bucket)),
        }
    return report


def policy_for(layout: TenantLayout, tenant: TenantConfig) -> QuotaPolicy | None:
    """A tenant's quotas (s3proxy.quotas); None without any, so its writes cost nothing."""
    if tenant.quota is None and not tenant.bucket_quotas:
        return None
    buckets = {
        name: Limit(quota.max_bytes, quota.max_objects)
        for name, quota in tenant.bucket_quotas.items()
    }
    limit = tenant.quota
    whole = Limit(limit.max_bytes, limit.max_objects) if limit is not None else None
    return QuotaPolicy(layout, whole, buckets)
