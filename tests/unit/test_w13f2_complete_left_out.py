"""s3proxy.backends.complete_left_out: which upstream InvalidPart only means "parts left out"."""

from __future__ import annotations

import asyncio

from s3proxy.backends.complete_left_out import refuse_left_out
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo, PartsPage

STORED = [PartInfo(n, f'"{n:032x}"', 5, "2026-12-05T00:00:00.000Z") for n in range(1, 2500)]


def _answer(
    requested: list[tuple[int, str]],
    error: S3ErrorCode = S3ErrorCode.InvalidPart,
    gone: bool = False,
) -> str:
    async def list_page(marker: int, size: int) -> PartsPage:
        if gone:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        page = [part for part in STORED if part.part_number > marker][:size]
        more = page[-1].part_number < STORED[-1].part_number
        return PartsPage(page, page[-1].part_number if more else None)

    parts = [CompletedPart(n, etag) for n, etag in requested]
    found = asyncio.run(refuse_left_out(S3Error(error), parts, list_page))
    return found.code.name


def test_only_parts_left_out_is_not_implemented() -> None:
    # Named parts on the first and the last page (2,499 stored parts: three pages).
    assert _answer([(1, f"{1:032x}"), (2499, f'"{2499:032X}"')]) == "NotImplemented"
    assert _answer([(n, f'"{n:032x}"') for n in range(2, 2500)]) == "NotImplemented"


def test_any_other_invalid_part_stands() -> None:
    assert _answer([(n, f'"{n:032x}"') for n in range(1, 2500)]) == "InvalidPart"  # none left out
    assert _answer([(1, f"{1:032x}"), (2, f"{3:032x}")]) == "InvalidPart"  # an ETag differs
    assert _answer([(1, f"{1:032x}"), (2600, f"{1:032x}")]) == "InvalidPart"  # not stored
    assert _answer([(1, f"{2:032x}")], S3ErrorCode.EntityTooSmall) == "EntityTooSmall"
    # The upload could not be listed (gone meanwhile): the upstream's answer, for upload_gone.
    assert _answer([(1, f"{1:032x}")], gone=True) == "InvalidPart"
