"""``x-amz-checksum-type`` on CompleteMultipartUpload (s3proxy.handlers.multipart): checked
against the upload's type where the proxy knows it, as S3 does; refused (501) where it cannot
know it — a tenant without a home on an upstream that lists no upload checksums — instead of
calling an upload with a checksum "null"."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_records import UploadChecksum, UploadMarks
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.multipart import _check_checksum_type
from s3proxy.model import PartsPage
from tests.unit.test_upload_marks import HOME, TaggingStorage, TaggingUpstream


class ListingUpstream(TaggingUpstream):
    """An upstream whose ListParts names the upload's checksum (``listed``) or none."""

    def __init__(self, listed: tuple[str, str] | None, records: bool = True) -> None:
        super().__init__()
        self.listed = listed
        self.records_upload_checksums = records
        self.listings = 0

    async def list_parts(self, *args: Any) -> PartsPage:
        self.listings += 1
        page = await super().list_parts(*args)
        if self.listed is None:
            return page
        return PartsPage(page.parts, None, checksum_algorithm=self.listed[0],
                         checksum_type=self.listed[1])  # fmt: skip


def check(
    upstream: ListingUpstream,
    sent: str,
    home: Any = None,
    recorded: UploadChecksum | None = None,
) -> S3Error | None:
    storage = TaggingStorage(upstream, home)
    uploads = MappedUploads(storage, {"up": upstream, "home": upstream})  # type: ignore[arg-type, dict-item]
    request = SimpleNamespace(
        bucket="b", key="k", header={"x-amz-checksum-type": sent}.get, query={}
    )
    ctx = SimpleNamespace(request=request, storage=SimpleNamespace(uploads=uploads))
    try:
        asyncio.run(_check_checksum_type(ctx, "u1", recorded, UploadMarks()))  # type: ignore[arg-type]
    except S3Error as error:
        return error
    return None


def test_a_type_nobody_recorded_or_listed_is_refused_not_called_null() -> None:
    """A tenant without a home on SeaweedFS or Ceph: the proxy cannot tell an upload created
    with COMPOSITE CRC32 from one without a checksum, so it answers neither S3 answer."""
    for sent in ("COMPOSITE", "FULL_OBJECT"):
        error = check(ListingUpstream(None), sent)
        assert error is not None and error.code is S3ErrorCode.NotImplemented
        assert "null" not in str(error.message)


@pytest.mark.parametrize("home", [None, HOME], ids=["no-home", "home"])
def test_a_type_the_upstream_lists_is_checked(home: Any) -> None:
    assert check(ListingUpstream(("CRC32", "COMPOSITE")), "composite", home) is None
    error = check(ListingUpstream(("CRC32", "COMPOSITE")), "FULL_OBJECT", home)
    assert error is not None and error.code is S3ErrorCode.InvalidRequest
    assert "created using the COMPOSITE checksum mode" in str(error.message)


def test_an_upload_without_a_checksum_is_null_where_that_is_known() -> None:
    """The local store lists what it keeps; a tenant with a home records every checksum."""
    for upstream, home in (
        (ListingUpstream(None, records=False), None),
        (ListingUpstream(None), HOME),
    ):
        error = check(upstream, "COMPOSITE", home)
        assert error is not None and error.code is S3ErrorCode.InvalidRequest
        assert "created using the null checksum mode" in str(error.message)


def test_a_recorded_type_is_read_from_the_upload_id() -> None:
    upstream = ListingUpstream(None)
    recorded = UploadChecksum("CRC32", "FULL_OBJECT")
    assert check(upstream, "FULL_OBJECT", HOME, recorded) is None
    assert upstream.listings == 0  # no request: the UploadId says it
