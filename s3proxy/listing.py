"""Listing a bucket whose keys are spread over shards, in exact byte-wise key order.

Each shard is a sorted upstream listing under ``R + shard + "/"``; a client page is a merge of
those listings (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
semantics: ``prefix``, any-string ``delimiter``, ``start-after``, ``max-keys`` counting keys and
common prefixes alike). A common prefix found in several shards is returned once.

What costs is what the upstream lists: it spends as much per key listed as the proxy does
(SeaweedFS ~40 µs), so a page should fetch little more than it returns. Keys are spread over the
shards by a hash, so a page of ``max_keys`` takes a binomial share from each: the first page
asked of every shard (in parallel) is that share plus 1.5 standard deviations, and a shard that
runs out is refilled by what its share of the page so far says it still needs (with the other
shards about to run out, in parallel). 1,000 keys over 16 shards: 75 a shard where the share is
62.5, ~1,200 listed upstream per 1,000 returned (it was 94 a shard, ~1,500).

A first page without a prefix starts with one listing of the root the shards share, one
shard's share long: a small bucket is listed by that request alone instead of 16.

The merge works in batches, not key by key: everything buffered up to the *horizon* (the
smallest last key buffered among shards with more to come) is ordered by one sort, since no
shard can still deliver anything below it.

Correctness rests on the upstream listing each shard in UTF-8 byte order, as S3 does (Python
``str`` order is code-point order, which is UTF-8 byte order), and on its ``IsTruncated``
meaning that more follows: a shard is finished only when its upstream says so (a truncated page
without a continuation token resumes after its last name, :mod:`s3proxy.upstream_xml`), never
because a token is missing, or a client page would end early with a 200. SeaweedFS lists in
directory-tree order instead; under the ``flat`` key encoding (:mod:`s3proxy.keycodec`) tree
order and byte order are the same, and the proxy computes common prefixes itself. Whatever an
upstream answers is filtered to the shard root, the prefix and start-after: no upstream name
reaches a client.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import itemgetter

from s3proxy import keycodec
from s3proxy.fanout import all_or_none
from s3proxy.layout import KeyEncoding, key_part, prefix_part
from s3proxy.model import ListEntry, ListPage

MAX_KEYS = 1000
MIN_FETCH = 8
"""The smallest page asked of an upstream: a request costs as much as listing ~30 keys."""
SPREAD = 1.5
"""Standard deviations of a shard's share of a page fetched up front (~5% of shards refill)."""
REQUEST_KEYS = 30
"""What one upstream request costs, counted in keys listed (see MIN_FETCH)."""
BUDGET_ROUNDS = 8
"""Once a client page has returned something, it stops refilling after asking upstream for
this many first rounds' worth (keys asked, plus REQUEST_KEYS a request) and ends short with
IsTruncated=true, as S3 may. A delimiter that folds every shard's keys into a few common
prefixes (flat) cost ~1,500 requests and ~570,000 keys listed upstream for one page of 1,000
prefixes of 600 keys over 16 shards; bounded, 32 requests and ~17,000 keys, and a walk of
the whole bucket lists about as much as before. A page without such folding needs ~1.1 rounds
and never meets the bound."""

Fetch = Callable[[str, str | None, int, str | None], Awaitable[ListPage]]
"""(upstream prefix, upstream start-after, max keys, upstream token) → one upstream page."""

Item = tuple[str, ListEntry | None]
"""(client name, upstream entry — or None for a common prefix)."""

