"""ListMultipartUploads past one upstream page on SeaweedFS (wave 18 F).

SeaweedFS 4.48 lists uploads by upload id (``sha1(key) + "_" + uuid``), reads ``key-marker`` as
a filter, and resumes after a lone ``upload-id-marker`` (measured on ``weed mini``). The proxy
asked it for one whole page (1,000) per prefix and answered 501 NotImplemented past it, so
``aws s3api list-multipart-uploads`` and ``rclone cleanup`` failed for a tenant with more
uploads than that under one shard. It now reads every upload under the prefix by upload id,
page after page (bounded), keeping S3's page (s3proxy.backends.upload_markers.id_order_page).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.backends import upload_markers
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadInfo, UploadsPage
from tests.unit.test_s3_multipart import upstream

SEAWEEDFS = {"Server": "SeaweedFS 8000GB 4.48"}


def _upload(key: str, n: int, second: int) -> UploadInfo:
    """An upload as SeaweedFS names it: its key's sha1, then a unique part."""
    upload_id = f"{hashlib.sha1(key.encode()).hexdigest()}_{n:032x}"
    return UploadInfo(key, upload_id, f"2026-12-05T10:00:{second:02d}Z")


class Seaweed:
    """SeaweedFS 4.48's ListMultipartUploads over ``uploads``: by upload id, after a lone
    upload-id marker, the key marker a filter, truncated at its page's last upload."""

    def __init__(self, uploads: list[UploadInfo], page: int, ignores_id_marker: bool = False):
        self.uploads = sorted(uploads, key=lambda upload: upload.upload_id)
        self.page = page
        self.ignores_id_marker = ignores_id_marker
        self.calls = 0

    def listing(
        self, prefix: str, key_marker: str | None, id_marker: str | None, size: int
    ) -> UploadsPage:
        self.calls += 1
        if self.ignores_id_marker and not key_marker:
            id_marker = None  # as S3 reads it
        listed = [
            upload
            for upload in self.uploads
            if upload.key.startswith(prefix)
            and (not key_marker or upload.key == key_marker)
            and (not id_marker or upload.upload_id > id_marker)
        ][:size]
        truncated = len(listed) == size
        return UploadsPage(
            listed, [], (listed[-1].key, listed[-1].upload_id) if truncated else None
        )

    async def ask(self, prefix: str, keys: str | None, ids: str | None) -> UploadsPage:
        return self.listing(prefix, keys, ids, self.page)


def reference(uploads: list[UploadInfo], prefix: str) -> list[tuple[str, str]]:
    """S3's order: by key, then the uploads of one key oldest first (then by id)."""
    under = [upload for upload in uploads if upload.key.startswith(prefix)]
    return [
        (u.key, u.upload_id) for u in sorted(under, key=lambda u: (u.key, u.initiated, u.upload_id))
    ]


def follow(
    seaweed: Seaweed, prefix: str, max_uploads: int, start: tuple[str | None, str | None]
) -> list[tuple[str, str]]:
    """Every (key, upload id) a client pages through from ``start``."""

    async def go() -> list[tuple[str, str]]:
        key_marker, id_marker = start
        seen: list[tuple[str, str]] = []
        while True:
            page = await upload_markers.id_order_page(
                seaweed.ask, prefix, key_marker, id_marker, max_uploads
            )
            assert len(page.uploads) <= max_uploads
            seen += [(upload.key, upload.upload_id) for upload in page.uploads]
            if page.next_marker is None:
                return seen
            key_marker, id_marker = page.next_marker

    return asyncio.run(go())


@st.composite
def listings(draw: st.DrawFn) -> tuple[list[UploadInfo], int]:
    keys = draw(st.lists(st.text(alphabet="ab/-", min_size=1, max_size=3), min_size=1, max_size=8))
    uploads = [
        _upload(draw(st.sampled_from(keys)), n, draw(st.integers(0, 2)))
        for n in range(draw(st.integers(1, 25)))
    ]
    return uploads, draw(st.integers(1, 7))


@settings(max_examples=150, deadline=None)
@given(
    drawn=listings(),
    prefix=st.sampled_from(["", "a", "a/", "b"]),
    max_uploads=st.integers(1, 6),
    data=st.data(),
)
def test_pages_past_one_upstream_page_equal_s3s(
    drawn: tuple[list[UploadInfo], int], prefix: str, max_uploads: int, data: st.DataObject
) -> None:
    """From the start, after a key marker, and after a key and upload-id marker (a page's
    NextKeyMarker / NextUploadIdMarker), whatever the upstream's page size."""
    uploads, page = drawn
    expected = reference(uploads, prefix)
    upload_markers.SCAN_PAGES, bound = 10**6, upload_markers.SCAN_PAGES  # the bound: below
    try:
        _check(uploads, page, prefix, max_uploads, expected, data)
    finally:
        upload_markers.SCAN_PAGES = bound


