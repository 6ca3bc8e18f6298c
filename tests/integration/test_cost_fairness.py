"""What one client request may make the proxy do upstream (wave 9, fairness by cost).

Slot limits bound how many requests a tenant runs, not what each costs. Under the ``flat`` key
encoding the upstream never sees the delimiter, so a listing with a delimiter rolls common
prefixes up in the proxy and skips past each one with another upstream request: one client
page of 1,000 large common prefixes cost every key under them. A page now stops after a
bounded amount of upstream listing and ends short with IsTruncated=true, as S3 may
(s3proxy.listing.BUDGET_ROUNDS). Here a one-shard flat layout makes the bound bite with a few
hundred keys: 9 common prefixes of 24 keys and two more keys, pages of 10. The count of
upstream requests is read from the proxy's metrics; the pages must still walk every prefix
exactly once, through boto3's paginators for ListObjectsV2, ListObjects and ListObjectVersions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from benchmarks.listing import upstream_requests
from tests.integration.conftest import (
    BACKENDS,
    PHOTOS_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)

pytestmark = pytest.mark.integration

BUCKET = "alice-photos"
PREFIXES = [f"d{n:02d}/" for n in range(9)]
KEYS = [f"{prefix}{k:02d}" for prefix in PREFIXES for k in range(24)] + ["top-a", "top-b"]
PAGE = 10


def _lanes() -> list[str]:
    """The S3 upstreams chosen: the local store is ``plain`` by default, where the delimiter
    goes to the store and it seeks past each common prefix itself; it sends no upstream
    requests to count."""
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    return [b for b in BACKENDS if b != "local" and (chosen is None or b in chosen.split(","))]


@pytest.fixture(scope="module", params=_lanes())
def folded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy whose alice-photos is one flat shard at a fresh upstream prefix, holding KEYS."""
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if request.param in fixtures:
        server, upstream = (request.getfixturevalue(name) for name in fixtures[request.param])
        create_upstream_buckets(upstream)
    workdir = tmp_path_factory.mktemp(f"cost-{request.param}")
    tenants = proxy_settings(None, 0, 0, workdir)["tenants"]
    root = {"upstream": UPSTREAM, "bucket": PHOTOS_BUCKET, "prefix": f"cost-{os.urandom(5).hex()}/"}
    tenants["alice"]["buckets"][BUCKET] = root
    layout = {"shards": 1, "key_encoding": "flat"}
    running = start_proxy(server, upstream, workdir, tenants=tenants, layout=layout)
    try:
        alice = running.client("alice")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: alice.put_object(Bucket=BUCKET, Key=key, Body=b"x"), KEYS))
        yield running
        alice.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in KEYS]})
    finally:
        running.process.stop()


def test_a_folding_listing_page_costs_a_bounded_number_of_upstream_requests(
    folded: Proxy,
) -> None:
    """Without the bound the first page took 10 names in 10 upstream requests (one per prefix
    skipped, 24 keys each where a fetch asks for ~22); with it, 7 in 7."""
    alice = folded.client("alice")
    alice.list_objects_v2(Bucket=BUCKET, MaxKeys=1)  # bucket and layout looked up, cached
    before = upstream_requests(folded.admin_endpoint)
    page = alice.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=PAGE)
    spent = upstream_requests(folded.admin_endpoint) - before
    listed = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert page["IsTruncated"] is True
    assert listed == PREFIXES[: len(listed)]
    assert spent <= 7, spent


def test_short_pages_walk_every_prefix_once_through_the_paginators(folded: Proxy) -> None:
    alice = folded.client("alice")
    expected = [*PREFIXES, "top-a", "top-b"]
    config = {"PageSize": PAGE}
    for operation in ("list_objects_v2", "list_objects", "list_object_versions"):
        names: list[str] = []
        pages = alice.get_paginator(operation).paginate(
            Bucket=BUCKET, Delimiter="/", PaginationConfig=config
        )
        for page in pages:
            names += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            names += [o["Key"] for o in page.get("Contents", page.get("Versions", []))]
        assert sorted(names) == expected, operation
        assert len(names) == len(set(names)), operation
