"""The shard merge against a reference S3 listing, over random key sets (hypothesis).

The in-memory upstream below lists like S3 (UTF-8 byte order, common prefixes rolled up and
counted once); the same function, applied to the client keys directly, is the reference the
merged, paginated result must equal.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.layout import KeyEncoding, key_part
from s3proxy.listing import ListQuery, MergedPage, merge_listing
from s3proxy.model import ListEntry, ListPage


def s3_list(
    keys: list[str], prefix: str, delimiter: str | None, start_after: str | None, max_keys: int
) -> tuple[list[str], list[str], bool]:
    """Reference ListObjectsV2 over a key set: (keys, common prefixes, truncated)."""
    out_keys: list[str] = []
    out_prefixes: list[str] = []
    for key in sorted(set(keys)):
        if not key.startswith(prefix) or (start_after is not None and key <= start_after):
            continue
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if out_prefixes and out_prefixes[-1] == common:
                    continue
                if start_after is not None and common <= start_after:
                    continue
                if len(out_keys) + len(out_prefixes) == max_keys:
                    return out_keys, out_prefixes, True
                out_prefixes.append(common)
                continue
        if len(out_keys) + len(out_prefixes) == max_keys:
            return out_keys, out_prefixes, True
        out_keys.append(key)
    return out_keys, out_prefixes, False


class Upstream:
    def __init__(self, keys: list[str], delimiter: str | None, tree: bool = False) -> None:
        self.keys = keys
        self.delimiter = delimiter
        self.tree = tree
        """List as SeaweedFS does: in directory-tree order (no delimiter)."""
        self.calls = 0

    async def fetch(
        self, prefix: str, start_after: str | None, max_keys: int, token: str | None
    ) -> ListPage:
        self.calls += 1
        after = token if token is not None else start_after
        if self.tree:
            return tree_list(self.keys, prefix, after, max_keys)
        keys, prefixes, truncated = s3_list(self.keys, prefix, self.delimiter, after, max_keys)
        entries = [ListEntry(k, '"e"', len(k), "2026-01-01T00:00:00.000Z") for k in keys]
        last = max([*keys, *prefixes]) if truncated else None
        return ListPage(entries, prefixes, last)


def tree_list(keys: list[str], prefix: str, after: str | None, max_keys: int) -> ListPage:
    """A directory-tree walk: names compared segment by segment."""

    def rank(key: str) -> list[str]:
        return key.split("/")

    chosen = sorted((k for k in set(keys) if k.startswith(prefix)), key=rank)
    if after is not None:
        chosen = [k for k in chosen if rank(k) > rank(after)]
    page = chosen[:max_keys]
    entries = [ListEntry(k, '"e"', len(k), "2026-01-01T00:00:00.000Z") for k in page]
    return ListPage(entries, [], page[-1] if len(chosen) > max_keys else None)


def shard(key: str, digits: int) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:digits] + "/" if digits else ""


def walk(
    keys: list[str],
    digits: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None = None,
    encoding: KeyEncoding = "plain",
    tree: bool = False,
) -> tuple[list[str], list[str], int]:
    root = "home/t/bkt/"
    upstream_keys = [root + shard(k, digits) + key_part(k, encoding) for k in keys]
    upstream = Upstream(upstream_keys, delimiter if encoding == "plain" else None, tree)
    roots = [root + format(i, f"0{digits}x") + "/" for i in range(16**digits)] if digits else [root]
    got_keys: list[str] = []
    got_prefixes: list[str] = []
    after = start_after
    pages = 0
    while True:
        page: MergedPage = asyncio.run(
            merge_listing(
                roots, ListQuery(prefix, delimiter, after, max_keys), upstream.fetch, encoding
            )
        )
        pages += 1
        got_keys += [e.key for e in page.entries]
        got_prefixes += page.prefixes
        if not page.is_truncated:
            return got_keys, got_prefixes, upstream.calls
        assert page.last is not None
        after = page.last
        assert pages < 10_000


def reference(
    keys: list[str], prefix: str, delimiter: str | None, start_after: str | None = None
) -> tuple[list[str], list[str]]:
    got_keys, got_prefixes, _ = s3_list(keys, prefix, delimiter, start_after, 10**9)
    return got_keys, got_prefixes


ALPHABET = st.sampled_from(
    ["a", "b", "/", "-", "0", "é", "\u0301", "~", "e", " ", "+", "\x01", "z"]
)
KEYS = st.lists(st.text(ALPHABET, min_size=1, max_size=8), max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    keys=KEYS,
    digits=st.sampled_from([0, 1, 2]),
    prefix=st.sampled_from(["", "a", "a/", "b-", "é"]),
    delimiter=st.sampled_from([None, "/", "-", "a/", "0"]),
    max_keys=st.integers(1, 7),
    start_after=st.one_of(st.none(), st.text(ALPHABET, max_size=3)),
)
def test_paged_merge_equals_reference(
    keys: list[str],
    digits: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> None:
    got_keys, got_prefixes, _ = walk(keys, digits, prefix, delimiter, max_keys, start_after)
    assert (got_keys, got_prefixes) == reference(keys, prefix, delimiter, start_after)


def test_common_prefix_in_many_shards_is_returned_once() -> None:
    keys = [f"dir/{i}" for i in range(50)] + ["top"]
    got_keys, got_prefixes, _ = walk(keys, 1, "", "/", 1000)
    assert got_prefixes == ["dir/"]
    assert got_keys == ["top"]


def test_shards_are_fetched_lazily() -> None:
    keys = [f"k{i:05d}" for i in range(5000)]
    root = "r/"
    upstream = Upstream([root + shard(k, 1) + k for k in keys], None)
    roots = [root + format(i, "x") + "/" for i in range(16)]
    page = asyncio.run(merge_listing(roots, ListQuery("", None, None, 100), upstream.fetch))
    assert [e.key for e in page.entries] == keys[:100]
    assert page.is_truncated
    assert upstream.calls == 16  # one small first page per shard, no more


def test_zero_max_keys_fetches_nothing() -> None:
    upstream = Upstream(["r/a"], None)
    page = asyncio.run(merge_listing(["r/"], ListQuery("", None, None, 0), upstream.fetch))
    assert (page.entries, page.prefixes, page.is_truncated, upstream.calls) == ([], [], False, 0)


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(st.text(st.sampled_from(["a", "b", "/", "-", "é"]), min_size=1, max_size=7)),
    prefix=st.sampled_from(["", "a", "a/"]),
    delimiter=st.sampled_from([None, "/", "-"]),
    max_keys=st.integers(1, 120),
    start_after=st.one_of(st.none(), st.text(st.sampled_from(["a", "b", "/"]), max_size=3)),
)
def test_pages_spanning_refills_equal_reference(
    keys: list[str],
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> None:
    """16 shards, pages large enough that shards run out mid-page and are refilled."""
    got_keys, got_prefixes, _ = walk(keys, 1, prefix, delimiter, max_keys, start_after)
    assert (got_keys, got_prefixes) == reference(keys, prefix, delimiter, start_after)


class CountingUpstream:
    """Sorted upstream keys, no delimiter: counts requests and entries listed."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.calls = 0
        self.listed = 0

    async def fetch(
        self, prefix: str, start_after: str | None, max_keys: int, token: str | None
    ) -> ListPage:
        after = token if token is not None else start_after
        start = bisect.bisect_right(self.keys, after) if after else 0
        start = max(start, bisect.bisect_left(self.keys, prefix))
        end = bisect.bisect_left(self.keys, prefix + "\U0010ffff")
        chosen = self.keys[start : min(end, start + max_keys)]
        self.calls += 1
        self.listed += len(chosen)
        entries = [ListEntry(k, '"e"', 1, "2026-01-01T00:00:00.000Z") for k in chosen]
        return ListPage(entries, [], chosen[-1] if start + max_keys < end else None)


