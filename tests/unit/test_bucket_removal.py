"""DeleteBucket's steps (s3proxy.backends.bucket_removal) where the lanes cannot reach: uploads
over several upstream pages, uploads that keep appearing, records that cannot be removed —
each either deletes the bucket with nothing left, or keeps it whole."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from s3proxy.backends import bucket_removal
from s3proxy.backends.bucket_removal import remove_bucket
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamRoot
from s3proxy.model import (
    DeleteResult,
    ListEntry,
    ListPage,
    PutObjectInput,
    PutObjectOutput,
    QuotaScope,
    UploadInfo,
    UploadsPage,
)

HOME = UpstreamRoot("up", "homes", "alice/")
ROOT = UpstreamRoot("up", "homes", "alice/b/")
RECORDS = "alice/.uploads/b/"
MARKER = "alice/.buckets/b"


@dataclass
class Upstream:
    """Objects by key, and uploads (key, id) listed ``page`` at a time with S3's markers."""

    objects: set[str] = field(default_factory=set)
    uploads: list[tuple[str, str]] = field(default_factory=list)
    page: int = 2
    respawn: bool = False
    """Every abort makes a new upload appear (another client racing the delete)."""
    refuse_deletes: bool = False
    whole_page: int | None = None
    """As SeaweedFS: more uploads than this under one prefix is NotImplemented."""
    completed_first: bool = False
    """Each upload's Complete lands just before its abort (which then finds it gone)."""

    async def list_objects(
        self, bucket: str, prefix: str, _d: Any, _s: Any, max_keys: int, token: Any = None
    ) -> ListPage:
        keys = sorted(key for key in self.objects if key.startswith(prefix))
        entries = [ListEntry(key, '"e"', 1, "") for key in keys[:max_keys]]
        return ListPage(entries, [], None)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        return any(key.startswith(prefix) for key, _ in self.uploads)

    async def list_multipart_uploads(
        self, bucket: str, prefix: str, _d: Any, key_marker: Any, id_marker: Any, _max: int
    ) -> UploadsPage:
        under = [u for u in self.uploads if u[0].startswith(prefix)]
        if self.whole_page is not None and len(under) > self.whole_page:
            raise S3Error(S3ErrorCode.NotImplemented)
        after = [
            u for u in sorted(self.uploads) if (key_marker is None or u > (key_marker, id_marker))
        ]
        shown = after[: self.page]
        more = len(after) > self.page
        return UploadsPage(
            [UploadInfo(key, uid, "2026-01-01T00:00:00.000Z") for key, uid in shown],
            [],
            shown[-1] if more else None,
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        if (key, upload_id) not in self.uploads:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        self.uploads.remove((key, upload_id))
        if self.completed_first:  # the client's Complete landed just before this abort
            self.objects.add(key)
            raise S3Error(S3ErrorCode.NoSuchUpload)
        if self.respawn:
            self.uploads.append((key, upload_id + "+"))

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        self.objects.add(request.key)
        return PutObjectOutput('"e"')

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        if self.refuse_deletes:
            return [DeleteResult(key, "AccessDenied") for key in keys]
        self.objects -= set(keys)
        return [DeleteResult(key) for key in keys]


@dataclass
class Generation:
    bumps: int = 0

    def bump(self) -> None:
        self.bumps += 1


@dataclass
class Buckets:
    deleted: list[str] = field(default_factory=list)
    upstream: Upstream | None = None
    meanwhile: Callable[[], None] | None = None
    """A racing write that lands as the marker goes."""
    cache: Generation = field(default_factory=Generation)

    async def delete(self, bucket: str) -> None:
        self.deleted.append(bucket)
        if self.upstream is not None:
            self.upstream.objects.discard(MARKER)
        if self.meanwhile is not None:
            self.meanwhile()

    def known_record_size(self, bucket: str) -> int | None:
        return 0

    def settings_record(self, bucket: str) -> tuple[Upstream | None, str, str]:
        return self.upstream, "homes", MARKER


@dataclass
class Tenant:
    home: UpstreamRoot = HOME


@dataclass
class Storage:
    buckets: Buckets = field(default_factory=Buckets)
    tenant: Tenant = field(default_factory=Tenant)

    def root(self, bucket: str) -> UpstreamRoot:
        return ROOT

    def shard_roots(self, root: UpstreamRoot) -> list[str]:
        return [f"{root.prefix}{digit:x}/" for digit in range(16)]

    def quota_scopes(self, bucket: str) -> tuple[QuotaScope, ...]:
        return ()  # no quota: plain aborts (s3proxy.backends.part_quotas)


def run(upstream: Upstream) -> Storage:
    storage = Storage()
    asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    return storage


def test_uploads_over_several_pages_are_all_aborted_with_their_records() -> None:
    uploads = [(f"alice/b/{shard}/k{n}", f"u{n}") for n in range(7) for shard in "0f"]
    records = {RECORDS + "d1.tags", RECORDS + "d2.CRC32.COMPOSITE/upload", "alice/.uploads/bb/x"}
    upstream = Upstream(objects=set(records), uploads=[*uploads, ("alice/bb/0/k", "other")])
    storage = run(upstream)
    assert storage.buckets.deleted == ["b"]
    assert upstream.uploads == [("alice/bb/0/k", "other")]  # bucket "bb" keeps its upload
    assert upstream.objects == {"alice/.uploads/bb/x"}


def test_a_bucket_with_an_object_keeps_its_uploads_and_records() -> None:
    upstream = Upstream(objects={"alice/b/0/k", RECORDS + "d.tags"}, uploads=[("alice/b/1/u", "1")])
    with pytest.raises(S3Error) as caught:
        run(upstream)
    assert caught.value.code is S3ErrorCode.BucketNotEmpty
    assert upstream.uploads == [("alice/b/1/u", "1")]
    assert RECORDS + "d.tags" in upstream.objects


def test_uploads_that_keep_appearing_keep_the_bucket() -> None:
    upstream = Upstream(objects={RECORDS + "d.tags"}, uploads=[("alice/b/1/u", "1")], respawn=True)
    storage = Storage()
    with pytest.raises(S3Error) as caught:
        asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert caught.value.code is S3ErrorCode.BucketNotEmpty
    assert storage.buckets.deleted == []
    assert len(upstream.uploads) == 1
    assert bucket_removal.PASSES == 3


def test_records_that_cannot_be_removed_keep_the_bucket() -> None:
    upstream = Upstream(objects={RECORDS + "d.tags"}, uploads=[("alice/b/1/u", "1")])
    upstream.refuse_deletes = True
    storage = Storage()
    with pytest.raises(S3Error) as caught:
        asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert caught.value.code is S3ErrorCode.InternalError
    assert storage.buckets.deleted == [] and upstream.uploads == []


def test_too_many_uploads_for_one_listing_are_aborted_shard_by_shard() -> None:
    uploads = [(f"alice/b/{shard}/k{n}", f"u{n}") for n in range(3) for shard in "07f"]
    upstream = Upstream(uploads=uploads, whole_page=4)
    assert run(upstream).buckets.deleted == ["b"]
    assert upstream.uploads == []


# -- writes racing the delete (wave 10 F; bucket_race) ---------------------------------------


def racing(upstream: Upstream, meanwhile: Callable[[], None] | None = None) -> Storage:
    storage = Storage(buckets=Buckets(upstream=upstream, meanwhile=meanwhile))
    upstream.objects.add(MARKER)
    return storage


def test_a_complete_landing_before_its_abort_keeps_the_bucket_and_the_object() -> None:
    upstream = Upstream(uploads=[("alice/b/1/u", "1")], completed_first=True)
    storage = racing(upstream)
    with pytest.raises(S3Error) as caught:
        asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert caught.value.code is S3ErrorCode.BucketNotEmpty
    assert storage.buckets.deleted == [] and "alice/b/1/u" in upstream.objects


def test_an_upload_created_as_the_marker_goes_is_aborted_after_it() -> None:
    upstream = Upstream()
    storage = racing(upstream, lambda: upstream.uploads.append(("alice/b/2/late", "9")))
    asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert storage.buckets.deleted == ["b"]
    assert upstream.uploads == [] and MARKER not in upstream.objects


def test_an_object_written_as_the_marker_goes_puts_the_bucket_back() -> None:
    upstream = Upstream()
    storage = racing(upstream, lambda: upstream.objects.add("alice/b/3/late"))
    with pytest.raises(S3Error) as caught:
        asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert caught.value.code is S3ErrorCode.BucketNotEmpty
    assert {MARKER, "alice/b/3/late"} <= upstream.objects
    assert storage.buckets.cache.bumps == 1
