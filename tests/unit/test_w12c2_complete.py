"""CompleteMultipartUpload into a bucket deleted through another replica (wave 12, C2).

The upload was created through a replica whose cache still held the bucket, within the second
PutObject and CreateMultipartUpload are allowed (s3proxy.backends.bucket_race), and completed
later: as for a PutObject, the bucket is asked for again once its last "exists" is older than
that, and the completed object is removed and the Complete answered NoSuchBucket, instead of
a 200 for an object that would turn up in the next bucket of that name.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import CompleteMultipartInput
from tests.unit.test_mapped_complete import PARTS, Buckets, Storage, Upstream


class Gone(Buckets):
    """Last seen upstream over a second ago; deleted since (through another replica)."""

    def __init__(self) -> None:
        self.asked = 0

    def checked_since(self, bucket: str, moment: float) -> bool:
        return False

    async def exists(self, bucket: str, fresh: bool = False) -> bool:
        self.asked += int(fresh)
        return False


class Undoing(Storage):
    def __init__(self, upstream: Upstream, buckets: Buckets) -> None:
        super().__init__(upstream)
        self.buckets = buckets
        self.unwritten: list[str] = []

    async def unwrite(self, scopes: Any, backend: Any, location: UpstreamLocation) -> None:
        self.unwritten.append(location.key)
        self.upstream.objects.pop(location.key, None)


def _complete(storage: Undoing) -> Any:
    uploads = MappedUploads(storage, {"up": storage.upstream})  # type: ignore[arg-type,dict-item]
    return asyncio.run(uploads.complete(CompleteMultipartInput("b", "k", "u1", PARTS)))


def test_a_complete_into_a_bucket_deleted_meanwhile_is_undone() -> None:
    upstream, gone = Upstream(), Gone()
    storage = Undoing(upstream, gone)
    with pytest.raises(S3Error) as raised:
        _complete(storage)
    assert raised.value.code is S3ErrorCode.NoSuchBucket
    assert (upstream.completes, upstream.objects, storage.unwritten) == (1, {}, ["home/k"])
    assert gone.asked == 1


def test_a_complete_into_a_bucket_seen_just_now_asks_nothing() -> None:
    upstream = Upstream()
    storage = Undoing(upstream, Buckets())
    assert _complete(storage).etag == upstream.objects["home/k"]
    assert storage.unwritten == []
