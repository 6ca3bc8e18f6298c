"""A quota tenant's usage on an S3 upstream stays what it stores when writes meet (wave 14 F).

The findings of the concurrency probe (tests/integration/test_w14f_usage_probe.py), each on the
usage book with a fake upstream: a part sent again within the second SeaweedFS lists beside the
earlier one; a Complete's freed bytes chosen as the parts were counted; a Complete or abort and
a part of the same upload in flight at once; two Completes of one upload at once (SeaweedFS
answers 200 to both); a copy whose source is overwritten between its HEAD and the copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from s3proxy.backends.part_quotas import stored_part
from s3proxy.backends.quota_writes import UploadGates, stored_bytes
from s3proxy.backends.usage_records import UsageBook
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import CopyObjectOutput, ObjectAttributes, ObjectInfo, PartInfo, PartsPage
from s3proxy.quotas import Usage
from tests.unit.test_quotas_upstream import TENANT, TENANT_ROOT, at
from tests.unit.test_w13a_part_quotas import PartsUpstream, _run_book

WHEN = "2026-01-01T00:00:00Z"


class ListedTwice(PartsUpstream):
    """An upstream that keeps every upload of a re-sent part and lists them all with the same
    second-resolution LastModified, the newest *last* (SeaweedFS 4.48's order is its file
    names', so any)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[tuple[str, int], list[int]] = {}

    def store(self, upload: str, number: int, size: int) -> Callable[[], Awaitable[str]]:
        async def write() -> str:
            self.sent.setdefault((upload, number), []).append(size)
            return '"e"'

        return write

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        found = [
            PartInfo(number, f'"{number}-{i}"', size, WHEN)
            for (upload, number), sizes in sorted(self.sent.items())
            if upload == upload_id and number > marker
            for i, size in enumerate(sizes)
        ]
        return PartsPage(found[:max_parts], None)


def book_on(upstream: PartsUpstream) -> UsageBook:
    layout = TenantLayout("t", UpstreamRoot("up", "homes", "t/"))
    return UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]


def test_a_part_sent_again_within_its_second_counts_what_the_listing_shows() -> None:
    """Before: 10 then 30 under part 1 counted 30, while ListParts (and a Complete or abort)
    sees the first listed, 10: the 20 bytes stayed counted after the upload was gone."""

    async def scenario() -> None:
        upstream = ListedTwice()
        book = book_on(upstream)
        where = at("big")
        await book.part_guarded((TENANT,), where, "u", 1, 10, upstream.store("u", 1, 10))
        await book.part_guarded((TENANT,), where, "u", 1, 30, upstream.store("u", 1, 30))
        assert await book.total([TENANT_ROOT]) == Usage(0, 10, 10)
        stored = (await upstream.list_parts("homes", where.key, "u", 0, 1000)).parts
        book.freed((TENANT,), where, stored_bytes(stored))  # what an abort frees
        assert await book.total([TENANT_ROOT]) == Usage()
        await book.close()

    _run_book(scenario)


def test_an_upload_part_copy_counts_the_part_it_stored() -> None:
    """An UploadPartCopy without a range is checked against its source's size at its HEAD; an
    overwrite of the source before the copy stores another size, read back from ListParts."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)

        async def copy() -> str:
            upstream.parts[("u", 1)] = 25  # the source grew from 10 to 25 bytes meanwhile
            return '"e"'

        await book.part_guarded((TENANT,), at("big"), "u", 1, 10, copy, read_back=True)
        assert await book.total([TENANT_ROOT]) == Usage(0, 25, 25)
        await book.close()

    _run_book(scenario)


def test_an_upload_part_copy_whose_source_was_missing_is_no_such_key() -> None:
    """The source was missing at the copy's HEAD: that is the answer (wave 14 F3). Admitted as
    0 bytes, a source written before the copy was copied past the quota (wave 14 F read it
    back, so it was counted only after)."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)

        class Storage:
            def usage_book(self, scopes: object, backend: object) -> UsageBook:
                return book

        async def copy() -> str:
            upstream.parts[("u", 1)] = 25
            return '"e"'

        where = at("big")
        storage: Any = Storage()
        with pytest.raises(S3Error) as error:
            await stored_part(storage, (TENANT,), upstream, where, "u", 1, None, copy)  # type: ignore[arg-type]
        assert error.value.code is S3ErrorCode.NoSuchKey
        assert upstream.parts == {}
        assert await book.total([TENANT_ROOT]) == Usage()
        await book.close()

    _run_book(scenario)


def test_a_complete_frees_each_part_number_as_it_was_counted() -> None:
    """The latest LastModified, the first listed among equals (as ListParts shows it), not the
    ETag the Complete names nor the smallest: those were not what the book counted."""
    later = "2026-01-01T00:00:01Z"
    stored = [
        PartInfo(1, '"a"', 50, WHEN), PartInfo(1, '"b"', 70, WHEN), PartInfo(1, '"c"', 9, later),
        PartInfo(2, '"d"', 30, WHEN), PartInfo(2, '"e"', 20, WHEN),
        PartInfo(3, '"f"', 8, WHEN), PartInfo(3, '"g"', 6, WHEN),
    ]  # fmt: skip
    assert stored_bytes(stored) == 9 + 30 + 8


