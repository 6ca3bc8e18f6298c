"""CreateBucket removes what lies under a bucket's root before writing its marker (wave 12, C;
s3proxy.backends.bucket_leftovers): what another replica wrote into a deleted bucket of that
name goes, but never anything of a bucket that exists — a create racing another replica's
create of the same name, whose client is already writing, loses the race and removes nothing.
The lanes cannot time that race; the fakes of test_bucket_removal can. Only where the
gateway's DeleteBucket left a tombstone (wave 12, C2): anything else is adopted."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from s3proxy.backends.bucket_leftovers import clear_root
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamRoot
from tests.unit.test_bucket_removal import HOME, MARKER, RECORDS, ROOT, Upstream


@dataclass
class CountingUpstream(Upstream):
    listings: int = 0

    async def list_objects(self, *args: Any, **kwargs: Any) -> Any:
        self.listings += 1
        return await super().list_objects(*args, **kwargs)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        self.listings += 1
        return await super().has_uploads(bucket, prefix)


TOMBSTONE = "alice/.buckets/.deleted/b"


@dataclass
class Registry:
    upstream: CountingUpstream
    heads: int = 0

    @property
    def backends(self) -> Mapping[str, Any]:
        return {"up": self.upstream}

    async def was_deleted(self, bucket: str) -> bool:
        return TOMBSTONE in self.upstream.objects

    async def forget_deletion(self, bucket: str) -> None:
        self.upstream.objects.discard(TOMBSTONE)

    async def exists(self, bucket: str, fresh: bool = False) -> bool:
        assert fresh  # never the cache: only the upstream knows whether a replica created it
        self.heads += 1
        return MARKER in self.upstream.objects


@dataclass
class Tenant:
    home: UpstreamRoot = HOME
    buckets: dict[str, UpstreamRoot] = field(default_factory=dict)


@dataclass
class Storage:
    buckets: Registry
    tenant: Tenant = field(default_factory=Tenant)

    def root(self, bucket: str) -> UpstreamRoot:
        return ROOT

    def shard_roots(self, root: UpstreamRoot) -> list[str]:
        return [root.prefix]

    def quota_scopes(self, bucket: str) -> tuple[()]:
        return ()

    def usage_book(self, scopes: Any, backend: Any) -> None:
        return None


def _clear(upstream: CountingUpstream, tenant: Tenant | None = None) -> Registry:
    registry = Registry(upstream)
    asyncio.run(clear_root(cast(Any, Storage(registry, tenant or Tenant())), "b"))
    return registry


def test_a_root_without_a_tombstone_is_adopted_as_it_is() -> None:
    """No DeleteBucket of this gateway left the name's tombstone: what lies under the root was
    placed there by the layout (an operator's copy), and is the new bucket's."""
    placed = {f"{ROOT.prefix}1/placed", f"{ROOT.prefix}2/placed", f"{RECORDS}d.tags"}
    uploads = [(f"{ROOT.prefix}3/upload", "u1")]
    upstream = CountingUpstream(objects=set(placed), uploads=list(uploads))
    registry = _clear(upstream)
    assert (upstream.objects, upstream.uploads) == (placed, uploads)
    assert (upstream.listings, registry.heads) == (0, 0)


def test_an_empty_root_costs_four_listings_and_its_tombstone_goes() -> None:
    upstream = CountingUpstream(objects={"alice/other/1/k", TOMBSTONE})
    registry = _clear(upstream)
    assert (upstream.listings, registry.heads) == (4, 0)
    assert upstream.objects == {"alice/other/1/k"}


def test_records_without_an_upload_go_too() -> None:
    """What a late Complete undone into the deleted bucket left (bucket_race): its upload is
    gone, its records are not."""
    upstream = CountingUpstream(objects={f"{RECORDS}d.tags", TOMBSTONE})
    registry = _clear(upstream)
    assert upstream.objects == set()
    assert registry.heads == 1


def test_late_objects_uploads_and_records_go_and_nothing_else() -> None:
    kept = {
        "alice/other/1/k",
        "alice/.uploads/other/x.tags",
        "alice/.buckets/other",
        "alice/.buckets/.acls/other/d",
    }
    late = {f"{ROOT.prefix}1/late", f"{ROOT.prefix}2/late", f"{RECORDS}d.tags", TOMBSTONE}
    late.add("alice/.buckets/.acls/b/d")  # a late public-read write's object ACL record
    upstream = CountingUpstream(
        objects={*late, *kept},
        uploads=[(f"{ROOT.prefix}3/upload", "u1"), ("alice/other/1/k", "u2")],
    )
    registry = _clear(upstream)
    assert upstream.objects == kept
    assert upstream.uploads == [("alice/other/1/k", "u2")]
    assert registry.heads >= 1  # each removal confirmed by a fresh look at the marker


def test_a_create_that_lost_the_race_removes_nothing() -> None:
    """Another replica's create wrote the marker after this create found none, and its client
    wrote an object: this create is BucketAlreadyOwnedByYou (200 in us-east-1), the object
    and the upload stay."""
    objects = {MARKER, TOMBSTONE, f"{ROOT.prefix}1/theirs"}
    uploads = [(f"{ROOT.prefix}2/theirs", "u1")]
    upstream = CountingUpstream(objects=set(objects), uploads=list(uploads))
    with pytest.raises(S3Error) as raised:
        _clear(upstream)
    assert raised.value.code is S3ErrorCode.BucketAlreadyOwnedByYou
    assert (upstream.objects, upstream.uploads) == (objects, uploads)


@pytest.mark.parametrize("prefix", [ROOT.prefix, f"{ROOT.prefix}x/", "alice/"])
def test_a_root_nesting_one_of_the_tenants_mapped_roots_is_left_alone(prefix: str) -> None:
    """A tenant's own roots may nest: a mapped bucket's objects are never a created one's
    leftovers, whichever holds the other."""
    mapped = {f"{prefix}k", f"{ROOT.prefix}x/k"} if prefix != "alice/" else {f"{ROOT.prefix}k"}
    mapped.add(TOMBSTONE)
    upstream = CountingUpstream(objects=set(mapped))
    tenant = Tenant(buckets={"photos": UpstreamRoot("up", "homes", prefix)})
    registry = _clear(upstream, tenant)
    assert upstream.objects == mapped
    assert (upstream.listings, registry.heads) == (0, 0)
