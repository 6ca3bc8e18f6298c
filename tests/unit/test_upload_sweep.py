"""ListMultipartUploads drops the records of uploads its upstream no longer has
(s3proxy.backends.upload_listing.sweep_stale): only when the listing saw every upload of the
bucket, only records a second listing confirms gone, and never with a request when there is
nothing stale."""

from __future__ import annotations

import asyncio
from typing import Any

from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.upload_records import upload_digest
from s3proxy.layout import TenantLayout
from s3proxy.listing import ListQuery
from s3proxy.model import ListPage, UploadsPage
from tests.unit.test_mapped_multipart import ROOT, Uploads, upstream_key
from tests.unit.test_upload_records import HOME, Upstream

DIGITS = 1
RECORDS = "alice/.uploads/b/"


class RecordingUpstream(Uploads, Upstream):
    """One S3 upstream: the bucket's uploads, and the records in the tenant's home. An upload
    in ``pending`` appears upstream when the records are first listed — a Create racing the
    listing, whose upload the first upstream listing missed and whose records it then sees."""

    records_upload_checksums = True

    def __init__(self, uploads: list[tuple[str, str]]) -> None:
        Uploads.__init__(self, [(upstream_key(key, DIGITS), uid) for key, uid in uploads])
        Upstream.__init__(self, page=1000)
        self.pending: list[tuple[str, str]] = []
        self.deletes = 0

    async def list_objects(self, *args: Any, **kwargs: Any) -> ListPage:
        if self.pending:
            self.uploads += [(upstream_key(key, DIGITS), uid) for key, uid in self.pending]
            self.uploads.sort()
            self.pending = []
        return await Upstream.list_objects(self, *args, **kwargs)

    async def list_multipart_uploads(self, bucket: str, *args: Any) -> UploadsPage:
        return await Uploads.list_multipart_uploads(self, bucket, *args)

    async def delete_objects(self, bucket: str, keys: list[str]) -> Any:
        self.deletes += 1
        return await Upstream.delete_objects(self, bucket, keys)


def records_of(key: str, upload_id: str, checksum: bool = True) -> set[str]:
    """A checksum directory with one part record, and tag and SSE-S3 marks."""
    digest = upload_digest(key, upload_id)
    names = {f"{RECORDS}{digest}.tags", f"{RECORDS}{digest}.sse-s3"}
    if checksum:
        folder = f"{RECORDS}{digest}.CRC32.COMPOSITE/"
        names |= {folder + "upload", folder + "p00001." + "0" * 32 + ".00000000"}
    return names


def listing(upstream: RecordingUpstream, query: ListQuery) -> list[str]:
    layout = TenantLayout("alice", HOME, buckets={"b": ROOT})
    storage = MappedStorage(layout, {"up": upstream}, DIGITS)  # type: ignore[dict-item]
    merged = asyncio.run(storage.uploads.list_uploads("b", query, None))
    return [upload.key for upload in merged.uploads]


def test_a_whole_bucket_listing_drops_the_records_of_uploads_gone_upstream() -> None:
    upstream = RecordingUpstream([("k1", "u1"), ("k2", "u2")])
    live = records_of("k1", "u1") | records_of("k2", "u2", checksum=False)
    upstream.keys = live | records_of("gone", "u9") | records_of("k1", "old", checksum=False)
    assert listing(upstream, ListQuery("", None, None, 1000)) == ["k1", "k2"]
    assert upstream.keys == live and upstream.deletes == 1


def test_a_partial_listing_sweeps_nothing() -> None:
    stale = records_of("gone", "u9")
    for query in (
        ListQuery("k", None, None, 1000),  # a prefix: other uploads unseen
        ListQuery("", None, "a", 1000),  # a key marker
        ListQuery("", "/", None, 1000),  # a delimiter: uploads under a prefix unread
        ListQuery("", None, None, 1),  # truncated
    ):
        upstream = RecordingUpstream([("k1", "u1"), ("k2", "u2")])
        upstream.keys = records_of("k1", "u1") | stale
        listing(upstream, query)
        assert stale <= upstream.keys and upstream.deletes == 0


def test_nothing_stale_costs_no_request() -> None:
    upstream = RecordingUpstream([("k1", "u1")])
    upstream.keys = records_of("k1", "u1")
    before = upstream.calls
    listing(upstream, ListQuery("", None, None, 1000))
    assert upstream.calls - before == 2**4 and upstream.deletes == 0  # one page per shard


def test_records_of_an_upload_created_during_the_listing_stay() -> None:
    upstream = RecordingUpstream([("k1", "u1")])
    upstream.pending = [("new", "u5")]
    upstream.keys = records_of("k1", "u1") | records_of("new", "u5") | records_of("gone", "u9")
    listing(upstream, ListQuery("", None, None, 1000))
    assert upstream.keys == records_of("k1", "u1") | records_of("new", "u5")


def test_a_failed_sweep_leaves_the_listing_answered() -> None:
    upstream = RecordingUpstream([("k1", "u1")])
    upstream.keys = records_of("k1", "u1") | records_of("gone", "u9")
    upstream.fail_deletes = True
    assert listing(upstream, ListQuery("", None, None, 1000)) == ["k1"]  # logged only
    assert records_of("gone", "u9") <= upstream.keys