def test_a_complete_waits_for_the_parts_of_its_upload_in_flight() -> None:
    """A part stored between a Complete's listing and its end was counted and never freed.
    Now the Complete (or abort) waits for the upload's parts in flight; parts of other uploads
    do not wait; a part sent meanwhile waits for the Complete; Completes take turns."""

    async def scenario() -> None:
        gates: UploadGates[str] = UploadGates()
        order: list[str] = []
        part_in = asyncio.Event()
        let_part_end = asyncio.Event()

        async def part(upload: str, name: str, hold: asyncio.Event | None = None) -> None:
            async with gates.part(upload):
                order.append(f"{name} in")
                part_in.set()
                if hold is not None:
                    await hold.wait()
                order.append(f"{name} out")

        async def close(name: str) -> None:
            async with gates.closing("u"):
                order.append(f"{name} in")
                await asyncio.sleep(0)
                order.append(f"{name} out")

        first = asyncio.create_task(part("u", "part", let_part_end))
        await part_in.wait()
        completes = [asyncio.create_task(close(f"complete{i}")) for i in (1, 2)]
        await asyncio.sleep(0)
        late = asyncio.create_task(part("u", "late part"))
        await part("v", "other upload")  # another upload's part does not wait
        await asyncio.sleep(0)
        assert order == ["part in", "other upload in", "other upload out"]
        let_part_end.set()
        await asyncio.gather(first, late, *completes)
        assert order[3:] == [
            "part out",
            "complete1 in",
            "complete1 out",
            "complete2 in",
            "complete2 out",
            "late part in",
            "late part out",
        ]
        assert len(gates) == 0

    asyncio.run(scenario())


def test_two_completes_of_one_upload_free_its_parts_once() -> None:
    """SeaweedFS answers 200 to a Complete of an upload already completed: two at once each
    freed the parts (usage went negative). Through the gate, the second lists the parts of an
    upload that is gone and frees nothing."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)
        where = at("big")

        async def stored_part() -> str:
            upstream.parts[("u", 1)] = 40
            return '"e"'

        await book.part_guarded((TENANT,), where, "u", 1, 40, stored_part)

        async def complete() -> None:
            async with book.closing(where, "u"):
                listed = (await upstream.list_parts("homes", where.key, "u", 0, 1000)).parts
                freed = stored_bytes(listed)
                await asyncio.sleep(0)  # the other Complete's turn, were they not gated

                async def assemble() -> str:
                    upstream.put(where.key, b"x" * 40)
                    upstream.parts.clear()  # the upload is gone
                    return '"e"'

                await book.guarded((TENANT,), where, 40, assemble, freed)

        await asyncio.gather(complete(), complete())
        assert await book.total([TENANT_ROOT]) == Usage(1, 40, 0)
        await book.close()

    _run_book(scenario)


def test_a_copy_whose_source_changed_counts_what_it_stored() -> None:
    """The source was 10 bytes at the copy's HEAD and 25 when copied: the copy's ETag is not
    the HEAD's, so the target is sized again (before: counted 10 for 25 stored)."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)
        source = ObjectInfo(10, '"old"', "", ObjectAttributes())

        async def copy() -> CopyObjectOutput:
            upstream.put(at("copy").key, b"y" * 25)
            return CopyObjectOutput('"new"', WHEN)

        await book.copied((TENANT,), at("copy"), source, copy)
        assert await book.total([TENANT_ROOT]) == Usage(1, 25, 0)
        await book.close()

    _run_book(scenario)


def test_parts_freed_that_were_never_counted_do_not_take_usage_below_zero() -> None:
    """An upload whose parts an older release stored (never counted) is aborted: before,
    usage fell to -45 bytes (-45 in parts), hiding later writes from the quota."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)
        upstream.put(at("a").key, b"x" * 10)
        assert await book.total([TENANT_ROOT]) == Usage(1, 10, 0)
        book.freed((TENANT,), at("old"), 45)
        assert await book.total([TENANT_ROOT]) == Usage(1, 10, 0)
        await book.close()

    _run_book(scenario)


def test_a_part_whose_read_back_is_cancelled_still_counts() -> None:
    """The client goes away while the part just stored is read back: its estimate counts
    (what it was to change), never nothing for bytes stored."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        book = book_on(upstream)
        stuck = asyncio.Event()
        listed = upstream.list_parts

        async def copy() -> str:
            upstream.parts[("u", 1)] = 25

            async def never(*args: Any) -> PartsPage:
                stuck.set()
                await asyncio.Event().wait()
                return await listed(*args)

            upstream.list_parts = never  # type: ignore[method-assign,assignment]
            return '"e"'

        task = asyncio.create_task(
            book.part_guarded((TENANT,), at("big"), "u", 1, 25, copy, read_back=True)
        )
        await stuck.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        upstream.list_parts = listed  # type: ignore[method-assign]
        assert await book.total([TENANT_ROOT]) == Usage(0, 25, 25)
        await book.close()

    _run_book(scenario)
