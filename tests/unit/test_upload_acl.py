"""A public ACL on CreateMultipartUpload (s3proxy.backends.upload_records, .mapped_multipart,
s3proxy.object_acl): a mark of the upload in the tenant's home on every lane, named by the
UploadId, and the object's record written at Complete (a retry too); and the ETag and
Last-Modified of an SSE-C object found without its key (s3proxy.object_acl.stored)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy import object_acl
from s3proxy.backends.bucket_settings import BucketSettings
from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_records import UploadMarks, upload_digest
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.upload_ids import issue_upload_id, verified_marks
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    CompleteMultipartInput,
    CreateMultipartInput,
    ListEntry,
    ListPage,
    ObjectAttributes,
    ObjectInfo,
)
from tests.unit import test_mapped_complete
from tests.unit.test_upload_marks import TAGS, BodyUpstream, ctx
from tests.unit.test_upload_records import records

HOME = UpstreamRoot("home", "homes", "alice/")
MARK = f"alice/.uploads/b/{upload_digest('k', 'u1')}.acl.public-read"


def test_the_acl_is_a_mark_listed_with_the_others_and_removed_with_them() -> None:
    upstream = BodyUpstream(page=1)
    kept = records(upstream)

    async def scenario() -> None:
        marks = await kept.create_marks("docs", "k", "u1", (), False, acl="public-read")
        assert marks == UploadMarks(acl="public-read") and marks.any
        await kept.create_marks("docs", "j", "u2", TAGS, False, "GLACIER", "public-read")
        upstream.keys.add(f"alice/.uploads/docs/{upload_digest('i', 'u3')}.acl.public-read-write")
        _, marks_of = await kept.records_of("docs")
        assert marks_of == {  # an ACL an upload cannot carry is no mark
            upload_digest("k", "u1"): UploadMarks(acl="public-read"),
            upload_digest("j", "u2"): UploadMarks(True, False, "GLACIER", "public-read"),
        }
        await kept.remove_marks("docs", "k", "u1", marks)

    asyncio.run(scenario())
    assert f"alice/.uploads/docs/{upload_digest('k', 'u1')}.acl.public-read" not in upstream.keys
    assert f"alice/.uploads/docs/{upload_digest('j', 'u2')}.acl.public-read" in upstream.keys


def test_the_upload_id_carries_the_acl_and_ignores_any_other() -> None:
    plain = issue_upload_id(ctx(), "docs", "k", "2~up")
    assert issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks()) == plain
    public = issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks(acl="public-read"))
    assert public != plain
    assert verified_marks(ctx(), "docs", "k", public)[2] == UploadMarks(acl="public-read")
    assert verified_marks(ctx(), "docs", "k", plain)[2].acl is None
    odd = issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks(acl="public-read-write"))
    assert verified_marks(ctx(), "docs", "k", odd)[2] == UploadMarks()


class LocalLike(test_mapped_complete.Upstream):
    """A store that keeps upload attributes itself (no ``records_upload_checksums``)."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted: list[str] = []

    async def create_multipart_upload(self, request: CreateMultipartInput) -> str:
        return "u1"

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.aborted.append(upload_id)


class Settings:
    """The bucket's settings record, in memory: object_acl.bind flags it (object_acls)."""

    def __init__(self) -> None:
        self.current = BucketSettings()

    async def get(self, bucket: str) -> BucketSettings:
        return self.current

    async def update(self, bucket: str, change: Callable[[BucketSettings], BucketSettings]) -> None:
        self.current = change(self.current)


class Storage(test_mapped_complete.Storage):
    def __init__(self, upstream: LocalLike, keeper: BodyUpstream) -> None:
        super().__init__(upstream)
        self.keeper = keeper
        self.tenant = SimpleNamespace(home=HOME)
        # No bucket changes meanwhile (s3proxy.backends.bucket_race): the generation stays.
        self.buckets = SimpleNamespace(
            settings=Settings(),
            cache=SimpleNamespace(current=lambda: 0),
            checked_since=lambda bucket, moment: True,  # and the upstream said so just now
        )

    def locate(self, bucket: str, key: str) -> tuple[Any, UpstreamLocation]:
        return self.upstream, UpstreamLocation("up", "ub", "home/" + key)

    def _backend(self, name: str) -> BodyUpstream:
        assert name == "home"
        return self.keeper

    async def head_object(self, bucket: str, key: str, conditions: Any) -> ObjectInfo:
        return await self.upstream.head_object("ub", "home/" + key, conditions)