_name = itemgetter(0)


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
    """One shard's listing: a buffer of items not yet merged, and how many were merged."""

    __slots__ = ("buffer", "done", "root", "start_after", "taken", "token")

    def __init__(self, root: str, start_after: str | None) -> None:
        self.root = root
        self.start_after = root + start_after if start_after is not None else None
        self.buffer: list[Item] = []
        self.token: str | None = None
        self.done = False
        self.taken = 0

    async def fill(
        self, fetch: Fetch, query: ListQuery, size: int, encoding: KeyEncoding, repeats: bool
    ) -> None:
        """Append the next upstream page (see :meth:`take`)."""
        within = self.root + prefix_part(query.prefix, encoding)
        page = await fetch(within, self.start_after, size, self.token)
        self.take(page, query, encoding, repeats)

    def take(
        self,
        page: ListPage,
        query: ListQuery,
        encoding: KeyEncoding,
        repeats: bool,
        resume: str | None = None,
    ) -> None:
        """Append ``page`` as client names, keeping only what the client asked for: whatever
        the upstream answers, nothing outside the shard root and the prefix, at or before
        start-after, or not written by this layout reaches the buffer. Keys holding the
        delimiter are rolled up here (under ``flat`` the upstream cannot: it never sees it), and
        a page that ends inside a common prefix resumes after it, not through it. ``resume``:
        the page was cut from a listing of the whole root that ended at this upstream name,
        inside the shard; the shard goes on after it (else the page's token says what follows)."""
        within = self.root + prefix_part(query.prefix, encoding)
        cut, after = len(self.root), query.start_after
        prefix, delimiter = query.prefix, query.delimiter
        name_of = keycodec.decode if encoding == "flat" else _same
        items: list[Item] = []
        rolled_last: str | None = None
        for entry in page.entries:
            key = entry.key
            if not key.startswith(within):
                continue
            name = name_of(key[cut:])
            if (
                name is None
                or not name.startswith(prefix)
                or (after and _before(name, after, repeats))
            ):
                rolled_last = None
                continue
            common = _common_prefix(name, prefix, delimiter) if delimiter else None
            rolled_last = common
            if common is None:
                items.append((name, entry))
            elif not (after and common <= after):  # S3 leaves out a prefix before start-after
                items.append((common, None))
        for upstream_prefix in page.prefixes if encoding == "plain" else ():
            name = upstream_prefix[cut:]
            common = _common_prefix(name, prefix, delimiter)
            if not upstream_prefix.startswith(within) or common != name:
                continue  # not a common prefix of this listing
            if after and name <= after:
                continue
            items.append((name, None))
        items.sort(key=_name)  # stable; a no-op when the upstream listed in order
        last = self.buffer[-1][0] if self.buffer else None
        for item in items:
            if item[1] is None and item[0] == last:
                continue  # one common prefix rolled up from many keys
            self.buffer.append(item)
            last = item[0]
        self.token = page.next_token if resume is None else None
        self.done = self.token is None and resume is None
        if resume is not None:
            self.start_after = resume
        if not self.done and rolled_last is not None and encoding == "flat":
            self.start_after = self.root + keycodec.after_all_starting_with(rolled_last)
            self.token = None

    def take_through(self, horizon: str | None) -> list[Item]:
        """The buffered items up to and including ``horizon`` (all when None), in order."""
        buffer = self.buffer
        if horizon is None or (buffer and buffer[-1][0] <= horizon):
            taken, self.buffer = buffer, []
        else:
            low, high = 0, len(buffer)
            while low < high:  # bisect on names (bisect's key= would build nothing faster)
                middle = (low + high) // 2
                if buffer[middle][0] <= horizon:
                    low = middle + 1
                else:
                    high = middle
            taken, self.buffer = buffer[:low], buffer[low:]
        self.taken += len(taken)
        return taken


def _same(name: str) -> str:
    return name


def _before(name: str, after: str | None, repeats: bool) -> bool:
    """At or before start-after; when a name ``repeats`` (a key's several uploads), the
    upstream's marker decides which of ``after``'s own entries follow."""
    if not after:
        return False
    return name < after if repeats else name <= after