def test_a_page_lists_little_more_upstream_than_it_returns() -> None:
    """10,000 keys over 16 shards, 1,000 a page: the upstream spends as much per key listed as
    the proxy, so each page asks ~1.2 keys per key returned (no refill of 1,000 at a time)."""
    keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(10_000)]
    root = "home/t/bkt/"
    upstream = CountingUpstream([root + shard(k, 1) + k for k in keys])
    roots = [root + format(i, "x") + "/" for i in range(16)]
    after, listed, pages = None, [], 0
    while True:
        page = asyncio.run(merge_listing(roots, ListQuery("", None, after, 1000), upstream.fetch))
        listed += [e.key for e in page.entries]
        pages += 1
        if not page.is_truncated:
            break
        after = page.last
    assert listed == sorted(keys)
    assert pages == 10
    assert upstream.listed <= 1.3 * len(keys)
    assert upstream.calls <= 16 * pages * 1.25


@settings(max_examples=150, deadline=None)
@given(
    keys=KEYS,
    digits=st.sampled_from([0, 1]),
    prefix=st.sampled_from(["", "a", "a/", "b-", "é"]),
    delimiter=st.sampled_from([None, "/", "-", "a/", "0"]),
    max_keys=st.integers(1, 7),
    start_after=st.one_of(st.none(), st.text(ALPHABET, max_size=3)),
    tree=st.booleans(),
)
def test_flat_encoding_lists_as_s3_even_from_a_tree_ordered_upstream(
    keys: list[str],
    digits: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
    tree: bool,
) -> None:
    """Under ``flat`` the upstream gets no delimiter and may list as a directory tree (as
    SeaweedFS does); the paged merge still equals S3's listing of the client keys."""
    got = walk(keys, digits, prefix, delimiter, max_keys, start_after, "flat", tree)
    assert (got[0], got[1]) == reference(keys, prefix, delimiter, start_after)