def test_complete_binds_the_record_to_the_completed_object_and_a_retry_keeps_it() -> None:
    upstream, keeper = LocalLike(), BodyUpstream()
    storage = Storage(upstream, keeper)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]
    create = CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)
    finish = CompleteMultipartInput("b", "k", "u1", test_mapped_complete.PARTS)
    acl_of = object_acl.read

    async def scenario() -> None:
        assert await uploads.create(create) == ("u1", None, UploadMarks())
        assert keeper.keys == set()  # no public ACL: no record, no request
        upload_id, checksum, marks = await uploads.create(create, "public-read")
        assert (checksum, marks) == (None, UploadMarks(acl="public-read"))
        assert keeper.keys == {MARK}  # the ACL only: the store keeps the tags itself
        done = await uploads.complete(finish, None, marks)
        record = await acl_of(storage, "b", "k")  # type: ignore[arg-type]
        assert record is not None and record.matches(done.etag, "t")
        assert MARK not in keeper.keys
        keeper.keys.clear()  # the record lost (say, the first answer's write failed)
        again = await uploads.complete(finish, None, marks)  # a retried Complete
        assert again.etag == done.etag and upstream.completes == 1
        record = await acl_of(storage, "b", "k")  # type: ignore[arg-type]
        assert record is not None and record.matches(done.etag, "t")
        upstream.uploads["u1"] = []
        await uploads.create(create, "public-read")
        await uploads.abort("b", "k", upload_id, None, marks)
        assert upstream.aborted == ["u1"] and MARK not in keeper.keys

    asyncio.run(scenario())


def test_an_object_replaced_before_the_record_stays_private() -> None:
    upstream, keeper = LocalLike(), BodyUpstream()
    storage = Storage(upstream, keeper)

    async def scenario() -> None:
        upstream.objects["home/k"] = '"another"'
        await object_acl.bind_completed(storage, "b", "k", "public-read", '"abc-2"')  # type: ignore[arg-type]
        assert await object_acl.read(storage, "b", "k") is None  # type: ignore[arg-type]
        await object_acl.bind_completed(storage, "b", "k", "public-read", "another")  # type: ignore[arg-type]
        assert await object_acl.read(storage, "b", "k") is not None  # type: ignore[arg-type]

    asyncio.run(scenario())


class Keyed:
    """A storage whose upstream refuses HEADs of an SSE-C object sent without its key."""

    def __init__(self, refusal: S3ErrorCode, listed: list[ListEntry]) -> None:
        self.refusal = refusal
        self.listed = listed
        self.lists: list[tuple[str, str, int]] = []

    async def head_object(self, bucket: str, key: str, conditions: Any) -> ObjectInfo:
        raise S3Error(self.refusal)

    async def existing(self, bucket: str, key: str) -> tuple[Any, UpstreamLocation]:
        return self, UpstreamLocation("up", "ub", "home/" + key)

    async def list_objects(
        self, bucket: str, prefix: str, delimiter: str | None, after: str | None, max_keys: int
    ) -> ListPage:
        self.lists.append((bucket, prefix, max_keys))
        return ListPage(self.listed, [], None)


def stored(storage: Keyed) -> object_acl.StoredObject:
    return asyncio.run(object_acl.stored(storage, "b", "k"))  # type: ignore[arg-type]


def test_an_sse_c_object_is_found_in_a_one_key_listing() -> None:
    entry = ListEntry("home/k", '"e"', 3, "2026-12-03T11:00:00.123Z")
    storage = Keyed(S3ErrorCode.InvalidRequest, [entry])
    found = stored(storage)
    assert found == object_acl.StoredObject('"e"', "Thu, 03 Dec 2026 11:00:00 GMT", True)
    assert storage.lists == [("ub", "home/k", 1)]
    with pytest.raises(S3Error) as caught:  # the next key is another object
        stored(Keyed(S3ErrorCode.InvalidRequest, [ListEntry("home/k2", '"e"', 3, "t")]))
    assert caught.value.code is S3ErrorCode.NoSuchKey
    for code in (S3ErrorCode.NoSuchKey, S3ErrorCode.ServiceUnavailable):
        refused = Keyed(code, [entry])
        with pytest.raises(S3Error) as caught:
            stored(refused)
        assert caught.value.code is code and refused.lists == []


def test_a_listing_time_that_is_no_date_matches_no_record() -> None:
    found = stored(Keyed(S3ErrorCode.InvalidRequest, [ListEntry("home/k", '"e"', 3, "junk")]))
    assert found.last_modified == "junk"
    naive = stored(
        Keyed(S3ErrorCode.InvalidRequest, [ListEntry("home/k", "e", 3, "2026-12-03T11:00:00")])
    )
    assert naive.last_modified == "Thu, 03 Dec 2026 11:00:00 GMT"
