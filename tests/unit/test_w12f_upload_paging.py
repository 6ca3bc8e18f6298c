"""ListMultipartUploads past 1,000 uploads under one prefix on Ceph RGW 16 (wave 12, F).

RGW lists uploads by ``key + "." + uploadId`` (so ``a-2f…`` and ``a!/…`` come before ``a``)
and resumes a lone key marker K after ``K..meta``; given both markers it resumes exactly after
that upload (measured on RGW 16, 2026-12-04). The proxy read one whole page without markers
and answered 501 NotImplemented past 1,000 uploads under one shard's prefix. It now reads RGW
in its own order from just below the client's marker and keeps the first page in S3's order
(upload_markers.own_order_page), asking for a key's own uploads where the reading has not
passed them yet (RGW applies its prefix to ``key.id``, so ``k.`` lists those of ``k``). The
simulated RGW below follows those measured rules; every page sequence a client follows must
list exactly S3's (key, upload id) order.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from s3proxy.backends import upload_markers
from s3proxy.backends.upload_markers import marker_mode, own_order_page
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadInfo, UploadsPage


class Rgw:
    """RGW 16's ListMultipartUploads over ``uploads``, ``page`` at a time: in ``key.id`` order,
    resuming after ``key.id.meta`` (``key..meta`` for a lone key marker), its prefix applied to
    ``key.id`` (so ``k.`` lists the uploads of ``k``); counts requests."""

    def __init__(self, uploads: list[tuple[str, str]], page: int) -> None:
        self.meta = sorted(
            (key + "." + upload_id + ".meta", key, upload_id) for key, upload_id in uploads
        )
        self.page = page
        self.asked = 0

    async def ask(self, prefix: str, key_marker: str | None, id_marker: str | None) -> UploadsPage:
        self.asked += 1
        after = "" if key_marker is None else key_marker + "." + (id_marker or "") + ".meta"
        rest = [
            (key, upload_id)
            for meta, key, upload_id in self.meta
            if meta > after and meta.startswith(prefix)
        ]
        listed = [UploadInfo(key, upload_id, "t") for key, upload_id in rest[: self.page]]
        more = len(rest) > self.page
        return UploadsPage(listed, [], (listed[-1].key, listed[-1].upload_id) if more else None)


def follow(rgw: Rgw, prefix: str, max_uploads: int, start: tuple[str | None, str | None]) -> list:
    """Every upload a client pages through from ``start``, following the next markers."""

    async def go() -> list[tuple[str, str]]:
        key_marker, id_marker = start
        seen = []
        while True:
            page = await own_order_page(rgw.ask, prefix, key_marker, id_marker, max_uploads)
            assert len(page.uploads) <= max_uploads
            seen += [(upload.key, upload.upload_id) for upload in page.uploads]
            if page.next_marker is None:
                return seen
            key_marker, id_marker = page.next_marker

    return asyncio.run(go())


def s3_order(uploads: list[tuple[str, str]], prefix: str, start: tuple[str | None, str | None]):
    key_marker, id_marker = start
    return sorted(
        (key, upload_id)
        for key, upload_id in uploads
        if key.startswith(prefix)
        and (
            not key_marker
            or key > key_marker
            or (key == key_marker and id_marker and upload_id > id_marker)
        )
    )


@pytest.fixture
def unbounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of a few uploads stand for RGW's 1,000: no bound on how many one request reads."""
    monkeypatch.setattr(upload_markers, "SCAN_PAGES", 10**6)


@pytest.mark.usefixtures("unbounded")
def test_the_order_rgw_lists_in_is_paged_as_s3_orders() -> None:
    """Keys that extend another with '-' or '!' (flat escapes and cuts) come before it in
    RGW's order; each client page still holds the next uploads in S3's order."""
    keys = ["p/a", "p/a-2f", "p/a-2fb", "p/a!/x", "p/a/", "p/a0", "p/b", "p/a-2f-2e"]
    uploads = [(key, f"2~{n:02d}") for n, key in enumerate(keys * 2)]
    for page in (1, 2, 3, 1000):
        for max_uploads in (1, 2, 3, 1000):
            rgw = Rgw(uploads, page)
            assert follow(rgw, "p/", max_uploads, (None, None)) == s3_order(
                uploads, "p/", (None, None)
            )


