"""A quota tenant's UploadPart reads the size of the part it replaces with one ListParts, on
every upstream (wave 15 review, R3).

Each UploadPart of a quota tenant first reads the part it replaces (``quota_writes.part_size``:
a ListParts of a few entries from its number). Since wave 15 D2 every upstream ListParts page
goes through ``part_order.numeric_page``, which asks once more for part 10000 after a last page
read from a marker of 1,000-9,998 (SeaweedFS lists it out of place). A part-size read is such
a page for every part numbered 1,001-9,999 (the parts after it are not sent yet), so each of
those UploadParts paid a second ListParts, on S3 and Ceph RGW too (~9,000 more requests for a
10,000-part upload). The part asked for is listed first whatever the order, so that read goes
unmended; a client's ListParts and a Complete's listing are still mended.
"""

from __future__ import annotations

import asyncio

from s3proxy.backends.part_order import numeric_page
from s3proxy.backends.quota_writes import part_size
from s3proxy.layout import UpstreamLocation
from s3proxy.model import PartInfo, PartsPage


class Numeric:
    """An upstream that pages parts in numeric order (S3, Ceph RGW), through numeric_page as
    S3MultipartMixin.list_parts does; ``reads`` counts its ListParts requests."""

    def __init__(self, numbers: list[int]) -> None:
        self.parts = [PartInfo(n, '"e"', 5 << 20, "2026-12-05T00:00:00.000Z") for n in numbers]
        self.reads = 0

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        async def read(after: int, most: int) -> PartsPage:
            self.reads += 1
            listed = [part for part in self.parts if part.part_number > after]
            truncated = len(listed) > most
            page = listed[:most]
            return PartsPage(page, page[-1].part_number if truncated and page else None)

        return await numeric_page(read, marker, max_parts)


def test_a_part_size_read_is_one_listparts_past_part_1000() -> None:
    upstream = Numeric(list(range(1, 1502)))
    location = UpstreamLocation("up", "b", "k")
    for number, size in ((1501, 5 << 20), (1502, None), (2, 5 << 20)):
        before = upstream.reads
        found = asyncio.run(part_size(upstream, location, "u", number))  # type: ignore[arg-type]
        assert (found, upstream.reads - before) == (size, 1), number


def test_a_clients_listing_is_still_mended() -> None:
    """The last page from marker 1,000 on still asks for part 10000 (as D2 made it)."""
    upstream = Numeric(list(range(1, 1502)))
    page = asyncio.run(upstream.list_parts("b", "k", "u", 1400, 1000))
    assert (len(page.parts), page.next_marker, upstream.reads) == (101, None, 2)
