"""ListParts pages in S3's order from an upstream that lists part 10000 out of place.

SeaweedFS 4.48 keeps an upload's parts as entries named by the part number padded to four
digits ("0999_…", "1000_…") and pages ListParts in the string order of those names, from the
marker padded alike. Part 10000, the only five-digit number, therefore sorts between 999 and
1000 (measured, wave 15 D2):

- a page read from a marker below 1,000 lists it right after the parts up to 999 — and with
  999 of those at most, always within the first 1,000 entries: a full first page of a
  10,000-part upload ends with it, says IsTruncated, and the page after marker 10000 is empty,
  so parts 1000–9999 are never listed (a Complete found them missing: InvalidPart);
- a page read from a marker of 1,000–9,998 never lists it (marker 9999 does, and with
  ``max-parts=1`` says IsTruncated with nothing after it).

Every other part number pages in numeric order there. S3 pages numerically, each part once.
:func:`numeric_page` asks for the page as usual and mends the shapes that part 10000 gives
a string-ordered listing, recognised from the answer itself (no learnt upstream kind):

- part 10000 listed before another part, or ending a truncated page (S3 lists it last, after
  every other part, and a page ending with it is the last): it moves to the end of the page;
  a truncated page, short without it, takes the next part number from the upstream instead
  (a small read past part 10000's entries) and stays truncated (part 10000 comes later);
- the last page read from a marker of 1,000–9,998 without part 10000: whether the upload has
  it is asked once more (marker 9999, a few entries); it is appended when the page has room,
  else the page says it is truncated and the next one lists it;
- a page read from marker 9999 or past it is the last (it can hold part 10000 at most).

SeaweedFS lists each upload of a re-sent part (the mapped layer keeps the latest): all entries
of one number move together. An upstream that pages numerically never shows the first shape;
the second costs it one small request at the end of a listing read from part 1,000 on (an
upload of more than 1,000 parts, or a client paging there); listings of ordinary uploads cost
nothing more. Nothing is kept beyond the page at hand.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Iterator

from s3proxy.backends.mapped_uploads_base import LIST_PARTS_PAGE
from s3proxy.model import PartInfo, PartsPage

LAST_PART = 10_000
"""The highest part number S3 takes, and the only one of five digits."""

FIRST_FOUR_DIGITS = 1_000
"""From a marker of this or more, a string-ordered upstream never lists part 10000."""

FILL_READ = 10
"""Parts asked for to fill a page or find part 10000: room for re-sends of one number."""

PageReader = Callable[[int, int], Awaitable[PartsPage]]
"""Reads one upstream ListParts page: (part-number marker, max parts)."""

_ONE_PART: contextvars.ContextVar[bool] = contextvars.ContextVar("s3proxy_one_part", default=False)


@contextlib.contextmanager
def one_part() -> Iterator[None]:
    """Within it, pages are read only for the part numbered right after their marker
    (:func:`.quota_writes.part_size`), which either order lists first: they go unmended. Else
    every quota tenant's UploadPart numbered 1,001-9,999 (a last page from such a marker) asked
    once more for part 10000, on every upstream (wave 15 review)."""
    token = _ONE_PART.set(True)
    try:
        yield
    finally:
        _ONE_PART.reset(token)


async def numeric_page(read: PageReader, marker: int, max_parts: int) -> PartsPage:
    """The ListParts page after ``marker`` of at most ``max_parts`` parts in S3's numeric
    order, read with ``read`` (one upstream request; two in the shapes the module names)."""
    page = await read(marker, max_parts)
    if max_parts < 1 or _ONE_PART.get():
        return page
    if marker >= LAST_PART - 1:  # part 10000 at most: the last page, whatever it says
        return dataclasses.replace(page, next_marker=None) if page.next_marker else page
    numbers = [part.part_number for part in page.parts]
    if LAST_PART in numbers and (numbers[-1] != LAST_PART or page.next_marker is not None):
        return await _moved_last(read, page, marker)
    final = page.next_marker is None
    if final and FIRST_FOUR_DIGITS <= marker < LAST_PART - 1 and LAST_PART not in numbers:
        return await _with_last(read, page, max_parts)
    return page


async def _moved_last(read: PageReader, page: PartsPage, marker: int) -> PartsPage:
    """A page that listed part 10000 among lower numbers: it goes last, or to a later page.
    (SeaweedFS lists each upload of a re-sent part: every entry of a number moves together.)"""
    kept = [part for part in page.parts if part.part_number != LAST_PART]
    lasts = [part for part in page.parts if part.part_number == LAST_PART]
    after = kept[-1].part_number if kept else marker
    if page.next_marker is None or after >= LAST_PART - 1:  # every part after the marker is here
        return dataclasses.replace(page, parts=[*kept, *lasts], next_marker=None)
    more: list[PartInfo] = []
    for most in (FILL_READ, LIST_PARTS_PAGE):  # part 10000 may come first again (after <= 999)
        following = await read(after, most)
        more = [part for part in following.parts if after < part.part_number < LAST_PART]
        if more or following.next_marker is None:
            break
    if not more:  # no part between: part 10000 ends the listing (each upload of it listed)
        lasts = [part for part in following.parts if part.part_number == LAST_PART] or lasts
        return dataclasses.replace(page, parts=[*kept, *lasts], next_marker=None)
    first = [part for part in more if part.part_number == more[0].part_number]
    parts = [*kept, *first]
    return dataclasses.replace(page, parts=parts, next_marker=parts[-1].part_number)


async def _with_last(read: PageReader, page: PartsPage, max_parts: int) -> PartsPage:
    """The last page from a marker of 1,000-9,998: part 10000, which a string-ordered
    upstream leaves out there, asked for on its own."""
    tail = await read(LAST_PART - 1, FILL_READ)
    found = [part for part in tail.parts if part.part_number == LAST_PART]
    if not found:
        return page
    if len(page.parts) < max_parts:
        return dataclasses.replace(page, parts=[*page.parts, *found], next_marker=None)
    return dataclasses.replace(page, next_marker=page.parts[-1].part_number)