def _check(
    uploads: list[UploadInfo],
    page: int,
    prefix: str,
    max_uploads: int,
    expected: list[tuple[str, str]],
    data: st.DataObject,
) -> None:
    assert follow(Seaweed(uploads, page), prefix, max_uploads, (None, None)) == expected
    if expected:
        key, upload_id = data.draw(st.sampled_from(expected))
        after_key = [pair for pair in expected if pair[0] > key]
        assert follow(Seaweed(uploads, page), prefix, max_uploads, (key, None)) == after_key
        rest = expected[expected.index((key, upload_id)) + 1 :]
        assert follow(Seaweed(uploads, page), prefix, max_uploads, (key, upload_id)) == rest


def test_a_marker_naming_a_gone_upload_lists_the_rest_of_its_key() -> None:
    """A client that aborts each upload as it pages sends a gone upload's id: that key's
    remaining uploads are listed, as on every other lane (wave 17 L)."""
    uploads = [_upload("k", n, n) for n in range(5)] + [_upload("m", 9, 0)]
    seaweed = Seaweed(uploads, 2)
    gone = "ffff_gone"
    listed = follow(seaweed, "", 1000, ("k", gone))
    assert listed == reference(uploads, "")


def test_an_upstream_that_ignores_a_lone_id_marker_is_refused_not_looped() -> None:
    """An upstream that pages as S3 does (the marker ignored without a key marker) answers
    the first page again: 501 after the second ask, never a listing with repeats."""
    uploads = [_upload(f"k{n}", n, 0) for n in range(7)]
    seaweed = Seaweed(uploads, 3, ignores_id_marker=True)
    with pytest.raises(S3Error) as refused:
        follow(seaweed, "", 1000, (None, None))
    assert refused.value.code is S3ErrorCode.NotImplemented
    assert seaweed.calls == 2


def test_past_the_bound_the_answer_is_501(monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = [_upload(f"k{n}", n, 0) for n in range(7)]
    monkeypatch.setattr(upload_markers, "SCAN_PAGES", 2)
    seaweed = Seaweed(uploads, 3)
    with pytest.raises(S3Error) as refused:
        follow(seaweed, "", 1000, (None, None))
    assert refused.value.code is S3ErrorCode.NotImplemented
    assert seaweed.calls == 2
    monkeypatch.setattr(upload_markers, "SCAN_PAGES", 3)
    assert follow(Seaweed(uploads, 3), "", 1000, (None, None)) == reference(uploads, "")


def _xml(page: UploadsPage) -> bytes:
    """SeaweedFS's answer: no NextKeyMarker; NextUploadIdMarker the last upload listed."""
    body = "".join(
        f"<Upload><Key>{u.key}</Key><UploadId>{u.upload_id}</UploadId>"
        f"<Initiated>{u.initiated}</Initiated></Upload>"
        for u in page.uploads
    )
    truncated, marker = "false", ""
    if page.next_marker is not None:
        truncated = "true"
        marker = f"<NextUploadIdMarker>{page.next_marker[1]}</NextUploadIdMarker>"
    return (
        f"<ListMultipartUploadsResult><IsTruncated>{truncated}</IsTruncated>{marker}{body}"
        "</ListMultipartUploadsResult>"
    ).encode()


def test_the_upstream_client_pages_seaweedfs_past_1000_uploads() -> None:
    """2,500 uploads under one shard's prefix, asked through the upstream client: every
    client page holds S3's next 1,000, the whole listing is S3's (the baseline: 501)."""
    uploads = [_upload(f"p/0/k{n % 1200:04d}", n, n % 3) for n in range(2500)]
    uploads.append(_upload("q/other", 9999, 0))  # another prefix: never listed
    seaweed = Seaweed(uploads, 1000)
    asked: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        asked.append(query)
        page = seaweed.listing(
            query["prefix"],
            query.get("key-marker"),
            query.get("upload-id-marker"),
            int(query["max-uploads"]),
        )
        return web.Response(body=_xml(page), headers=SEAWEEDFS)

    async def go() -> list[tuple[str, str]]:
        async with upstream(handler) as backend:
            seen: list[tuple[str, str]] = []
            markers: tuple[Any, Any] = (None, None)
            while True:
                page = await backend.list_multipart_uploads("ub", "p/0/", None, *markers, 1000)
                assert len(page.uploads) <= 1000
                seen += [(upload.key, upload.upload_id) for upload in page.uploads]
                if page.next_marker is None:
                    return seen
                markers = page.next_marker

    assert asyncio.run(go()) == reference(uploads, "p/0/")
    lone = [query for query in asked if "upload-id-marker" in query]
    assert lone and all("key-marker" not in query for query in lone)
