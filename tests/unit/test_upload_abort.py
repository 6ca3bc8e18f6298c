"""AbortMultipartUpload of an upload the upstream no longer knows (aborted or expired there):
S3's NoSuchUpload, and the proxy's records of it (s3proxy.backends.upload_records) go all the
same — nothing else would ever remove them."""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_records import UploadMarks
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CreateMultipartInput, ObjectAttributes
from tests.unit.test_upload_marks import HOME, BodyUpstream, ClassUpstream, TaggingStorage


class GoneUpstream(ClassUpstream):
    """Aborts nothing: every upload ended upstream (Ceph RGW and S3 answer 404)."""

    def __init__(self, code: S3ErrorCode) -> None:
        super().__init__()
        self.code = code

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.aborted.append(upload_id)
        raise S3Error(self.code)


def test_an_upload_gone_upstream_loses_its_records_and_is_no_such_upload() -> None:
    upstream, keeper = GoneUpstream(S3ErrorCode.NoSuchUpload), BodyUpstream()
    storage = TaggingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]

    async def scenario() -> None:
        created = CreateMultipartInput("b", "k", ObjectAttributes(), storage_class="GLACIER")
        upload_id, checksum, marks = await uploads.create(created)
        assert marks == UploadMarks(storage_class="GLACIER") and keeper.keys
        with pytest.raises(S3Error) as caught:
            await uploads.abort("b", "k", upload_id, checksum, marks)
        assert caught.value.code is S3ErrorCode.NoSuchUpload
        assert upstream.aborted == [upload_id] and keeper.keys == set()

    asyncio.run(scenario())


def test_any_other_abort_failure_keeps_the_records() -> None:
    """The upload may still be there: its records stay for the client's retry."""
    upstream, keeper = GoneUpstream(S3ErrorCode.SlowDown), BodyUpstream()
    storage = TaggingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type]

    async def scenario() -> None:
        created = CreateMultipartInput("b", "k", ObjectAttributes(), storage_class="GLACIER")
        upload_id, checksum, marks = await uploads.create(created)
        kept = set(keeper.keys)
        with pytest.raises(S3Error) as caught:
            await uploads.abort("b", "k", upload_id, checksum, marks)
        assert caught.value.code is S3ErrorCode.SlowDown and keeper.keys == kept != set()

    asyncio.run(scenario())
