"""ListParts pages in S3's numeric order from an upstream that pages part 10000 out of place.

The string-ordered model is SeaweedFS 4.48's paging as measured (wave 15 D2): parts are named
by their number padded to four digits, a page starts at the first name not below the marker
plus one padded alike, takes ``max-parts`` names, lists those above the marker, and says it is
truncated when names remain.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from s3proxy.backends.part_order import numeric_page
from s3proxy.model import PartInfo, PartsPage


def _part(number: int, upload: int = 0) -> PartInfo:
    return PartInfo(part_number=number, etag=f'"{number}-{upload}"', size=1, last_modified="")


class Upstream:
    """An upload's parts behind a ListParts that pages numerically or in string order; a
    number given twice is a part sent again, each upload listed (as SeaweedFS lists them)."""

    def __init__(self, numbers: list[int], string_order: bool) -> None:
        self.numbers, self.string_order, self.reads = sorted(numbers), string_order, 0
        sent: Counter[int] = Counter()
        self.entries: list[tuple[int, int]] = []
        for number in self.numbers:
            self.entries.append((number, sent[number]))
            sent[number] += 1
        self.names = sorted((f"{n:04d}_{u}", n, u) for n, u in self.entries)

    async def read(self, marker: int, most: int) -> PartsPage:
        self.reads += 1
        if self.string_order:
            after = [(n, u) for name, n, u in self.names if name >= f"{marker + 1:04d}"]
        else:
            after = [(n, u) for n, u in self.entries if n > marker]
        taken, more = after[:most], len(after) > most
        listed = [_part(n, u) for n, u in taken if n > marker]
        next_marker = (listed[-1].part_number if listed else marker) if more else None
        return PartsPage(parts=listed, next_marker=next_marker)


def _walk(upstream: Upstream, most: int, marker: int = 0) -> list[list[int]]:
    async def pages() -> list[list[int]]:
        found: list[list[int]] = []
        at = marker
        while True:
            page = await numeric_page(upstream.read, at, most)
            found.append([part.part_number for part in page.parts])
            if page.next_marker is None:
                return found
            assert page.next_marker == page.parts[-1].part_number
            at = page.next_marker

    return asyncio.run(pages())


async def _entries(upstream: Upstream, most: int) -> list[tuple[int, str]]:
    """(number, ETag) of every entry listed, paging from the start."""
    listed: list[tuple[int, str]] = []
    marker = 0
    while True:
        page = await numeric_page(upstream.read, marker, most)
        listed.extend((part.part_number, part.etag) for part in page.parts)
        if page.next_marker is None:
            return listed
        marker = page.next_marker


def _s3_pages(numbers: list[int], most: int, marker: int = 0) -> list[list[int]]:
    after = sorted(n for n in numbers if n > marker)
    pages = [after[i : i + most] for i in range(0, len(after), most)]
    return pages or [[]]


def test_the_model_misorders_part_10000_as_seaweedfs_does() -> None:
    """The baseline: the model gives F's 10,000-part shape (first page ends with part 10000,
    truncated; the page after it is empty), so the mended pages below are tested against it."""
    upstream = Upstream(list(range(1, 10_001)), string_order=True)
    first = asyncio.run(upstream.read(0, 1000))
    assert [p.part_number for p in first.parts][-2:] == [999, 10_000]
    assert first.next_marker == 10_000
    assert asyncio.run(upstream.read(10_000, 1000)).parts == []


def test_a_10000_part_upload_pages_in_numeric_order() -> None:
    numbers = list(range(1, 10_001))
    upstream = Upstream(numbers, string_order=True)
    pages = _walk(upstream, 1000)
    assert pages == _s3_pages(numbers, 1000)
    assert upstream.reads == 10 + 1 + 1  # one to fill page 1, one for part 10000 at the end


@pytest.mark.parametrize(
    "numbers",
    [
        [1, 2, 10_000],
        [1000, 1001, 10_000],
        [5000, 10_000],
        [10_000],
        [1, 500, 999, 1000, 1500, 9998, 10_000],
        [999, 1000, 9999, 10_000],
        [1, 2, 3],
        [1000, 2000],
        [],
    ],
)
@pytest.mark.parametrize("most", [1, 2, 3, 1000])
def test_sparse_uploads_page_as_s3_for_every_page_size_and_marker(
    numbers: list[int], most: int
) -> None:
    for marker in (0, 1, 998, 999, 1000, 1001, 4999, 9998, 9999, 10_000):
        for string_order in (True, False):
            upstream = Upstream(numbers, string_order)
            assert _walk(upstream, most, marker) == _s3_pages(numbers, most, marker), (
                marker,
                string_order,
            )


def test_random_uploads_page_as_s3() -> None:
    rng = random.Random(15)
    for _ in range(150):
        numbers = rng.sample(range(1, 10_001), rng.randint(0, 40))
        numbers += rng.choice([[], [10_000]]) if 10_000 not in numbers else []
        most = rng.choice([1, 2, 5, 7, 1000])
        marker = rng.choice([0, rng.randint(0, 10_000)])
        for string_order in (True, False):
            upstream = Upstream(numbers, string_order)
            assert _walk(upstream, most, marker) == _s3_pages(numbers, most, marker)


def test_an_upstream_in_numeric_order_pays_no_read_below_part_1000() -> None:
    """Ordinary uploads (a listing from marker 0 that fits a page, or ends below part 1,000's
    marker) cost one upstream read per page, as before; only the last page read from a
    marker of 1,000 or more asks once more whether part 10000 exists."""
    small = Upstream(list(range(1, 801)), string_order=False)
    assert _walk(small, 1000) == _s3_pages(list(range(1, 801)), 1000)
    assert small.reads == 1
    large = Upstream(list(range(1, 2501)), string_order=False)
    assert _walk(large, 1000) == _s3_pages(list(range(1, 2501)), 1000)
    assert large.reads == 3 + 1


@pytest.mark.parametrize("most", [1, 2, 3, 1000])
def test_every_upload_of_a_part_sent_again_is_listed_once_in_order(most: int) -> None:
    """SeaweedFS lists each upload of a re-sent part (the mapped layer keeps the latest): the
    entries of one number stay together, none lost or listed twice across pages."""
    numbers = [999, 1000, 10_000, 10_000, 1000, 1001, 10_000]
    # (an upstream paging numerically in small pages may itself cut among re-sends: the
    # mapped layer reads whole pages of 1,000)
    for string_order in (True, False) if most == 1000 else (True,):
        upstream = Upstream(numbers, string_order)
        listed = asyncio.run(_entries(upstream, most))
        expected = sorted((n, f'"{n}-{u}"') for n, u in upstream.entries)
        assert listed == expected, string_order
