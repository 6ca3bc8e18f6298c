"""Classes kept by the proxy (s3proxy.backends.class_records): what a record names, that a
stale one names nothing, and what it costs — nothing in a bucket that never held a kept class,
one request more per listing page in one that did. The upstream here is a real local store,
wrapped to count requests and to say, as an S3 upstream does, which classes it offers."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from s3proxy.backends.base import Backend
from s3proxy.backends.class_records import (
    RECORD_DIR,
    class_of_record,
    kept_by_proxy,
    record_body,
)
from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.backends.local import LocalStore
from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.listing import ListQuery
from s3proxy.model import ObjectAttributes, PutObjectInput, ReadConditions
from tests.unit.local_helpers import BUCKET

HOME = UpstreamRoot("main", BUCKET, "alice/")
TENANT = TenantLayout("alice", home=HOME)
ETAG = '"' + hashlib.md5(b"x").hexdigest() + '"'
QUERY = ListQuery(prefix="", delimiter=None, start_after=None, max_keys=1000)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_a_record_names_its_class_only_for_the_object_it_was_written_for() -> None:
    body = record_body("GLACIER", ETAG)
    assert body == b"GLACIER\n" + ETAG.strip('"').encode()
    assert class_of_record(f'"{_md5(body)}"', len(body), ETAG) == "GLACIER"
    assert class_of_record(_md5(body).upper(), len(body), ETAG.upper()) == "GLACIER"
    other = '"' + _md5(b"y") + '"'
    assert class_of_record(_md5(body), len(body), other) is None  # overwritten since
    assert class_of_record(_md5(body), len(body) + 1, ETAG) is None
    assert class_of_record(_md5(b"STANDARD\n" + body[8:]), len(body) + 1, ETAG) is None


class Upstream:
    """The local store as an S3 upstream offering ``offered``, counting requests."""

    def __init__(self, store: LocalStore, offered: frozenset[str] | None) -> None:
        self.store = store
        self.calls: list[tuple[str, str]] = []
        if offered is not None:
            self.offered_storage_classes = offered

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.store, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            where = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            request = args[0] if args else None
            if isinstance(request, PutObjectInput):
                where = request.key
            self.calls.append((name, where))
            return await method(*args, **kwargs)

        return counted


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _put(key: str, storage_class: str = "STANDARD", data: bytes = b"x") -> PutObjectInput:
    return PutObjectInput(
        bucket="docs",
        key=key,
        body=_once(data),
        content_length=len(data),
        attributes=ObjectAttributes(),
        storage_class=storage_class,
    )


def scenario(tmp_path: Path, offered: frozenset[str] | None, body: Any) -> Upstream:
    async def main() -> Upstream:
        store = LocalStore("main", tmp_path / "store")
        try:
            upstream = Upstream(store, offered)
            backends = cast(Mapping[str, Backend], {"main": upstream})
            storage = MappedStorage(TENANT, backends, 1, encodings=KeyEncodings.fixed("flat"))
            await storage.buckets.create("docs")
            await body(storage, upstream)
        finally:
            await store.close()
        return upstream

    return asyncio.run(main())


async def _put_and_list(storage: MappedStorage, upstream: Upstream) -> None:
    await storage.put_object(_put("a"))
    await storage.list_objects("docs", QUERY)
    await storage.head_object("docs", "a", ReadConditions())
    await storage.delete_object("docs", "a")


def test_a_bucket_without_kept_classes_pays_nothing(tmp_path: Path) -> None:
    """A PUT, a listing, a HEAD and a delete make exactly the requests they make on a backend
    that keeps every class itself: none touches a class record or the settings record."""

    async def body(storage: MappedStorage, upstream: Upstream) -> None:
        upstream.calls.clear()
        await _put_and_list(storage, upstream)

    offering_none = scenario(tmp_path / "one", frozenset(), body)
    keeping_all = scenario(tmp_path / "two", None, body)
    assert offering_none.calls == keeping_all.calls
    assert not [call for call in offering_none.calls if RECORD_DIR in call[1]]
    assert ("get_object", "alice/.buckets/docs") not in offering_none.calls


def test_a_flagged_bucket_pays_one_listing_per_page_and_one_request_per_write(
    tmp_path: Path,
) -> None:
    async def body(storage: MappedStorage, upstream: Upstream) -> None:
        for index in range(5):
            await storage.put_object(_put(f"k{index}", "GLACIER" if index % 2 else "STANDARD"))
        upstream.calls.clear()
        page = await storage.list_objects("docs", QUERY)
        assert [entry.storage_class for entry in page.entries] == [
            "STANDARD", "GLACIER", "STANDARD", "GLACIER", "STANDARD",
        ]  # fmt: skip
        records = [call for call in upstream.calls if RECORD_DIR in call[1]]
        assert [call[0] for call in records] == ["list_objects"]
        assert re.fullmatch(rf"alice/{RECORD_DIR}docs\.[0-9a-f]{{8}}/", records[0][1])
        upstream.calls.clear()
        await storage.put_object(_put("k1"))  # STANDARD over GLACIER: the record removed
        assert [call for call in upstream.calls if RECORD_DIR in call[1]] == [
            ("delete_object", records[0][1] + "k1")
        ]
        info = await storage.head_object("docs", "k1", ReadConditions())
        assert info.storage_class == "STANDARD"
        info = await storage.head_object("docs", "k3", ReadConditions())
        assert info.storage_class == "GLACIER"

    scenario(tmp_path, frozenset(), body)


def test_an_offered_class_is_forwarded_and_no_record_is_written(tmp_path: Path) -> None:
    async def body(storage: MappedStorage, upstream: Upstream) -> None:
        await storage.put_object(_put("k", "GLACIER"))
        info = await storage.head_object("docs", "k", ReadConditions())
        assert info.storage_class == "GLACIER"  # the store's own
        assert not [call for call in upstream.calls if RECORD_DIR in call[1]]

    scenario(tmp_path, frozenset({"GLACIER"}), body)


def test_a_tenant_without_a_home_is_refused_a_class_it_cannot_keep(tmp_path: Path) -> None:
    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            upstream = cast(Backend, Upstream(store, frozenset()))
            assert kept_by_proxy(upstream, "GLACIER") and not kept_by_proxy(upstream, "STANDARD")
            tenant = TenantLayout("bob", buckets={"docs": UpstreamRoot("main", BUCKET, "b/")})
            storage = MappedStorage(tenant, {"main": upstream}, 0)
            with pytest.raises(S3Error) as caught:
                await storage.put_object(_put("k", "GLACIER"))
            assert caught.value.code is S3ErrorCode.InvalidStorageClass
        finally:
            await store.close()

    asyncio.run(main())
