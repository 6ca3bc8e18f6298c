"""Quotas count multipart parts from the moment they are stored (wave 13, A): the accounting,
the local store's exact check and counters, the early check before a part's body moves, the
usage records' additive member, and the S3-upstream book's parts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from s3proxy.admin_app import create_admin_app
from s3proxy.app import Gateway, S3App
from s3proxy.backends import usage_records
from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.index import parts_under, usage_under
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.usage_records import (
    Baseline,
    UsageBook,
    decode_baseline,
    decode_record,
    encode_baseline,
    encode_record,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    PartInfo,
    PartsPage,
    QuotaScope,
    UploadInfo,
    UploadPartInput,
    UploadsPage,
)
from s3proxy.quotas import Limit, QuotaPolicy, Usage, completed, exceeded, parts_change
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.local_helpers import BUCKET, MiB, chunks, run
from tests.unit.test_quotas import KEYS, admin_get, local_settings
from tests.unit.test_quotas_upstream import TENANT, TENANT_ROOT, Upstream, at

ROOT = ("test", BUCKET, "t/")


def scope(max_bytes: int | None = None, max_objects: int | None = None) -> QuotaScope:
    return QuotaScope("tenant", (ROOT,), max_bytes, max_objects)


# -- the accounting ----------------------------------------------------------------------------


def test_a_part_counts_bytes_and_a_complete_turns_them_into_the_object() -> None:
    assert parts_change(5) == Usage(0, 5, 5)
    assert parts_change(3, replaced=5) == Usage(0, -2, -2)
    # 10 bytes of parts make a 7-byte object (a part left out): one object, 3 bytes freed.
    assert completed(None, 7, 10) == Usage(1, -3, -10)
    assert completed(4, 7, 10) == Usage(0, -7, -10)  # over an object of 4 bytes
    full = QuotaScope("tenant", (), max_bytes=10, max_objects=None)
    assert exceeded(full, Usage(0, 10, 10), Usage(0, 11, 11))
    assert not exceeded(full, Usage(0, 10, 10), Usage(1, 7, 0))  # a Complete never grows bytes


# -- the local store: exact, in the part's transaction ------------------------------------------


async def part(
    store: LocalStore, upload: str, number: int, size: int, quota: QuotaScope, key: str = "t/k"
) -> str:
    return await store.upload_part(
        UploadPartInput(BUCKET, key, upload, number, chunks(b"p" * size), size, quota=(quota,))
    )


async def create(store: LocalStore, key: str = "t/k") -> str:
    return await store.create_multipart_upload(
        CreateMultipartInput(BUCKET, key, ObjectAttributes())
    )


def scanned(store: LocalStore) -> Usage:
    objects, size = usage_under(store.index.db, BUCKET, "t/")
    held = parts_under(store.index.db, BUCKET, "t/")
    return Usage(objects, size + held, held)


def test_local_parts_count_until_complete_or_abort(tmp_path: Path) -> None:
    quota = scope(12 * MiB)

    async def scenario(store: LocalStore) -> None:
        assert await store.usage((ROOT,)) == Usage()  # the root's counters from here
        upload = await create(store)
        first = await part(store, upload, 1, 5 * MiB, quota)
        await part(store, upload, 2, 5 * MiB, quota)
        assert await store.usage((ROOT,)) == Usage(0, 10 * MiB, 10 * MiB) == scanned(store)
        with pytest.raises(S3Error) as error:
            await part(store, upload, 3, 3 * MiB, quota)
        assert error.value.code is S3ErrorCode.QuotaExceeded
        await part(store, upload, 2, MiB, quota)  # sent again: the difference
        assert await store.usage((ROOT,)) == Usage(0, 6 * MiB, 6 * MiB) == scanned(store)
        done = CompleteMultipartInput(
            BUCKET, "t/k", upload, [CompletedPart(1, first)], quota=(quota,)
        )
        await store.complete_multipart_upload(done)  # part 2, left out, freed
        assert await store.usage((ROOT,)) == Usage(1, 5 * MiB, 0) == scanned(store)

        other = await create(store, "t/o")
        await part(store, other, 1, 2 * MiB, quota, "t/o")
        elsewhere = await create(store, "u/o")  # outside the root: not counted
        await part(store, elsewhere, 1, MiB, scope(), "u/o")
        assert await store.usage((ROOT,)) == Usage(1, 7 * MiB, 2 * MiB) == scanned(store)
        await store.abort_multipart_upload(BUCKET, "t/o", other)
        assert await store.usage((ROOT,)) == Usage(1, 5 * MiB, 0) == scanned(store)

    run(tmp_path, scenario)


def test_local_counters_are_rebuilt_with_the_parts_after_a_restart(tmp_path: Path) -> None:
    async def first(store: LocalStore) -> None:
        upload = await create(store)
        await part(store, upload, 1, 1000, scope())

    async def second(store: LocalStore) -> None:
        assert await store.usage((ROOT,)) == Usage(0, 1000, 1000)

    run(tmp_path, first)
    run(tmp_path, second)


def test_a_store_from_before_parts_counted_gets_the_new_counters(tmp_path: Path) -> None:
    """A store whose usage cache predates ``parts_bytes`` (52a8992): the cache is dropped and
    made anew, and the parts already there count."""

    async def first(store: LocalStore) -> None:
        upload = await create(store)
        await part(store, upload, 1, 700, scope())

    run(tmp_path, first)
    db = sqlite3.connect(tmp_path / "index.sqlite3")
    for trigger in ("usage_part_added", "usage_part_removed", "usage_upload_removed"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("ALTER TABLE usage_roots DROP COLUMN parts_bytes")
    db.commit()
    db.close()

    async def second(store: LocalStore) -> None:
        assert await store.usage((ROOT,)) == Usage(0, 700, 700)
        upload = await create(store, "t/x")
        await part(store, upload, 1, 300, scope(), "t/x")
        assert await store.usage((ROOT,)) == Usage(0, 1000, 1000) == scanned(store)

    run(tmp_path, second)


async def untouchable() -> AsyncIterator[bytes]:
    raise AssertionError("the body was read")
    yield b""  # pragma: no cover


async def _exists(bucket: str) -> None:
    return None


def test_a_part_over_quota_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        layout = TenantLayout("t", UpstreamRoot("test", BUCKET, "t/"))
        storage = MappedStorage(layout, {"test": store}, 0, quotas=QuotaPolicy(layout, Limit(10)))
        storage.buckets.require = _exists  # type: ignore[method-assign]
        _, location = storage.locate("docs", "k")
        upload = await create(store, location.key)
        request = UploadPartInput("docs", "k", upload, 1, untouchable(), 11)
        with pytest.raises(S3Error) as error:
            await storage.uploads.upload_part(request)
        assert error.value.code is S3ErrorCode.QuotaExceeded
        assert (await store.list_parts(BUCKET, location.key, upload, 0, 10)).parts == []

    run(tmp_path, scenario)


# -- S3 upstreams: the records' additive member and the book -------------------------------------


def test_records_keep_the_pair_an_older_release_reads() -> None:
    """The parts go in a member of their own: an older release reads ``usage`` [objects,
    bytes] as before (bytes with the parts in them, so it still counts them)."""
    figures = {TENANT_ROOT: Usage(2, 30, 20)}
    data = encode_record(figures)
    assert decode_record(data) == figures
    assert json.loads(data)["roots"][0]["usage"] == [2, 30]
    assert decode_record(
        json.dumps({"roots": [{"root": list(TENANT_ROOT), "usage": [2, 30]}]}).encode()
    ) == {TENANT_ROOT: Usage(2, 30)}
    baselines = {TENANT_ROOT: Baseline(Usage(4, 40, 5), {"p1": Usage(1, 2, 2), "p2": Usage(1, 3)})}
    stored = encode_baseline(baselines)
    assert decode_baseline(stored) == baselines
    assert json.loads(stored)["roots"][0]["offsets"] == {"p1": [1, 2], "p2": [1, 3]}


class PartsUpstream(Upstream):
    """:class:`Upstream` with one upload's parts (what ListParts answers)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[tuple[str, int], int] = {}
        self.uploads: dict[str, str] = {}
        """Upload id → upstream key, for ListMultipartUploads."""

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartsPage:
        self.requests.append(f"LISTPARTS {marker}")
        numbers = sorted(n for u, n in self.parts if u == upload_id and n > marker)[:max_parts]
        sizes = [self.parts[(upload_id, n)] for n in numbers]
        when = "2026-01-01T00:00:00Z"
        return PartsPage(
            [PartInfo(n, f'"{n}"', s, when) for n, s in zip(numbers, sizes, strict=True)], None
        )

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        listed = sorted((key, upload) for upload, key in self.uploads.items())
        when = "2026-01-01T00:00:00Z"
        found = [UploadInfo(key, upload, when) for key, upload in listed if key.startswith(prefix)]
        return UploadsPage(found, [], None)


