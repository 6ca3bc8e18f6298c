"""A Complete's parts listing and check hold the tenant's expensive-operation slot (wave 15 F).

On an S3 upstream a Complete lists every stored part (ListParts pages of 1,000) and checks
the request against them before the upstream assembles the object. Only the parse of a large
body held one of the tenant's ``max_concurrent_expensive`` slots: a Complete naming one part of
a 10,000-part upload read and parsed ten pages, and one naming 10,000 parts checked them
(~15 ms), with no slot, up to ``max_concurrent_requests`` at once. Now pages after the first,
and the whole listing and check of a Complete naming more than
:data:`~s3proxy.backends.mapped_completion.HELD_PARTS` parts, wait for the slot. With the
tenant's one slot taken: a one-page upload completes; a two-page one reads its first page only
and gets 503 SlowDown; a Complete naming 101 parts lists nothing. No timing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy import expensive
from s3proxy.backends.mapped_completion import HELD_PARTS
from s3proxy.completion import MIN_PART_SIZE
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import Gate
from s3proxy.model import CompletedPart, CompleteMultipartInput, PartInfo, PartsPage
from tests.unit.test_mapped_complete import Upstream, uploads


class Paged(Upstream):
    """An upload of ``count`` parts, listed 1,000 a page; the markers asked for are kept."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.uploads["u1"] = [
            PartInfo(n, f'"{n:032x}"', MIN_PART_SIZE, "t") for n in range(1, count + 1)
        ]
        self.markers: list[int] = []

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        self.markers.append(marker)
        parts = [p for p in self.uploads[upload_id] if p.part_number > marker]
        page = parts[:max_parts]
        return PartsPage(page, page[-1].part_number if len(parts) > max_parts else None)


def _complete_with_slot_taken(upstream: Paged, named: int) -> Any:
    async def scenario() -> Any:
        gate = Gate(1, "t", "max_concurrent_expensive")
        expensive.CURRENT.set((gate, 0.01))
        await gate.enter(0.01)  # another request of the tenant holds its one slot
        parts = [CompletedPart(n, f'"{n:032x}"') for n in range(1, named + 1)]
        return await uploads(upstream).complete(CompleteMultipartInput("b", "k", "u1", parts))

    return asyncio.run(scenario())


def test_a_one_page_upload_completes_without_the_slot() -> None:
    upstream = Paged(3)
    assert _complete_with_slot_taken(upstream, 3).etag
    assert upstream.markers == [0] and upstream.completes == 1


def test_pages_after_the_first_wait_for_the_slot() -> None:
    upstream = Paged(1500)
    with pytest.raises(S3Error) as caught:
        _complete_with_slot_taken(upstream, 1)
    assert caught.value.code is S3ErrorCode.SlowDown
    assert upstream.markers == [0] and upstream.completes == 0


def test_a_complete_naming_many_parts_lists_them_under_the_slot() -> None:
    upstream = Paged(HELD_PARTS + 1)
    with pytest.raises(S3Error) as caught:
        _complete_with_slot_taken(upstream, HELD_PARTS + 1)
    assert caught.value.code is S3ErrorCode.SlowDown
    assert upstream.markers == [] and upstream.completes == 0
