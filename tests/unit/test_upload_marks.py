"""The tag and SSE-C records of multipart uploads (s3proxy.backends.upload_records), and the
UploadId that names them (s3proxy.handlers.multipart), over the in-memory upstream of
test_upload_records with bodies."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.bucket_settings import BucketSettings
from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_records import UploadMarks, upload_digest
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.multipart import _require_customer_key
from s3proxy.handlers.upload_ids import issue_upload_id, verified_marks, verified_upload
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    CompleteMultipartInput,
    CreateMultipartInput,
    CustomerKey,
    Encryption,
    ObjectAttributes,
    PutObjectInput,
    Tags,
)
from tests.unit import test_mapped_complete
from tests.unit.test_upload_records import CRC32, Upstream, records

TAGS = (("team", "blue sky"), ("a&b", "x=y"), ("empty", ""))
HOME = UpstreamRoot("home", "homes", "alice/")


class BodyUpstream(Upstream):
    def __init__(self, page: int = 2) -> None:
        super().__init__(page)
        self.bodies: dict[str, bytes] = {}

    async def put_object(self, request: PutObjectInput) -> None:
        self.keys.add(request.key)
        self.bodies[request.key] = b"".join([chunk async for chunk in request.body])
        assert len(self.bodies[request.key]) == request.content_length

    async def get_object(self, bucket: str, key: str, *args: Any) -> Any:
        if key not in self.keys:
            raise S3Error(S3ErrorCode.NoSuchKey)
        body = self.bodies[key]

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        async def aclose() -> None:
            return None

        info = SimpleNamespace(etag=f'"{hashlib.md5(body).hexdigest()}"')
        return SimpleNamespace(content_length=len(body), body=chunks(), aclose=aclose, info=info)


def test_tags_are_kept_until_removed_and_listed_as_marks() -> None:
    upstream = BodyUpstream(page=1)
    kept = records(upstream)

    async def scenario() -> None:
        marks = await kept.create_marks("docs", "k", "u1", TAGS, customer_key=False)
        assert marks == UploadMarks(tagged=True, customer_key=False)
        await kept.create_marks("docs", "j", "u2", (), customer_key=True)
        await kept.create_marks("docs", "i", "u3", (("t", "1"),), customer_key=True)
        await kept.create("docs", "i", "u3", CRC32)
        assert await kept.create_marks("docs", "h", "u4", (), False) == UploadMarks()
        assert await kept.tags("docs", "k", "u1") == TAGS
        assert await kept.tags("docs", "j", "u2") is None  # no record: nothing to set
        checksums, marks_of = await kept.records_of("docs")
        assert checksums == {upload_digest("i", "u3"): CRC32}
        assert marks_of == {
            upload_digest("k", "u1"): UploadMarks(True, False),
            upload_digest("j", "u2"): UploadMarks(False, True),
            upload_digest("i", "u3"): UploadMarks(True, True),
        }
        await kept.remove_marks("docs", "k", "u1", marks)
        assert await kept.tags("docs", "k", "u1") is None
        upstream.fail_deletes = True
        await kept.remove_marks("docs", "j", "u2", UploadMarks(False, True))  # logged only

    asyncio.run(scenario())
    assert f"alice/.uploads/docs/{upload_digest('j', 'u2')}.sse-c" in upstream.keys
    assert not any(key.endswith(upload_digest("h", "u4") + ".tags") for key in upstream.keys)


def ctx() -> Any:
    return SimpleNamespace(tenant="alice", secret="s" * 32)


def test_the_upload_id_names_the_marks_deterministically() -> None:
    plain = issue_upload_id(ctx(), "docs", "k", "2~up")
    assert issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks()) == plain
    tagged = issue_upload_id(ctx(), "docs", "k", "2~up", CRC32, UploadMarks(True, False))
    keyed = issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks(False, True))
    assert len({plain, tagged, keyed}) == 3
    assert verified_marks(ctx(), "docs", "k", plain) == ("2~up", None, UploadMarks())
    assert verified_marks(ctx(), "docs", "k", tagged) == ("2~up", CRC32, UploadMarks(True))
    assert verified_marks(ctx(), "docs", "k", keyed)[2] == UploadMarks(False, True)
    assert keyed == issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks(False, True))


def test_a_part_of_an_sse_c_upload_needs_a_key() -> None:
    key = Encryption(customer_key=CustomerKey(algorithm="AES256", key="k", key_md5="m"))
    _require_customer_key(UploadMarks(), None)
    _require_customer_key(UploadMarks(customer_key=True), key)
    for sent in (None, Encryption(algorithm="AES256")):
        with pytest.raises(S3Error) as caught:
            _require_customer_key(UploadMarks(customer_key=True), sent)
        assert caught.value.code is S3ErrorCode.InvalidRequest
        assert "initiate requested encryption" in str(caught.value.message)


class TaggingUpstream(test_mapped_complete.Upstream):
    """An S3 upstream that drops tags given on Create (as Ceph RGW 16 does)."""

    records_upload_checksums = True

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, Tags] = {}
        self.created = 0
        self.fail_tagging = False

    async def create_multipart_upload(self, request: CreateMultipartInput) -> str:
        self.created += 1
        return "u1"


async def _no_settings(bucket: str) -> BucketSettings:
    """A bucket that never held an object ACL record (object_acl.reset does nothing)."""
    return BucketSettings()


class TaggingStorage(test_mapped_complete.Storage):
    def __init__(self, upstream: TaggingUpstream, home: UpstreamRoot | None) -> None:
        super().__init__(upstream)
        self.tenant = SimpleNamespace(home=home)
        # No bucket changes meanwhile (s3proxy.backends.bucket_race): the generation stays.
        self.buckets = SimpleNamespace(
            settings=SimpleNamespace(get=_no_settings),
            cache=SimpleNamespace(current=lambda: 0),
            checked_since=lambda bucket, moment: True,  # and the upstream said so just now
        )

    def _backend(self, name: str) -> Any:
        return self.upstream

    def locate(self, bucket: str, key: str) -> tuple[Any, UpstreamLocation]:
        return self.upstream, UpstreamLocation("up", "ub", "home/" + key)

    async def put_object_tagging(self, bucket: str, key: str, tags: Tags) -> None:
        assert isinstance(self.upstream, TaggingUpstream)
        if self.upstream.fail_tagging:
            raise S3Error(S3ErrorCode.ServiceUnavailable)
        self.upstream.tags[key] = tags


def test_complete_sets_the_recorded_tags_and_a_retry_sets_them_after_a_failure() -> None:
    upstream, keeper = TaggingUpstream(), BodyUpstream()
    storage = TaggingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]
    create = CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)
    finish = CompleteMultipartInput("b", "k", "u1", test_mapped_complete.PARTS)

    async def scenario() -> None:
        upload_id, checksum, marks = await uploads.create(create)
        assert (upload_id, checksum, marks) == ("u1", None, UploadMarks(tagged=True))
        record = {f"alice/.uploads/b/{upload_digest('k', 'u1')}.tags"}
        assert keeper.keys == record
        upstream.fail_tagging = True  # the object completes, its tags fail: so does Complete
        with pytest.raises(S3Error):
            await uploads.complete(finish, None, marks)
        assert "k" not in upstream.tags and upstream.completes == 1
        assert keeper.keys == record  # kept for the retry
        upstream.fail_tagging = False
        await uploads.complete(finish, None, marks)  # the retry finds the object, tags it
        assert upstream.tags == {"k": TAGS} and upstream.completes == 1
        assert keeper.keys == set()  # the record went with the answer that tagged

    asyncio.run(scenario())


def test_tags_on_create_need_a_home_on_an_s3_upstream() -> None:
    upstream = TaggingUpstream()
    uploads = MappedUploads(TaggingStorage(upstream, None), {"up": upstream})  # type: ignore[arg-type]
    with pytest.raises(S3Error) as caught:
        asyncio.run(uploads.create(CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)))
    assert caught.value.code is S3ErrorCode.NotImplemented and upstream.created == 0
    untagged = CreateMultipartInput("b", "k", ObjectAttributes())
    assert asyncio.run(uploads.create(untagged)) == ("u1", None, UploadMarks())


def test_a_storage_class_other_than_standard_is_a_mark_named_by_the_upload_id() -> None:
    upstream = BodyUpstream(page=1)
    kept = records(upstream)

    async def scenario() -> None:
        marks = await kept.create_marks("docs", "k", "u1", (), False, "GLACIER")
        assert marks == UploadMarks(storage_class="GLACIER") and marks.any
        standard = await kept.create_marks("docs", "j", "u2", (), False, "STANDARD")
        assert standard == UploadMarks() and not standard.any  # STANDARD pays nothing
        await kept.create_marks("docs", "i", "u3", TAGS, True, "STANDARD_IA")
        _, marks_of = await kept.records_of("docs")
        assert marks_of == {
            upload_digest("k", "u1"): UploadMarks(storage_class="GLACIER"),
            upload_digest("i", "u3"): UploadMarks(True, True, "STANDARD_IA"),
        }
        await kept.remove_marks("docs", "k", "u1", marks)
        assert (await kept.records_of("docs"))[1].keys() == {upload_digest("i", "u3")}

    asyncio.run(scenario())
    assert upstream.keys == {
        f"alice/.uploads/docs/{upload_digest('i', 'u3')}{suffix}"
        for suffix in (".tags", ".sse-c", ".class.STANDARD_IA")
    }


def test_the_upload_id_carries_the_class_and_ignores_an_unknown_one() -> None:
    plain = issue_upload_id(ctx(), "docs", "k", "2~up")
    glacier = issue_upload_id(
        ctx(), "docs", "k", "2~up", None, UploadMarks(storage_class="GLACIER")
    )
    assert glacier != plain
    assert verified_marks(ctx(), "docs", "k", glacier)[2] == UploadMarks(storage_class="GLACIER")
    assert verified_marks(ctx(), "docs", "k", plain)[2].storage_class is None
    odd = issue_upload_id(ctx(), "docs", "k", "2~up", None, UploadMarks(storage_class="COLD"))
    assert verified_marks(ctx(), "docs", "k", odd)[2] == UploadMarks()


class ClassUpstream(TaggingUpstream):
    """An S3 upstream that keeps a class but lists every upload as STANDARD (SeaweedFS)."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted: list[str] = []

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.aborted.append(upload_id)