def stored(
    upstream: PartsUpstream, number: int, size: int, upload: str = "u"
) -> Callable[[], Awaitable[str]]:
    async def write() -> str:
        upstream.parts[(upload, number)] = size
        return '"e"'

    return write


def _run_book(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` with usage records published at once, and the books dropped after."""
    usage_records.configure(0.0)
    try:
        asyncio.run(scenario())
    finally:
        usage_records.configure(5.0)
        usage_records._books.clear()


def test_the_book_counts_parts_and_frees_them() -> None:
    async def scenario() -> None:
        upstream = PartsUpstream()
        layout = TenantLayout("t", UpstreamRoot("up", "homes", "t/"))
        book = UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]
        where: UpstreamLocation = at("big")
        await book.part_guarded((TENANT,), where, "u", 1, 60, stored(upstream, 1, 60))
        assert await book.total([TENANT_ROOT]) == Usage(0, 60, 60)
        with pytest.raises(S3Error) as error:  # 60 + 50 > 100
            await book.part_guarded((TENANT,), where, "u", 2, 50, stored(upstream, 2, 50))
        assert error.value.code is S3ErrorCode.QuotaExceeded and ("u", 2) not in upstream.parts
        await book.part_guarded((TENANT,), where, "u", 1, 30, stored(upstream, 1, 30))
        await book.part_guarded((TENANT,), where, "u", 2, 20, stored(upstream, 2, 20))
        assert await book.total([TENANT_ROOT]) == Usage(0, 50, 50)

        async def complete() -> str:
            upstream.put(where.key, b"x" * 30)
            return '"e"'

        await book.guarded((TENANT,), where, 30, complete, parts=50)  # part 2 left out
        assert await book.total([TENANT_ROOT]) == Usage(1, 30, 0)
        book.freed((TENANT,), at("other"), 0)
        await book.part_guarded((TENANT,), at("o"), "v", 1, 70, stored(upstream, 1, 70, "v"))
        assert await book.total([TENANT_ROOT]) == Usage(1, 100, 70)
        book.freed((TENANT,), at("o"), 70)  # an abort
        assert await book.total([TENANT_ROOT]) == Usage(1, 30, 0)
        await book.close()

    _run_book(scenario)


def test_a_roots_first_count_takes_in_the_parts_of_uploads_already_open() -> None:
    """Parts stored before the quota tracked the root (before the quota was set, or by a
    release that did not count parts) count from the first look, so that their Complete or
    abort does not take the usage below what is stored."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        upstream.uploads = {"u": at("big").key, "v": "elsewhere/x"}
        upstream.parts = {("u", 1): 40, ("u", 2): 5, ("v", 1): 1000}
        layout = TenantLayout("t", UpstreamRoot("up", "homes", "t/"))
        book = UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]
        assert await book.total([TENANT_ROOT]) == Usage(0, 45, 45)
        book.freed((TENANT,), at("big"), 45)
        assert await book.total([TENANT_ROOT]) == Usage()
        await book.close()

    _run_book(scenario)


def test_through_the_gateway_a_part_past_the_quota_reads_no_body(tmp_path: Path) -> None:
    """UploadPart past the quota: 403 QuotaExceeded with no receive call (no body byte read);
    /usage shows the parts stored in ``upload_bytes``."""
    settings = local_settings(tmp_path / "s", {"max_bytes": 100}, {})
    endpoint = "http://127.0.0.1:9000"

    async def scenario() -> None:
        gateway = Gateway(settings)
        try:
            app = S3App(gateway)
            assert (await call_app(app, "PUT", object_url(endpoint, "parts"), KEYS)).status == 200
            created = await call_app(
                app, "POST", object_url(endpoint, "parts", "k", "uploads"), KEYS
            )
            upload = ET.fromstring(created.body).findtext("{*}UploadId")
            query = f"partNumber=1&uploadId={upload}"
            url = object_url(endpoint, "parts", "k", query)
            over = await call_app(app, "PUT", url, KEYS, b"p" * 101)
            assert (over.status, over.code, over.receives) == (403, "QuotaExceeded", 0)
            assert (await call_app(app, "PUT", url, KEYS, b"p" * 60)).status == 200
            _, body = await admin_get(create_admin_app(gateway), "/usage")
            tenant = body["tenants"]["t"]
            assert (tenant["objects"], tenant["bytes"], tenant["upload_bytes"]) == (0, 60, 60)
        finally:
            await gateway.close()

    asyncio.run(scenario())


def test_a_part_stored_whose_answer_was_lost_is_counted() -> None:
    """The upstream stored the part but the answer never came (a 5xx): read back from
    ListParts under the part number's turn, it counts; a refusal (4xx) counts nothing."""

    async def scenario() -> None:
        upstream = PartsUpstream()
        layout = TenantLayout("t", UpstreamRoot("up", "homes", "t/"))
        book = UsageBook(layout, {"up": upstream})  # type: ignore[dict-item]

        def failing(number: int, size: int, code: S3ErrorCode) -> Callable[[], Awaitable[str]]:
            async def write() -> str:
                if code is S3ErrorCode.ServiceUnavailable:
                    upstream.parts[("u", number)] = size
                raise S3Error(code)

            return write

        for number, code in ((1, S3ErrorCode.ServiceUnavailable), (2, S3ErrorCode.BadDigest)):
            with pytest.raises(S3Error):
                await book.part_guarded(
                    (TENANT,), at("k"), "u", number, 30, failing(number, 30, code)
                )
        assert await book.total([TENANT_ROOT]) == Usage(0, 30, 30)
        await book.close()

    _run_book(scenario)
