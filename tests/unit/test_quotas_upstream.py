"""Quotas on S3 upstreams (s3proxy.backends.usage_records), over an in-memory upstream that
keeps objects the way an S3 server does: the records, the baseline, the check before a write,
holds for writes in flight, and what several processes see of each other's writes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from s3proxy.backends import usage_records
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.usage_records import (
    Baseline,
    UsageBook,
    combine,
    completed_size,
    counted,
    decode_baseline,
    decode_record,
    encode_baseline,
    encode_record,
    head_size,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamLocation, UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    DeleteResult,
    GetObjectOutput,
    ListEntry,
    ListPage,
    ObjectAttributes,
    ObjectInfo,
    PartInfo,
    PutObjectInput,
    PutObjectOutput,
    QuotaScope,
    ReadConditions,
    UploadsPage,
)
from s3proxy.quotas import Limit, QuotaPolicy, Usage

HOME = UpstreamRoot("up", "homes", "t/")
TENANT_ROOT = ("up", "homes", "t/")
BUCKET_ROOT = ("up", "homes", "t/docs/")


class Upstream:
    """What the book uses of a Backend: objects in a dict, listed in key order."""

    name = "up"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests: list[str] = []

    def put(self, key: str, data: bytes, bucket: str = "homes") -> None:
        self.objects[(bucket, key)] = data

    async def put_object(self, request: PutObjectInput) -> PutObjectOutput:
        self.requests.append(f"PUT {request.key}")
        data = b"".join([chunk async for chunk in request.body])
        self.objects[(request.bucket, request.key)] = data
        return PutObjectOutput(_etag(data))

    async def head_object(self, bucket: str, key: str, conditions: ReadConditions) -> ObjectInfo:
        self.requests.append(f"HEAD {key}")
        data = self.objects.get((bucket, key))
        if data is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return ObjectInfo(len(data), _etag(data), "", ObjectAttributes())

    async def get_object(
        self, bucket: str, key: str, byte_range: Any, conditions: ReadConditions
    ) -> GetObjectOutput:
        info = await self.head_object(bucket, key, conditions)
        data = self.objects[(bucket, key)]

        async def body() -> AsyncIterator[bytes]:
            yield data

        async def aclose() -> None:
            return None

        return GetObjectOutput(info, body(), None, len(data), aclose)

    async def delete_object(self, bucket: str, key: str) -> None:
        self.requests.append(f"DELETE {key}")
        self.objects.pop((bucket, key), None)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        for key in keys:
            await self.delete_object(bucket, key)
        return [DeleteResult(key) for key in keys]

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        self.requests.append(f"LIST {prefix}")
        keys = sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))
        keys = [k for k in keys if token is None or k > token][:max_keys]
        entries = [
            ListEntry(k, _etag(self.objects[(bucket, k)]), len(self.objects[(bucket, k)]), "")
            for k in keys
        ]
        return ListPage(entries, [], keys[-1] if len(keys) == max_keys else None)

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        """No upload is open (a root's first count sizes the open ones' parts)."""
        self.requests.append(f"UPLOADS {prefix}")
        return UploadsPage([], [], None)


def _etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def process(upstream: Upstream) -> UsageBook:
    """A book as one more process sharing the upstream would have it."""
    return UsageBook(TenantLayout("t", HOME), {"up": upstream})  # type: ignore[dict-item]


def at(key: str) -> UpstreamLocation:
    return UpstreamLocation("up", "homes", f"t/docs/0/{key}")


TENANT = QuotaScope("tenant", (TENANT_ROOT,), max_bytes=100)
DOCS = QuotaScope("bucket docs", (BUCKET_ROOT,), max_objects=3)


def write(upstream: Upstream, key: str, size: int) -> Callable[[], Awaitable[PutObjectOutput]]:
    async def put() -> PutObjectOutput:
        upstream.put(at(key).key, b"x" * size)
        return PutObjectOutput('"e"')

    return put


@pytest.fixture(autouse=True)
def always_reread() -> Any:
    """Interval 0: every check re-reads the records, so what a test publishes is seen."""
    usage_records.configure(0.0)
    yield
    usage_records.configure(5.0)
    usage_records._books.clear()  # each test has its own upstream


def test_records_round_trip_and_a_damaged_one_counts_nothing() -> None:
    figures = {TENANT_ROOT: Usage(2, 30), BUCKET_ROOT: Usage(-1, -5)}
    assert decode_record(encode_record(figures)) == figures
    baselines = {TENANT_ROOT: Baseline(Usage(4, 40), {"p1": Usage(1, 2)})}
    assert decode_baseline(encode_baseline(baselines)) == baselines
    for damaged in (b"", b"[1]", b'{"roots": 3}', b'{"roots": [{"root": 1}]}'):
        assert decode_record(damaged) == {}
        assert decode_baseline(damaged) == {}


def test_a_root_counts_the_baseline_and_what_records_added_after_it() -> None:
    baseline = Baseline(Usage(10, 1000), {"old": Usage(3, 300)})
    records = {"old": {TENANT_ROOT: Usage(5, 350)}, "new": {TENANT_ROOT: Usage(1, 7)}}
    assert combine(TENANT_ROOT, baseline, records) == Usage(13, 1057)


def test_gateway_objects_are_not_counted() -> None:
    assert not counted(TENANT_ROOT, "t/.buckets/docs", home=True)
    assert not counted(TENANT_ROOT, "t/.usage/baseline", home=True)
    assert not counted(TENANT_ROOT, "t/.uploads/x", home=True)
    assert counted(TENANT_ROOT, "t/docs/0/a", home=True)
    assert not counted(BUCKET_ROOT, "t/docs/.s3proxy-layout", home=False)
    assert counted(BUCKET_ROOT, "t/docs/.x", home=False)


def test_a_completed_upload_counts_its_listed_parts() -> None:
    stored = [PartInfo(1, '"a"', 5, ""), PartInfo(1, '"b"', 7, ""), PartInfo(2, '"c"', 3, "")]
    assert completed_size([CompletedPart(1, "B"), CompletedPart(2, '"c"')], stored) == 10


def test_the_baseline_is_taken_from_a_listing_and_shared() -> None:
    upstream = Upstream()
    upstream.put("t/docs/0/a", b"x" * 40)
    upstream.put("t/docs/1/b", b"x" * 20)
    upstream.put("t/.buckets/docs", b"")

    async def check() -> None:
        first = process(upstream)
        assert await first.total([TENANT_ROOT]) == Usage(2, 60)
        listings = sum(r.startswith("LIST t/docs") or r == "LIST t/" for r in upstream.requests)
        second = process(upstream)
        assert await second.total([TENANT_ROOT]) == Usage(2, 60)
        after = sum(r.startswith("LIST t/docs") or r == "LIST t/" for r in upstream.requests)
        assert after == listings  # the second process read the baseline, listed nothing

    asyncio.run(check())


def test_a_write_over_quota_is_refused_before_it_runs() -> None:
    upstream = Upstream()

    async def check() -> None:
        book = process(upstream)
        await book.guarded((TENANT,), at("a"), 60, write(upstream, "a", 60))
        ran: list[str] = []

        async def refused() -> PutObjectOutput:
            ran.append("written")
            return PutObjectOutput('"e"')

        with pytest.raises(S3Error) as error:
            await book.guarded((TENANT,), at("b"), 41, refused)
        assert error.value.code is S3ErrorCode.QuotaExceeded
        assert ran == []
        # An overwrite counts the difference: 60 → 100 fits, one object still.
        await book.guarded((TENANT,), at("a"), 100, write(upstream, "a", 100))
        assert await book.total([TENANT_ROOT]) == Usage(1, 100)
        await book.removed(
            (TENANT,), [at("a")], lambda: upstream.delete_object("homes", at("a").key)
        )
        assert await book.total([TENANT_ROOT]) == Usage(0, 0)
        await book.guarded((TENANT,), at("b"), 41, write(upstream, "b", 41))

    asyncio.run(check())


def test_a_failed_write_counts_nothing() -> None:
    upstream = Upstream()

    async def check() -> None:
        book = process(upstream)

        async def fails() -> PutObjectOutput:
            raise S3Error(S3ErrorCode.BadDigest)

        with pytest.raises(S3Error):
            await book.guarded((TENANT,), at("a"), 60, fails)
        assert await book.total([TENANT_ROOT]) == Usage(0, 0)

    asyncio.run(check())


def test_writes_in_flight_through_one_process_cannot_pass_a_limit_together() -> None:
    upstream = Upstream()

    async def check() -> None:
        book = process(upstream)
        gate = asyncio.Event()

        async def slow() -> PutObjectOutput:
            await gate.wait()
            return PutObjectOutput('"e"')

        first = asyncio.create_task(book.guarded((TENANT,), at("a"), 60, slow))
        await asyncio.sleep(0)  # let it reach its write
        while not book._held:
            await asyncio.sleep(0)
        with pytest.raises(S3Error) as error:
            await book.guarded((TENANT,), at("b"), 60, slow)
        assert error.value.code is S3ErrorCode.QuotaExceeded
        gate.set()
        await first

    asyncio.run(check())


def test_another_process_sees_a_write_once_it_is_published() -> None:
    upstream = Upstream()

    async def check() -> None:
        one, two = process(upstream), process(upstream)
        for key in ("a", "b", "c"):
            await one.guarded((DOCS,), at(key), 1, write(upstream, key, 1))
        assert await two.total([BUCKET_ROOT]) == Usage(0, 0)  # not published yet
        await one.close()  # what the timer (or shutdown) does
        assert await two.total([BUCKET_ROOT]) == Usage(3, 3)
        with pytest.raises(S3Error):
            await two.guarded((DOCS,), at("d"), 1, write(upstream, "d", 1))
        # A process started later counts what the first one wrote, before and after it
        # took the baseline (the first process has exited: its record stays).
        three = process(upstream)
        assert await three.total([BUCKET_ROOT]) == Usage(3, 3)
        assert await three.total([TENANT_ROOT]) == Usage(3, 3)

    asyncio.run(check())


def test_a_baseline_does_not_count_published_writes_twice() -> None:
    upstream = Upstream()

    async def check() -> None:
        one = process(upstream)
        await one.guarded((DOCS,), at("a"), 5, write(upstream, "a", 5))
        await one.close()
        # Another process needs the tenant root for the first time: the listing finds "a",
        # which one's record holds too; the offset keeps it from counting twice.
        two = process(upstream)
        assert await two.total([TENANT_ROOT]) == Usage(1, 5)
        await one.guarded((DOCS, TENANT), at("b"), 5, write(upstream, "b", 5))
        await one.close()
        assert await two.total([TENANT_ROOT, BUCKET_ROOT]) == Usage(4, 20)

    asyncio.run(check())


def storage(upstream: Upstream, limit: Limit | None) -> MappedStorage:
    """A tenant whose bucket ``docs`` is mapped onto the in-memory upstream."""
    layout = TenantLayout("t", HOME, {"docs": UpstreamRoot("up", "homes", "t/docs/")})
    policy = QuotaPolicy(layout, limit) if limit is not None else None
    return MappedStorage(layout, {"up": upstream}, 0, quotas=policy)  # type: ignore[dict-item]


def put(key: str, size: int, read: list[str]) -> PutObjectInput:
    async def body() -> AsyncIterator[bytes]:
        read.append(key)
        yield b"x" * size

    return PutObjectInput("docs", key, body(), size, ObjectAttributes())


def test_a_put_over_quota_is_refused_before_its_body_is_read() -> None:
    upstream = Upstream()
    read: list[str] = []

    async def check() -> None:
        tenant = storage(upstream, Limit(max_bytes=100))
        await tenant.put_object(put("a", 60, read))
        with pytest.raises(S3Error) as error:
            await tenant.put_object(put("b", 41, read))
        assert error.value.code is S3ErrorCode.QuotaExceeded
        await tenant.delete_objects("docs", ["a"])
        await tenant.put_object(put("b", 41, read))
        await usage_records.close_all()

    asyncio.run(check())
    assert read == ["a", "b"]
    assert upstream.objects[("homes", "t/docs/b")] == b"x" * 41


def test_a_tenant_without_a_quota_pays_nothing() -> None:
    """No HEAD before a write or a delete, no listing, no record: the requests it would make
    without quotas at all."""
    upstream = Upstream()

    async def check() -> None:
        tenant = storage(upstream, None)
        await tenant.put_object(put("a", 10, []))
        await tenant.delete_object("docs", "a")

    asyncio.run(check())
    assert upstream.requests == ["PUT t/docs/a", "DELETE t/docs/a"]
    assert not any(".usage/" in key for _, key in upstream.objects)


def test_an_object_the_upstream_will_not_head_is_sized_from_its_listing() -> None:
    """An SSE-C object answers HEAD without its key with 400: the listing gives its size."""

    class Refusing(Upstream):
        async def head_object(
            self, bucket: str, key: str, conditions: ReadConditions
        ) -> ObjectInfo:
            raise S3Error(S3ErrorCode.InvalidRequest)

    upstream = Refusing()
    upstream.put("t/docs/0/a", b"x" * 7)
    upstream.put("t/docs/0/ab", b"x" * 9)
    assert asyncio.run(head_size(upstream, at("a"))) == 7  # type: ignore[arg-type]
    assert asyncio.run(head_size(upstream, at("b"))) is None  # type: ignore[arg-type]
