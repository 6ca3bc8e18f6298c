"""A retried CompleteMultipartUpload (s3proxy.backends.mapped_multipart): 200 with the object's
ETag when the upload is gone because these very parts completed it, NoSuchUpload otherwise;
ListParts shows each part once."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.class_records import ClassRecords
from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.completion import MIN_PART_SIZE, multipart_etag
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CompleteMultipartOutput,
    ObjectAttributes,
    ObjectInfo,
    PartInfo,
    PartsPage,
    QuotaScope,
)

MD5_1, MD5_2 = hashlib.md5(b"one").hexdigest(), hashlib.md5(b"two").hexdigest()
PARTS = [CompletedPart(1, f'"{MD5_1}"'), CompletedPart(2, f'"{MD5_2}"')]


class Upstream:
    """One upload that completes once; afterwards the object is there, the upload is not."""

    def __init__(self) -> None:
        self.uploads = {"u1": [PartInfo(1, f'"{MD5_1}"', MIN_PART_SIZE, "t"),
                               PartInfo(2, f'"{MD5_2}"', 3, "t")]}  # fmt: skip
        self.objects: dict[str, str] = {}
        self.completes = 0

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        if upload_id not in self.uploads:
            raise S3Error(S3ErrorCode.NoSuchUpload)
        return PartsPage(list(self.uploads[upload_id]), None)

    async def complete_multipart_upload(
        self, request: CompleteMultipartInput
    ) -> CompleteMultipartOutput:
        self.completes += 1
        del self.uploads[request.upload_id]
        etag = multipart_etag([part.etag for part in request.parts]) or ""
        self.objects[request.key] = etag
        return CompleteMultipartOutput(etag=etag, checksums={"CRC32": "AAAAAA==-2"})

    async def head_object(
        self, bucket: str, key: str, conditions: Any, checksum_mode: bool = False
    ) -> ObjectInfo:
        if key not in self.objects:
            raise S3Error(S3ErrorCode.NoSuchKey)
        sums = {"x-amz-checksum-crc32": "AAAAAA==-2"} if checksum_mode else {}
        return ObjectInfo(5, self.objects[key], "t", ObjectAttributes(), sums)


class Buckets:
    """The bucket exists, and the upstream said so a moment ago (no request: bucket_race)."""

    cache = SimpleNamespace(current=lambda: 0)

    def checked_since(self, bucket: str, moment: float) -> bool:
        return True

    async def exists(self, bucket: str, fresh: bool = False) -> bool:
        return True


class Storage:
    """What MappedUploads asks of MappedStorage: where a key lives, whether its bucket exists."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.buckets = Buckets()
        self.classes = ClassRecords(self)  # type: ignore[arg-type]
        self.tenant = SimpleNamespace(home=None)  # no home: no object ACL records to reset

    async def existing(self, bucket: str, key: str) -> tuple[Upstream, UpstreamLocation]:
        return self.upstream, UpstreamLocation("up", "ub", "home/" + key)

    def quota_scopes(self, bucket: str) -> tuple[QuotaScope, ...]:
        return ()


def uploads(upstream: Upstream) -> MappedUploads:
    return MappedUploads(Storage(upstream), {"up": upstream})  # type: ignore[arg-type,dict-item]


def complete(upstream: Upstream, parts: list[CompletedPart], key: str = "k") -> Any:
    return asyncio.run(uploads(upstream).complete(CompleteMultipartInput("b", key, "u1", parts)))


def test_a_retried_complete_answers_as_the_first() -> None:
    upstream = Upstream()
    first = complete(upstream, PARTS)
    again = complete(upstream, PARTS)
    assert again.etag == first.etag == multipart_etag([MD5_1, MD5_2])
    assert dict(again.checksums) == {"CRC32": "AAAAAA==-2"}
    assert upstream.completes == 1


@pytest.mark.parametrize(
    "parts",
    [
        PARTS[:1],  # another part list: not what completed the upload
        [CompletedPart(1, f'"{MD5_2}"'), CompletedPart(2, f'"{MD5_1}"')],
    ],
)
def test_a_complete_with_other_parts_after_completion_is_no_such_upload(
    parts: list[CompletedPart],
) -> None:
    upstream = Upstream()
    complete(upstream, PARTS)
    with pytest.raises(S3Error) as caught:
        complete(upstream, parts)
    assert caught.value.code is S3ErrorCode.NoSuchUpload


def test_a_gone_upload_without_its_object_is_no_such_upload() -> None:
    upstream = Upstream()
    complete(upstream, PARTS)
    upstream.objects.clear()  # deleted since, or overwritten and gone
    with pytest.raises(S3Error) as caught:
        complete(upstream, PARTS)
    assert caught.value.code is S3ErrorCode.NoSuchUpload


def test_list_parts_shows_a_resent_part_once() -> None:
    upstream = Upstream()
    upstream.uploads["u1"].insert(0, PartInfo(1, '"older"', MIN_PART_SIZE, "s"))
    page = asyncio.run(uploads(upstream).list_parts("b", "k", "u1", 0, 1000))
    assert [(p.part_number, p.etag) for p in page.parts] == [(1, f'"{MD5_1}"'), (2, f'"{MD5_2}"')]
