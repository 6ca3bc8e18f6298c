"""DeleteBucket removes the bucket's object ACL records (wave 12 I): a bucket created again
must not meet them (s3proxy.object_acl binds a record to ETag and Last-Modified, whole seconds,
so the same bytes written in the same second matched an old public-read record)."""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends.bucket_removal import remove_bucket
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.test_bucket_removal import Storage, Upstream, run

ACLS = "alice/.buckets/.acls/"


def test_delete_bucket_removes_its_object_acl_records_only() -> None:
    mine = {f"{ACLS}b/{n:064x}" for n in range(3)}
    others = {f"{ACLS}bb/{0:064x}", f"{ACLS}b-c/{0:064x}"}
    upstream = Upstream(objects=mine | others)
    assert run(upstream).buckets.deleted == ["b"]
    assert upstream.objects == others


def test_acl_records_that_cannot_be_removed_keep_the_bucket() -> None:
    upstream = Upstream(objects={f"{ACLS}b/{0:064x}"}, refuse_deletes=True)
    storage = Storage()
    with pytest.raises(S3Error) as caught:
        asyncio.run(remove_bucket(storage, {"up": upstream}, "b"))  # type: ignore[arg-type,dict-item]
    assert caught.value.code is S3ErrorCode.InternalError
    assert storage.buckets.deleted == []
