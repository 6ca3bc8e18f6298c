"""ListMultipartUploads pages through Ceph RGW 16 past one upstream page (wave 12, F).

RGW lists uploads by ``key + "." + uploadId`` and misreads a lone key marker, so the proxy
read one whole page (1,000) without markers per shard prefix and answered 501 NotImplemented
past it. It now reads RGW in its own order with RGW's own markers, from just below the
client's marker, and keeps the page in S3's order (s3proxy.backends.upload_markers), asking
for a key's own uploads where its reading has not passed them. Here the
upstream page is cut to 3 uploads so that a dozen uploads page the way 1,000+ would: the
gateway's upstream client talks to a real RGW, and every page sequence must list S3's order
(by key, then the uploads of one key oldest first: wave 17 L).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from conformance.ceph_rgw import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, CephRGW
from s3proxy.backends import s3_multipart, upload_markers
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig

pytestmark = pytest.mark.integration

PREFIX = "alice/docs/3/"
# Flat-encoded names: '-xx' escapes and '!/' cuts sort below '.', so RGW lists 'a-2f…' and
# 'a!/…' before 'a' itself, where S3 lists 'a' first.
NAMES = ["a", "a-2f", "a-2fb", "a!/x", "a-2f-2e", "a0", "a=3a", "b", "a"]


def pages(backend: S3Upstream, max_uploads: int, start: tuple[str | None, str | None]) -> list:
    """Every (key, upload id) a client pages through from ``start``."""

    async def go() -> list[tuple[str, str]]:
        key_marker, id_marker = start
        seen: list[tuple[str, str]] = []
        while True:
            page = await backend.list_multipart_uploads(
                "w12f-paging", PREFIX, None, key_marker, id_marker, max_uploads
            )
            seen += [(upload.key, upload.upload_id) for upload in page.uploads]
            if page.next_marker is None:
                return seen
            key_marker, id_marker = page.next_marker

    async def with_backend() -> list[tuple[str, str]]:
        try:
            return await go()
        finally:
            await backend.close()

    return asyncio.run(with_backend())


def test_uploads_past_one_upstream_page_list_in_s3s_order(
    ceph_rgw: CephRGW, ceph_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_multipart, "WHOLE_PAGE", 3)
    monkeypatch.setattr(upload_markers, "WHOLE_PAGE", 3)
    with contextlib.suppress(ceph_s3.exceptions.BucketAlreadyOwnedByYou):
        ceph_s3.create_bucket(Bucket="w12f-paging")
    made = [
        (
            PREFIX + name,
            ceph_s3.create_multipart_upload(Bucket="w12f-paging", Key=PREFIX + name)["UploadId"],
        )
        for name in NAMES
    ]
    config = UpstreamConfig(
        endpoint=ceph_rgw.endpoint, access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY
    )
    try:
        # What the proxy's questions about one key rely on: RGW's prefix applies to
        # ``key + "." + uploadId``, so ``a.`` lists the uploads of ``a`` (and no other here).
        own = ceph_s3.list_multipart_uploads(Bucket="w12f-paging", Prefix=PREFIX + "a.")
        assert sorted(upload["Key"] for upload in own["Uploads"]) == [PREFIX + "a"] * 2
        expected = sorted(made, key=lambda pair: pair[0])  # one key's: oldest first (made so)
        assert pages(S3Upstream("w12f-ceph", config), 2, (None, None)) == expected
        assert pages(S3Upstream("w12f-ceph", config), 1000, (None, None)) == expected
        # After a key marker, and after a key and upload id marker, as a client resumes.
        after_a = [pair for pair in expected if pair[0] > PREFIX + "a"]
        assert pages(S3Upstream("w12f-ceph", config), 2, (PREFIX + "a", None)) == after_a
        first_a = expected[0]
        assert pages(S3Upstream("w12f-ceph", config), 3, first_a) == expected[1:]
    finally:
        for key, upload_id in made:
            ceph_s3.abort_multipart_upload(Bucket="w12f-paging", Key=key, UploadId=upload_id)
