"""An overwrite makes an object private, as on S3 (s3proxy.object_acl.reset): in a bucket that
once held an object ACL record, a write without one removes the key's record — even when the
new object has the ETag and second the record was bound to — and in a bucket that never did,
it costs no request at all. The upstream is a real local store, counting requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from s3proxy import object_acl
from s3proxy.backends.mapped import MappedStorage
from s3proxy.model import ReadConditions
from tests.unit.test_class_records import Upstream, _put, scenario


def run(tmp_path: Path, body: Callable[[MappedStorage, Upstream], Awaitable[None]]) -> Upstream:
    """``body`` against bucket ``docs`` holding one object ``k`` (test_class_records' harness)."""

    async def with_object(storage: MappedStorage, upstream: Upstream) -> None:
        await storage.put_object(_put("k"))
        await body(storage, upstream)

    return scenario(tmp_path, None, with_object)


def test_a_bucket_that_never_held_an_object_acl_pays_nothing(tmp_path: Path) -> None:
    async def body(storage: MappedStorage, upstream: Upstream) -> None:
        upstream.calls.clear()
        await object_acl.reset(storage, "docs", "k")
        assert upstream.calls == []

    run(tmp_path, body)


def test_the_same_bytes_written_again_are_private(tmp_path: Path) -> None:
    async def body(storage: MappedStorage, upstream: Upstream) -> None:
        info = await storage.head_object("docs", "k", ReadConditions())
        await object_acl.bind(storage, "docs", "k", "public-read", info)
        assert await object_acl.current(storage, "docs", "k", info) == "public-read"
        await storage.put_object(_put("k"))  # same bytes: same ETag, most likely same second
        again = await storage.head_object("docs", "k", ReadConditions())
        assert again.etag == info.etag
        upstream.calls.clear()
        await object_acl.reset(storage, "docs", "k")
        # the record's DELETE (and here, with no bucket cache, a read of the settings record)
        deleted = [where for name, where in upstream.calls if name == "delete_object"]
        assert [where.rsplit("/", 1)[0] for where in deleted] == ["alice/.buckets/.acls/docs"]
        assert {name for name, _ in upstream.calls} <= {"delete_object", "get_object"}
        assert await object_acl.current(storage, "docs", "k", again) is None
        assert await object_acl.read(storage, "docs", "k") is None

    run(tmp_path, body)