def test_list_parts_names_the_recorded_class_and_abort_removes_its_mark() -> None:
    upstream, keeper = ClassUpstream(), BodyUpstream()
    storage = TaggingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]

    async def scenario() -> None:
        created = CreateMultipartInput("b", "k", ObjectAttributes(), storage_class="GLACIER")
        upload_id, checksum, marks = await uploads.create(created)
        assert (checksum, marks) == (None, UploadMarks(storage_class="GLACIER"))
        assert keeper.keys == {f"alice/.uploads/b/{upload_digest('k', 'u1')}.class.GLACIER"}
        page = await uploads.list_parts("b", "k", upload_id, 0, 1000, None, marks)
        assert page.storage_class == "GLACIER" and [p.part_number for p in page.parts] == [1, 2]
        plain = await uploads.list_parts("b", "k", upload_id, 0, 1000)
        assert plain.storage_class == "STANDARD"
        await uploads.abort("b", "k", upload_id, None, marks)
        assert upstream.aborted == ["u1"] and keeper.keys == set()
        standard = CreateMultipartInput("b", "k", ObjectAttributes())
        assert (await uploads.create(standard))[2] == UploadMarks()
        assert keeper.keys == set()  # STANDARD: no record, no request

    asyncio.run(scenario())


def test_an_sse_s3_upload_has_a_mark_so_its_listed_upload_id_says_so() -> None:
    """S3 answers ``x-amz-server-side-encryption: AES256`` on UploadPart, UploadPartCopy and
    Complete of an upload created with SSE-S3, whichever of its UploadIds the client uses: the
    one ListMultipartUploads issues (from the records) must be the one Create issued."""
    upstream, keeper = ClassUpstream(), BodyUpstream()
    storage = TaggingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]
    mark = f"alice/.uploads/b/{upload_digest('k', 'u1')}.sse-s3"

    async def scenario() -> None:
        encrypted = Encryption(algorithm="AES256")
        created = CreateMultipartInput("b", "k", ObjectAttributes(), encryption=encrypted)
        upload_id, checksum, marks = await uploads.create(created)
        assert (checksum, marks) == (None, UploadMarks(sse_s3=True)) and marks.any
        assert keeper.keys == {mark}
        issued = issue_upload_id(ctx(), "b", "k", upload_id, checksum, marks, sse_s3=True)
        _, listed = await records(keeper).records_of("b")
        assert listed == {upload_digest("k", "u1"): UploadMarks(sse_s3=True)}
        reissued = issue_upload_id(
            ctx(), "b", "k", upload_id, None, listed[upload_digest("k", "u1")]
        )
        assert reissued == issued
        assert verified_upload(ctx(), "b", "k", reissued)[2:] == (UploadMarks(sse_s3=True), True)
        await uploads.abort("b", "k", upload_id, None, marks)
        assert keeper.keys == set()
        plain = CreateMultipartInput("b", "k", ObjectAttributes())
        assert (await uploads.create(plain))[2] == UploadMarks() and keeper.keys == set()

    asyncio.run(scenario())
