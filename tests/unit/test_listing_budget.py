"""What one client listing page may cost upstream (wave 9, fairness by cost).

Under the ``flat`` key encoding the upstream never sees the delimiter, so the shard merge rolls
common prefixes up itself and skips past each one shard by shard. When every shard's keys fold
into a few large common prefixes, one client page of 1,000 prefixes cost every key under them:
~1,500 upstream requests and ~570,000 keys listed (16 shards, 600 keys a prefix). The merge now
stops refilling once it has asked for :data:`~s3proxy.listing.BUDGET_ROUNDS` first rounds' worth
and ends the page short with IsTruncated=true, as S3 may. These tests count what a page asks
upstream, and check that short pages resume exactly (nothing lost or repeated).
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.layout import KeyEncoding, key_part
from s3proxy.listing import (
    BUDGET_ROUNDS,
    MAX_KEYS,
    REQUEST_KEYS,
    ListQuery,
    first_fetch_size,
    merge_listing,
)
from s3proxy.model import ListEntry, ListPage
from tests.unit.test_listing import KEYS, Upstream, reference

ROOT = "home/t/bkt/"


class Sorted:
    """An S3 upstream over a sorted name list (no delimiter: the ``flat`` merge sends none),
    counting requests and the keys each asks for."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)
        self.asked: list[int] = []

    async def fetch(
        self, prefix: str, start_after: str | None, max_keys: int, token: str | None
    ) -> ListPage:
        self.asked.append(max_keys)
        after = token if token is not None else start_after
        names = self.names
        at = bisect.bisect_right(names, after) if after and after >= prefix else 0
        at = max(at, bisect.bisect_left(names, prefix))
        out: list[str] = []
        while at < len(names) and len(out) < max_keys and names[at].startswith(prefix):
            out.append(names[at])
            at += 1
        more = at < len(names) and names[at].startswith(prefix)
        entries = [ListEntry(k, '"e"', 1, "2026-01-01T00:00:00.000Z") for k in out]
        return ListPage(entries, [], out[-1] if more else None)


def roots(digits: int) -> list[str]:
    return [ROOT + format(i, f"0{digits}x") + "/" for i in range(16**digits)] if digits else [ROOT]


def stored(keys: list[str], digits: int, encoding: KeyEncoding) -> list[str]:
    def shard(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:digits] + "/" if digits else ""

    return [ROOT + shard(k) + key_part(k, encoding) for k in keys]


def folding_keys(prefixes: int, per_prefix: int) -> list[str]:
    return [f"d{p:04d}/{k:05d}" for p in range(prefixes) for k in range(per_prefix)] + ["z"]


def test_a_page_of_folding_prefixes_is_bounded_and_resumes_exactly() -> None:
    """60 common prefixes of 1,600 keys over 16 shards: before the bound, the first page asked
    for every key under them (~100,000) in ~400 requests; now no page asks for more than its
    budget plus one round, and the walk returns each prefix once, in order."""
    keys = folding_keys(60, 1600)
    upstream = Sorted(stored(keys, 1, "flat"))
    query = ListQuery("", "/", None, 1000)
    budget = BUDGET_ROUNDS * 16 * (first_fetch_size(1000, 16) + REQUEST_KEYS)
    most = budget + 16 * (MAX_KEYS + REQUEST_KEYS)  # a refill round started under budget
    got: list[str] = []
    pages = 0
    while True:
        before = len(upstream.asked)
        page = asyncio.run(merge_listing(roots(1), query, upstream.fetch, "flat"))
        asked = upstream.asked[before:]
        assert sum(n + REQUEST_KEYS for n in asked) <= most
        assert len(asked) <= 2 * 16
        got += page.prefixes + [entry.key for entry in page.entries]
        pages += 1
        if not page.is_truncated:
            break
        assert page.last is not None
        query = ListQuery("", "/", page.last, 1000)
    assert got == [f"d{p:04d}/" for p in range(60)] + ["z"]
    assert pages > 1
    assert sum(upstream.asked) < 2 * len(keys)  # the whole walk still lists each key ~once


def test_pages_without_folding_stay_full() -> None:
    """A plain 10,000-key listing never meets the bound: every page but the last is full."""
    keys = [f"k{i:05d}" for i in range(10_000)]
    upstream = Sorted(stored(keys, 1, "flat"))
    after = None
    sizes = []
    while True:
        page = asyncio.run(
            merge_listing(roots(1), ListQuery("", "/", after, 1000), upstream.fetch, "flat")
        )
        sizes.append(len(page.entries))
        if not page.is_truncated:
            break
        after = page.last
    assert sizes[:-1] == [1000] * (len(sizes) - 1)
    assert sum(sizes) == 10_000
    assert len(upstream.asked) < 200  # ~17 requests a page, as before


@settings(max_examples=150, deadline=None)
@given(
    keys=KEYS,
    digits=st.sampled_from([0, 1]),
    prefix=st.sampled_from(["", "a", "a/", "b-"]),
    delimiter=st.sampled_from([None, "/", "-", "a/"]),
    max_keys=st.integers(1, 7),
    encoding=st.sampled_from(["plain", "flat"]),
    budget=st.integers(0, 120),
)
def test_short_pages_under_any_budget_equal_reference(
    keys: list[str],
    digits: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    encoding: KeyEncoding,
    budget: int,
) -> None:
    """Whatever the budget (0: stop at the first refill once anything was returned), the pages
    walked by their last name give exactly the reference listing."""
    upstream = Upstream(stored(keys, digits, encoding), delimiter if encoding == "plain" else None)
    got_keys: list[str] = []
    got_prefixes: list[str] = []
    after = None
    for _ in range(10_000):
        page = asyncio.run(
            merge_listing(
                roots(digits),
                ListQuery(prefix, delimiter, after, max_keys),
                upstream.fetch,
                encoding,
                budget=budget,
            )
        )
        assert page.entries or page.prefixes or not page.is_truncated  # always progress
        got_keys += [entry.key for entry in page.entries]
        got_prefixes += page.prefixes
        if not page.is_truncated:
            break
        after = page.last
    assert (got_keys, got_prefixes) == reference(keys, prefix, delimiter)
