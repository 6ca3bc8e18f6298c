"""Listing a bucket whose keys are spread over shards, in exact byte-wise key order.

Each shard is a sorted upstream listing under ``R + shard + "/"``; a client page is a k-way
merge of those listings (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
semantics: ``prefix``, any-string ``delimiter``, ``start-after``, ``max-keys`` counting keys and
common prefixes alike). Shards are fetched lazily: a first small page from every shard in
parallel, more from a shard only when the merge has used up what it had. A common prefix found
in several shards is returned once.

Correctness rests on the upstream listing in UTF-8 byte order, as S3 does (Python ``str`` order
is code-point order, which is UTF-8 byte order). SeaweedFS lists in directory-tree order instead:
see the README's notes on upstreams.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from s3proxy.model import ListEntry, ListPage

MAX_KEYS = 1000

Fetch = Callable[[str, str | None, int, str | None], Awaitable[ListPage]]
"""(upstream prefix, upstream start-after, max keys, upstream token) → one upstream page."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    prefix: str
    delimiter: str | None
    start_after: str | None
    max_keys: int


@dataclass(frozen=True, slots=True)
class MergedPage:
    entries: list[ListEntry]
    """Client keys, in order."""
    prefixes: list[str]
    is_truncated: bool
    last: str | None
    """The last key or common prefix returned: where the next page resumes."""


class _Shard:
    """One shard's listing: a buffer of (client name, entry or None for a prefix)."""

    __slots__ = ("buffer", "done", "root", "start_after", "token")

    def __init__(self, root: str, start_after: str | None) -> None:
        self.root = root
        self.start_after = root + start_after if start_after else None
        self.buffer: deque[tuple[str, ListEntry | None]] = deque()
        self.token: str | None = None
        self.done = False

    async def fill(self, fetch: Fetch, prefix: str, size: int) -> None:
        page = await fetch(self.root + prefix, self.start_after, size, self.token)
        cut = len(self.root)
        keys = [
            (entry.key[cut:], _rename(entry, entry.key[cut:]))
            for entry in page.entries
            if entry.key.startswith(self.root)
        ]
        prefixes = [(p[cut:], None) for p in page.prefixes if p.startswith(self.root)]
        self.buffer.extend(heapq.merge(keys, prefixes, key=lambda item: item[0]))
        self.token = page.next_token
        self.done = page.next_token is None


def _rename(entry: ListEntry, key: str) -> ListEntry:
    return ListEntry(key, entry.etag, entry.size, entry.last_modified, entry.storage_class)


def resume_prefix(query: ListQuery) -> str | None:
    """When ``start_after`` is itself a common prefix, everything under it was already listed."""
    after, delimiter = query.start_after, query.delimiter
    if not after or not delimiter or not after.startswith(query.prefix):
        return None
    rest = after[len(query.prefix) :]
    if rest.endswith(delimiter) and delimiter not in rest[: -len(delimiter)]:
        return after
    return None


async def merge_listing(roots: list[str], query: ListQuery, fetch: Fetch) -> MergedPage:
    if query.max_keys <= 0:
        return MergedPage([], [], False, None)
    shards = [_Shard(root, query.start_after) for root in roots]
    first_size = min(MAX_KEYS, max(16, math.ceil(query.max_keys * 1.5 / len(shards))))
    await asyncio.gather(*(shard.fill(fetch, query.prefix, first_size) for shard in shards))

    heap: list[tuple[str, int, ListEntry | None]] = []

    async def advance(index: int) -> None:
        shard = shards[index]
        if not shard.buffer and not shard.done:
            await shard.fill(fetch, query.prefix, MAX_KEYS)
        if shard.buffer:
            name, entry = shard.buffer.popleft()
            heapq.heappush(heap, (name, index, entry))

    for index in range(len(shards)):
        await advance(index)

    skip = resume_prefix(query)
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None

    def redundant(name: str, entry: ListEntry | None) -> bool:
        if skip is not None and name.startswith(skip):
            return True
        return entry is None and name == last

    while heap and len(entries) + len(prefixes) < query.max_keys:
        name, index, entry = heapq.heappop(heap)
        await advance(index)
        if redundant(name, entry):
            continue
        if entry is None:
            prefixes.append(name)
        else:
            entries.append(entry)
        last = name
    while heap and redundant(heap[0][0], heap[0][2]):
        _, index, _ = heapq.heappop(heap)
        await advance(index)
    return MergedPage(entries, prefixes, bool(heap), last)
