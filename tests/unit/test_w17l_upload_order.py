"""Uploads of one key in initiation order wherever the proxy orders an upstream's uploads itself
(s3proxy.backends.upload_order, wave 17 L): pages cut from one whole listing (SeaweedFS) and
pages read in RGW's own ``key.id`` order (Ceph), followed marker by marker as SDK paginators do,
list S3's (key, initiation) order; a marker naming an upload gone since lists the rest of its
key."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime

import pytest

from s3proxy.backends import upload_markers
from s3proxy.backends.upload_markers import own_order_page, uploads_after
from s3proxy.model import UploadInfo, UploadsPage
from tests.unit.test_w12f_upload_paging import Rgw

Upload = tuple[str, str, str]  # key, upload id, Initiated


def _when(second: int) -> str:
    return f"2026-12-05T15:{second // 60:02d}:{second % 60:02d}.{second % 7:03d}Z"


def _uploads(seed: int) -> list[Upload]:
    """Keys with several uploads each, whose ids sort in no relation to their times."""
    draw = random.Random(seed)
    keys = ["r/" + "".join(draw.choices(["a", "b", "-2f", "!/", "0"], k=draw.randint(1, 3)))]
    keys += ["r/" + draw.choice(["a", "b", "a-2f", "a/b"]) for _ in range(6)]
    return [
        (key, f"2~{draw.randrange(16**6):06x}", _when(draw.randrange(3000)))
        for key in keys
        for _ in range(draw.randint(1, 4))
    ]


def _s3_order(uploads: list[Upload], start: tuple[str | None, str | None]) -> list[Upload]:
    ordered = sorted(uploads, key=lambda u: (u[0], datetime.fromisoformat(u[2]), u[1]))
    key_marker, id_marker = start
    if not key_marker:
        return ordered
    at = [n for n, u in enumerate(ordered) if (u[0], u[1]) == (key_marker, id_marker)]
    if at:
        return ordered[at[0] + 1 :]
    return [u for u in ordered if u[0] > key_marker or (u[0] == key_marker and id_marker)]


class TimedRgw(Rgw):
    """RGW's order and markers (tests.unit.test_w12f_upload_paging), with each upload's date."""

    def __init__(self, uploads: list[Upload], page: int) -> None:
        super().__init__([(key, upload_id) for key, upload_id, _ in uploads], page)
        self.dates = {(key, upload_id): when for key, upload_id, when in uploads}

    async def ask(self, prefix: str, key_marker: str | None, id_marker: str | None) -> UploadsPage:
        page = await super().ask(prefix, key_marker, id_marker)
        dated = [
            UploadInfo(u.key, u.upload_id, self.dates[u.key, u.upload_id]) for u in page.uploads
        ]
        return UploadsPage(dated, [], page.next_marker)


def _follow(read, max_uploads: int, start: tuple[str | None, str | None]) -> list[Upload]:  # type: ignore[no-untyped-def]
    async def go() -> list[Upload]:
        key_marker, id_marker = start
        seen: list[Upload] = []
        while True:
            page = await read(key_marker, id_marker, max_uploads)
            assert len(page.uploads) <= max_uploads
            seen += [(u.key, u.upload_id, u.initiated) for u in page.uploads]
            if page.next_marker is None:
                return seen
            key_marker, id_marker = page.next_marker

    return asyncio.run(go())


def _starts(uploads: list[Upload], draw: random.Random) -> list[tuple[str | None, str | None]]:
    starts: list[tuple[str | None, str | None]] = [(None, None)]
    starts += [(key, upload_id) for key, upload_id, _ in draw.sample(uploads, 3)]
    starts.append((uploads[0][0], "2~gone"))  # an upload aborted since: the rest of its key
    return starts


@pytest.mark.parametrize("seed", range(6))
def test_pages_cut_from_a_whole_listing_follow_initiation(seed: int) -> None:
    uploads = _uploads(seed)
    draw = random.Random(seed)
    listed = [UploadInfo(*u) for u in draw.sample(uploads, len(uploads))]  # upstream's order

    async def read(key_marker, id_marker, max_uploads):  # type: ignore[no-untyped-def]
        return uploads_after(UploadsPage(listed, [], None), key_marker, id_marker, max_uploads)

    for start in _starts(uploads, draw):
        for max_uploads in (1, 2, 1000):
            assert _follow(read, max_uploads, start) == _s3_order(uploads, start)


@pytest.mark.parametrize("probes", [0, 16])
@pytest.mark.parametrize("seed", range(6))
def test_pages_read_in_rgws_order_follow_initiation(
    seed: int, probes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_markers, "SCAN_PAGES", 10**6)
    monkeypatch.setattr(upload_markers, "PROBES", probes)
    uploads = _uploads(seed)
    draw = random.Random(seed)
    for start in _starts(uploads, draw):
        for page, max_uploads in ((2, 1), (3, 2), (1000, 1), (1000, 1000)):
            rgw = TimedRgw(uploads, page)

            async def read(key_marker, id_marker, size, rgw=rgw):  # type: ignore[no-untyped-def]
                return await own_order_page(rgw.ask, "r/", key_marker, id_marker, size)

            assert _follow(read, max_uploads, start) == _s3_order(uploads, start)


def test_dates_to_the_second_keep_upload_id_order_among_themselves() -> None:
    """SeaweedFS dates to the second; an unreadable date counts as the earliest."""
    listed = [
        UploadInfo("k", "b", "2026-12-05T15:00:01Z"),
        UploadInfo("k", "c", "2026-12-05T15:00:00Z"),
        UploadInfo("k", "a", "2026-12-05T15:00:01Z"),
        UploadInfo("k", "d", "?"),
    ]
    page = uploads_after(UploadsPage(listed, [], None), None, None, 1000)
    assert [u.upload_id for u in page.uploads] == ["d", "c", "a", "b"]