@pytest.mark.usefixtures("unbounded")
@pytest.mark.parametrize("probes", [0, 1, 16])
@pytest.mark.parametrize("seed", range(8))
def test_random_keys_and_markers_list_exactly_s3s_order(
    seed: int, probes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With few or no questions about a key's own uploads (reading on instead), or many."""
    monkeypatch.setattr(upload_markers, "PROBES", probes)
    draw = random.Random(seed)
    alphabet = ["a", "b", "-2f", "-2e", "!/", "0", "=3a", "_5f", "~c3"]
    keys = {"r/" + "".join(draw.choices(alphabet, k=draw.randint(1, 4))) for _ in range(40)}
    uploads = [
        (key, f"2~{draw.randrange(16**6):06x}") for key in keys for _ in range(draw.randint(1, 2))
    ]
    markers: list[tuple[str | None, str | None]] = [(None, None)]
    markers += [(draw.choice(sorted(keys)), None) for _ in range(3)]
    markers += [(key, upload_id) for key, upload_id in draw.sample(uploads, 3)]
    markers.append(("r/a-2", None))  # a marker no key has
    for start in markers:
        rgw = Rgw(uploads, draw.choice([2, 3, 7, 1000]))
        max_uploads = draw.choice([1, 2, 5, 1000])
        assert follow(rgw, "r/", max_uploads, start) == s3_order(uploads, "r/", start)


def test_a_marker_starts_the_reading_close_to_it() -> None:
    """One client page after a marker costs what lies near it, not the whole prefix."""
    uploads = [(f"p/k{n:05d}-2ejpg", f"2~{n}") for n in range(5000)]
    rgw = Rgw(uploads, 1000)
    page = asyncio.run(own_order_page(rgw.ask, "p/", "p/k04000-2ejpg", None, 10))
    assert [upload.key for upload in page.uploads] == [
        f"p/k{n:05d}-2ejpg" for n in range(4001, 4011)
    ]
    assert rgw.asked == 1


def test_a_directory_is_settled_by_asking_for_its_own_uploads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``photos/…`` (``photos-2f…``) comes before ``photos`` in RGW's order: rather than read
    the whole directory for each page, the proxy asks for ``photos``'s own uploads, so a
    directory larger than one request may read still pages (here 3,000 uploads, 2 pages of
    1,000 a request), each client page for a few upstream requests."""
    monkeypatch.setattr(upload_markers, "SCAN_PAGES", 2)
    uploads = [(f"p/photos-2fimg{n:05d}-2ejpg", f"2~{n:05d}") for n in range(3000)]
    uploads.append(("p/photos", "2~x"))
    rgw = Rgw(uploads, 1000)
    assert follow(rgw, "p/", 1000, (None, None)) == s3_order(uploads, "p/", (None, None))
    assert rgw.asked <= 4 * 4
    # Without those questions the same listing cannot be read within the bound: 501.
    monkeypatch.setattr(upload_markers, "PROBES", 0)
    with pytest.raises(S3Error) as raised:
        follow(Rgw(uploads, 1000), "p/", 1000, (None, None))
    assert raised.value.code is S3ErrorCode.NotImplemented


def test_ceph_is_known_by_its_request_ids() -> None:
    rgw_id = "tx00000eb7fe79f068314a8-006b134ff7-1005-default"
    assert marker_mode("", rgw_id) == "own order"
    assert marker_mode("SeaweedFS 4.48", rgw_id) == "whole"
    assert marker_mode("", "4442587FB7D0A2F9") == "whole"  # unknown: one whole page, as before
    assert marker_mode("AmazonS3", "4442587FB7D0A2F9") == "kept"
    assert marker_mode("MinIO", "") == "kept"