def _common_prefix(name: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix ``name`` rolls up into, or None when it is listed as itself."""
    if not delimiter:
        return None
    found = name.find(delimiter, len(prefix))
    return None if found < 0 else name[: found + len(delimiter)]


def first_fetch_size(max_keys: int, shards: int) -> int:
    """A shard's share of ``max_keys`` plus SPREAD standard deviations (binomial), plus one."""
    share = max_keys / shards
    deviation = math.sqrt(share * (1 - 1 / shards))
    return min(MAX_KEYS, max(MIN_FETCH, math.ceil(share + SPREAD * deviation) + 1))


def _need(shard: _Shard, remaining: int, returned: int) -> float:
    """How many more items the page will take from ``shard``: its part of the page so far,
    applied to the rest."""
    return remaining * shard.taken / max(returned, 1)


async def _refill(
    shards: list[_Shard],
    fetch: Fetch,
    query: ListQuery,
    encoding: KeyEncoding,
    repeats: bool,
    remaining: int,
    returned: int,
) -> None:
    """Fetch more for every shard that ran out and, in the same round trip, for those whose
    buffer is short of what the page will take from them (the merge waits for a refill).
    A refill is half again the expected need, plus MIN_FETCH."""
    sizes = {}
    for index, shard in enumerate(shards):
        if shard.done:
            continue
        need = _need(shard, remaining, returned)
        if not shard.buffer or len(shard.buffer) < need:
            sizes[index] = min(MAX_KEYS, math.ceil(need * 1.5) + MIN_FETCH)
    await all_or_none(
        *(shards[index].fill(fetch, query, n, encoding, repeats) for index, n in sizes.items())
    )


def _first_from_whole_root(
    shards: list[_Shard], page: ListPage, query: ListQuery, encoding: KeyEncoding, size: int
) -> list[tuple[_Shard, int]]:
    """Hand one listing of the whole root to the shards it covers; return the first fetches
    still to make: (shard, keys to ask).

    A first page asks every shard for its share of the page: 16 upstream requests, however few
    keys the bucket holds (each costs the upstream as much as listing ~30 keys; Ceph RGW 16
    reads ~1,000 index entries for each, BENCHMARKS.md "Wave 17 G"). One listing of the root
    the shards share, asking one shard's share, lists the shards one after another in byte
    order: a bucket of fewer keys than that is listed by it alone; a larger one gets the first
    shards whole and the next one in part, and only the others are asked; in a large bucket it
    is shard 0's first request. Its cost there is one more round trip before the others.

    The upstream lists in byte order (as the merge needs anyway), so a listing truncated at
    upstream name ``last`` has listed everything before it: a shard root sorting before
    ``last`` that is not a prefix of it is complete, the shard ``last`` is in goes on after
    ``last``, and the shards after it are asked as usual. When the listing passed a shard
    before that one, the one it ends in got only the listing's tail: it is topped up to a first
    fetch in the same round, so that it does not hold the merge back for a refill round. Names
    outside every shard root are left out, as :meth:`_Shard.take` leaves them out of a shard's
    own listing."""
    if page.next_token is None:
        for shard in shards:
            shard.take(page, query, encoding, False)
        return []
    if not page.entries:
        return [(shard, size) for shard in shards]  # truncated, but where it stopped is unknown
    last = page.entries[-1].key
    complete = [shard for shard in shards if shard.root < last and not last.startswith(shard.root)]
    for shard in complete:
        shard.take(dataclasses.replace(page, next_token=None), query, encoding, False)
    rest = []
    for shard in shards:
        if last.startswith(shard.root):
            shard.take(page, query, encoding, False, resume=last)
            if complete and len(shard.buffer) < size:
                rest.append((shard, max(MIN_FETCH, size - len(shard.buffer))))
        elif shard not in complete:
            rest.append((shard, size))
    return rest


def resume_prefix(query: ListQuery) -> str | None:
    """When ``start_after`` is itself a common prefix, everything under it was already listed."""
    after, delimiter = query.start_after, query.delimiter
    if not after or not delimiter or not after.startswith(query.prefix):
        return None
    rest = after[len(query.prefix) :]
    if rest.endswith(delimiter) and delimiter not in rest[: -len(delimiter)]:
        return after
    return None


def _upstream_start(query: ListQuery, encoding: KeyEncoding) -> str | None:
    """Where each shard's listing starts, below its root."""
    if not query.start_after:
        return None
    if encoding == "plain":
        return query.start_after
    skip = resume_prefix(query)
    if skip is not None:  # everything under it was listed: start past all of it
        return keycodec.after_all_starting_with(skip)
    return key_part(query.start_after, encoding)


async def merge_listing(
    roots: list[str],
    query: ListQuery,
    fetch: Fetch,
    encoding: KeyEncoding = "plain",
    repeats: bool = False,
    budget: int | None = None,
    whole_root: str | None = None,
) -> MergedPage:
    """One client page over the shard roots. ``fetch`` lists below a root; under ``flat`` it
    must not pass the delimiter upstream (the upstream sees encoded names only). ``repeats``:
    a name may come more than once (multipart uploads of one key). ``budget``: keys the page
    may ask upstream for (REQUEST_KEYS a request) before it ends short, once it has returned
    something (default BUDGET_ROUNDS first rounds). ``whole_root``: the parent of every shard
    root, when ``fetch`` lists below it as below a shard root (no delimiter upstream): a first
    page without a prefix then starts there (:func:`_first_from_whole_root`)."""
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    if query.max_keys <= 0:
        return MergedPage(entries, prefixes, False, None)
    start = _upstream_start(query, encoding)
    shards = [_Shard(root, start) for root in roots]
    size = first_fetch_size(query.max_keys, len(shards))
    if budget is None:
        budget = BUDGET_ROUNDS * len(shards) * (size + REQUEST_KEYS)
    spent = 0

    async def counted(prefix: str, after: str | None, n: int, token: str | None) -> ListPage:
        nonlocal spent
        spent += n + REQUEST_KEYS
        return await fetch(prefix, after, n, token)

    first_page = not query.prefix and not query.start_after
    if whole_root is not None and len(shards) > 1 and not repeats and first_page:
        page = await counted(whole_root, None, size, None)
        first = _first_from_whole_root(shards, page, query, encoding, size)
    else:
        first = [(shard, size) for shard in shards]
    await all_or_none(*(shard.fill(counted, query, n, encoding, repeats) for shard, n in first))
    skip = resume_prefix(query)
    last: str | None = None
    count = 0
    while True:
        # Nothing a shard has yet to deliver sorts before the last name it buffered.
        while any(not shard.buffer and not shard.done for shard in shards):
            if spent >= budget and count:
                # Everything up to ``last`` was returned and nothing else sorts at or below it
                # (the whole batch through the horizon was): the next page resumes exactly.
                return MergedPage(entries, prefixes, True, last)
            await _refill(shards, counted, query, encoding, repeats, query.max_keys - count, count)
        horizon = min((shard.buffer[-1][0] for shard in shards if not shard.done), default=None)
        batch: list[Item] = []
        for shard in shards:
            batch += shard.take_through(horizon)
        batch.sort(key=_name)  # stable: a key's several uploads keep their upstream order
        for name, entry in batch:
            if (skip is not None and name.startswith(skip)) or (entry is None and name == last):
                continue  # under a prefix already returned, or a prefix seen in another shard
            if count == query.max_keys:
                return MergedPage(entries, prefixes, True, last)
            if entry is None:
                prefixes.append(name)
            else:
                entries.append(
                    ListEntry(
                        name, entry.etag, entry.size, entry.last_modified, entry.storage_class
                    )
                )
            last = name
            count += 1
        if horizon is None:
            return MergedPage(entries, prefixes, False, last)
        if count == query.max_keys:
            # What is left sorts after ``last`` and past ``skip``, so it is returned next time.
            more = any(shard.buffer or not shard.done for shard in shards)
            return MergedPage(entries, prefixes, more, last)