def test_plain_keys_from_a_tree_ordered_upstream_are_out_of_order() -> None:
    """Why ``flat`` exists: the same paged walk over plain keys is not byte-ordered."""
    keys = [f"p/q{i:02d}" for i in range(20)] + ["p-q"]
    got_keys, _, _ = walk(keys, 0, "", None, 5, None, "plain", tree=True)
    assert got_keys != sorted(keys)
    got_keys, _, _ = walk(keys, 0, "", None, 5, None, "flat", tree=True)
    assert got_keys == sorted(keys)


def test_flat_common_prefix_is_skipped_not_read_through() -> None:
    """A delimiter listing over 5,000 keys under one common prefix reads a page, then starts
    after the prefix: a few upstream requests, not one per page of keys under it."""
    keys = [f"dir/{i:05d}" for i in range(5000)] + ["end"]
    got_keys, got_prefixes, calls = walk(keys, 0, "", "/", 1000, None, "flat")
    assert (got_keys, got_prefixes) == (["end"], ["dir/"])
    assert calls <= 3


class StrayUpstream:
    """An upstream that answers with whatever it holds, ignoring prefix and start-after (as
    SeaweedFS does for a prefix ending in '//'): names outside the shard root, the home prefix,
    other tenants' keys, names the flat encoding never writes."""

    def __init__(self, names: list[str], prefixes: list[str]) -> None:
        self.names = names
        self.prefixes = prefixes

    async def fetch(
        self, prefix: str, start_after: str | None, max_keys: int, token: str | None
    ) -> ListPage:
        entries = [ListEntry(k, '"e"', 1, "2026-01-01T00:00:00.000Z") for k in self.names]
        return ListPage(entries, self.prefixes, None)


STRAY = [
    "home/",
    "home/t/",
    "home/t/.buckets/bkt",
    "home/t/.s3proxy-layout",
    "home/other/bkt/0/secret",
    "home/t/bkt/",
    "home/t/bkt/x",
    "home/t/bkt/0/",
    "home/t/bkt/1/a",
    "home/t/bktz/0/a",
]


def test_stray_upstream_names_never_reach_a_client_plain() -> None:
    names = [*STRAY, "home/t/bkt/0/a/in", "home/t/bkt/0/b/out", "home/t/bkt/0/a/0"]
    upstream = StrayUpstream(names, ["home/", "home/t/bkt/0/", "home/t/bkt/0/b/", "/main/"])
    query = ListQuery("a/", "/", "a/0", 1000)
    page = asyncio.run(merge_listing(["home/t/bkt/0/"], query, upstream.fetch))
    assert ([e.key for e in page.entries], page.prefixes) == (["a/in"], [])


def test_stray_upstream_names_never_reach_a_client_flat() -> None:
    inside = "home/t/bkt/0/" + key_part("a/in", "flat")
    names = [*STRAY, inside, "home/t/bkt/0/" + key_part("b", "flat"), "home/t/bkt/0/a-2F"]
    names += ["home/t/bkt/0/a-2f/x", "home/t/bkt/0/a-2f.", "home/t/bkt/0/a-2f!"]
    upstream = StrayUpstream(names, ["home/", "/main/", "home/t/bkt/0/a-2f"])
    page = asyncio.run(
        merge_listing(["home/t/bkt/0/"], ListQuery("a/", "/", None, 1000), upstream.fetch, "flat")
    )
    assert ([e.key for e in page.entries], page.prefixes) == (["a/in"], [])


@given(
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(min_value=0),
    st.text(max_size=20),
    st.sampled_from(["STANDARD", "GLACIER"]),
)
def test_list_entry_is_the_dataclass_value(
    key: str, etag: str, size: int, modified: str, storage_class: str
) -> None:
    """A listing builds entries with quick_init's constructor (no ``object.__setattr__`` per
    field): every field set, the same value a keyword-built entry is, and still frozen."""
    assert "__setattr__" not in ListEntry.__init__.__code__.co_names
    fast = ListEntry(key, etag, size, modified, storage_class)
    named = ListEntry(
        key=key, etag=etag, size=size, last_modified=modified, storage_class=storage_class
    )
    assert [getattr(fast, field.name) for field in dataclasses.fields(ListEntry)] == [
        key,
        etag,
        size,
        modified,
        storage_class,
    ]
    assert fast == named and hash(fast) == hash(named) and repr(fast) == repr(named)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.key = "other"  # type: ignore[misc]
