"""A first listing page without a prefix starts with one listing of the shards' common root.

What it must keep: every page is what S3 answers (the reference listing of
:mod:`tests.unit.test_listing`), whatever the key set, shard count, encoding or upstream order;
nothing under the root but outside the shards reaches a client. What it is for: a small
bucket is listed by one upstream request instead of 16, and a large one costs no more requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy import listing
from s3proxy.backends.local import LocalStore
from s3proxy.layout import KeyEncoding, key_part
from s3proxy.listing import ListQuery, merge_listing
from s3proxy.model import ListPage
from tests.unit import test_key_encoding as key_encoding
from tests.unit.test_listing import KEYS, CountingUpstream, Upstream, reference, shard

ROOT = "home/t/bkt/"


def roots(digits: int) -> list[str]:
    return [ROOT + format(i, f"0{digits}x") + "/" for i in range(16**digits)]


def walk_from_root(
    keys: list[str],
    digits: int,
    max_keys: int,
    encoding: KeyEncoding,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    tree: bool = False,
    extra: tuple[str, ...] = (),
) -> tuple[list[str], list[str], int]:
    """Every page of a listing with ``whole_root`` given, as the gateway gives it (no
    delimiter upstream); ``extra``: upstream names under the root but outside its shards."""
    upstream_keys = [ROOT + shard(k, digits) + key_part(k, encoding) for k in keys]
    upstream = Upstream([*upstream_keys, *extra], None, tree)
    got_keys: list[str] = []
    got_prefixes: list[str] = []
    after: str | None = None
    for _ in range(10_000):
        query = ListQuery(prefix, delimiter, after, max_keys)
        page = asyncio.run(
            merge_listing(roots(digits), query, upstream.fetch, encoding, whole_root=ROOT)
        )
        got_keys += [entry.key for entry in page.entries]
        got_prefixes += page.prefixes
        if not page.is_truncated:
            return got_keys, got_prefixes, upstream.calls
        after = page.last
    raise AssertionError("the listing never ended")


@settings(max_examples=200, deadline=None)
@given(
    keys=KEYS,
    digits=st.sampled_from([1, 2]),
    encoding=st.sampled_from(["plain", "flat"]),
    prefix=st.sampled_from(["", "", "a", "é"]),
    delimiter=st.sampled_from([None, "/", "-"]),
    max_keys=st.integers(1, 70),
    tree=st.booleans(),
)
def test_pages_started_from_the_whole_root_equal_reference(
    keys: list[str],
    digits: int,
    encoding: KeyEncoding,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    tree: bool,
) -> None:
    """Random keys, shard counts and page sizes (a first page that the root listing covers
    whole, in part, or not at all), byte-ordered or (flat only) tree-ordered upstreams."""
    if encoding == "plain":
        tree = False  # plain keys are not exact on a tree-ordered upstream, with or without it
        delimiter = None  # the gateway sends a plain listing's delimiter upstream: no root
    got_keys, got_prefixes, _ = walk_from_root(
        keys, digits, max_keys, encoding, prefix=prefix, delimiter=delimiter, tree=tree
    )
    assert (got_keys, got_prefixes) == reference(keys, prefix, delimiter)


def test_a_small_bucket_is_one_upstream_request() -> None:
    keys = [f"photo-{i:03d}.jpg" for i in range(40)]
    got, _, calls = walk_from_root(keys, 1, 1000, "flat")
    assert got == sorted(keys)
    assert calls == 1  # 16 without the root listing


def test_a_large_bucket_costs_no_more_requests() -> None:
    """10,000 keys, 1,000 a page: the root listing is shard 0's first request."""
    keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(10_000)]
    upstream_keys = [ROOT + shard(k, 1) + k for k in keys]
    counted = {}
    for whole in (None, ROOT):
        upstream = CountingUpstream(upstream_keys)
        page = asyncio.run(
            merge_listing(
                roots(1), ListQuery("", None, None, 1000), upstream.fetch, whole_root=whole
            )
        )
        assert [entry.key for entry in page.entries] == sorted(keys)[:1000]
        counted[whole] = (upstream.calls, upstream.listed)
    assert counted[ROOT] == counted[None]


def test_names_outside_the_shards_never_reach_a_client() -> None:
    """The layout's record of a mapped flat bucket (``R + ".s3proxy-layout"``) and whatever an
    operator left under a mapped prefix sort among the shards in a root listing."""
    keys = [f"k{i}" for i in range(30)]
    extra = (ROOT + ".s3proxy-layout", ROOT + "0", ROOT + "0-x", ROOT + "7zz", ROOT + "g/k1")
    for max_keys in (1, 3, 1000):
        got, _, _ = walk_from_root(keys, 1, max_keys, "flat", extra=extra)
        assert got == sorted(keys)


def test_the_gateway_lists_a_small_bucket_in_one_upstream_request(tmp_path: Path) -> None:
    """Through MappedStorage (a local store as the upstream): a created bucket and a mapped
    flat one, whose layout record lies under its root, each listed whole by one request."""

    async def main() -> None:
        store = LocalStore("up", tmp_path / "store")
        try:
            mapped = key_encoding.storage(store, "flat")
            await mapped.buckets.create("bkt")
            keys = [f"k{i:02d}" for i in range(20)]
            for bucket in ("bkt", "mapped"):
                for key in keys:
                    await key_encoding.put(mapped, bucket, key)
            calls = []
            list_objects = store.list_objects

            async def counted(*args: Any, **kwargs: Any) -> ListPage:
                calls.append(args[1])
                return await list_objects(*args, **kwargs)

            store.list_objects = counted  # type: ignore[method-assign]
            for bucket, root in (("bkt", "home/bkt/"), ("mapped", "m/")):
                calls.clear()
                assert await key_encoding.listed(mapped, bucket) == keys
                assert calls == [root]
        finally:
            await store.close()

    asyncio.run(main())


def test_no_first_page_costs_more_requests_or_refill_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a few keys a shard to many: never more requests, never a later refill round (the
    shard the root listing ends in is topped up with the others)."""
    rounds = []
    refill = listing._refill

    async def counted_refill(*args: Any, **kwargs: Any) -> None:
        rounds.append(1)
        await refill(*args, **kwargs)

    monkeypatch.setattr(listing, "_refill", counted_refill)
    for count in (20, 300, 500, 1000, 1200, 3000):
        keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(count)]
        upstream_keys = [ROOT + shard(k, 1) + k for k in keys]
        cost = {}
        for whole in (None, ROOT):
            upstream = CountingUpstream(upstream_keys)
            rounds.clear()
            query = ListQuery("", None, None, 1000)
            page = asyncio.run(merge_listing(roots(1), query, upstream.fetch, whole_root=whole))
            assert [entry.key for entry in page.entries] == sorted(keys)[:1000]
            cost[whole] = (upstream.calls, len(rounds))
        assert cost[ROOT][0] <= cost[None][0], count
        assert cost[ROOT][1] <= cost[None][1], count
