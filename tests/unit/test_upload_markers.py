"""ListMultipartUploads markers applied by the proxy for upstreams that misread them
(s3proxy.backends.upload_markers): pages cut from one whole listing, as S3 pages."""

from __future__ import annotations

import pytest

from s3proxy.backends.upload_markers import misreads_markers, uploads_after
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import UploadInfo, UploadsPage

# In SeaweedFS's order (by upload id): "mu/0" has two uploads.
LISTED = [
    UploadInfo("mu/1", "adde_1", "2026-12-03T00:00:00Z"),
    UploadInfo("mu/0", "bb1c_4a", "2026-12-03T00:00:00Z"),
    UploadInfo("mu/0", "bb1c_58", "2026-12-03T00:00:00Z"),
    UploadInfo("mu/2", "f231_4", "2026-12-03T00:00:00Z"),
]
ALL = [("mu/0", "bb1c_4a"), ("mu/0", "bb1c_58"), ("mu/1", "adde_1"), ("mu/2", "f231_4")]


def _pages(max_uploads: int) -> list[list[tuple[str, str]]]:
    """Every page a client reads, following NextKeyMarker / NextUploadIdMarker."""
    pages: list[list[tuple[str, str]]] = []
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = uploads_after(UploadsPage(LISTED, [], None), key_marker, id_marker, max_uploads)
        pages.append([(u.key, u.upload_id) for u in page.uploads])
        if page.next_marker is None:
            return pages
        key_marker, id_marker = page.next_marker


@pytest.mark.parametrize("max_uploads", [1, 2, 3, 4, 1000])
def test_paging_lists_every_upload_once_in_key_order(max_uploads: int) -> None:
    pages = _pages(max_uploads)
    assert all(len(page) <= max_uploads for page in pages)
    assert [entry for page in pages for entry in page] == ALL


def test_key_marker_alone_resumes_after_every_upload_of_that_key() -> None:
    page = uploads_after(UploadsPage(LISTED, [], None), "mu/0", None, 1000)
    assert [u.key for u in page.uploads] == ["mu/1", "mu/2"]
    assert page.next_marker is None


def test_upload_id_marker_resumes_within_its_key() -> None:
    page = uploads_after(UploadsPage(LISTED, [], None), "mu/0", "bb1c_4a", 1)
    assert [(u.key, u.upload_id) for u in page.uploads] == [("mu/0", "bb1c_58")]
    assert page.next_marker == ("mu/0", "bb1c_58")


def test_common_prefixes_count_towards_the_page_and_follow_the_marker() -> None:
    listed = UploadsPage(LISTED, ["mu/00/", "a/"], None)
    first = uploads_after(listed, None, None, 2)
    assert first.prefixes == ["a/"] and [u.upload_id for u in first.uploads] == ["bb1c_4a"]
    rest = uploads_after(listed, *(first.next_marker or ("", "")), 1000)
    assert rest.prefixes == ["mu/00/"]
    assert [u.key for u in rest.uploads] == ["mu/0", "mu/1", "mu/2"]


def test_a_truncated_whole_listing_is_refused_not_cut() -> None:
    with pytest.raises(S3Error) as refused:
        uploads_after(UploadsPage(LISTED, [], ("mu/2", "f231_4")), None, None, 1000)
    assert refused.value.code is S3ErrorCode.NotImplemented


def test_only_upstreams_known_to_keep_the_markers_page_by_them() -> None:
    """SeaweedFS misreads them, and so does Ceph RGW, which sends no Server header at all."""
    assert misreads_markers("SeaweedFS 4.48")
    assert misreads_markers("Ceph Object Gateway (pacific)")
    assert misreads_markers("")
    assert not misreads_markers("AmazonS3")
    assert not misreads_markers("MinIO")
