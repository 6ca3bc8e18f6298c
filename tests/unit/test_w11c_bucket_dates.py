"""A created bucket's CreationDate over a real local store: a settings write (CORS, tags, ACL)
rewrites the bucket's marker, whose LastModified ListBuckets showed as the creation date, so
before wave 11 every such write moved the bucket's date to the write's (``aws s3 ls`` showed a
bucket "created" when its CORS was last set). The record now keeps the first date.

The store's clock is set by the test (``now_ms``), so the rewrite lands a minute after the
creation without waiting for one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import pytest

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import BucketCache
from s3proxy.backends.bucket_settings import with_acl, with_cors, with_tags
from s3proxy.backends.buckets import EXPLICIT_CREATION_DATE, MARKER_DIR, BucketRegistry
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import write_record
from s3proxy.cors import CorsRule
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ReadConditions
from tests.unit.local_helpers import BUCKET

TENANT = TenantLayout(
    "alice",
    home=UpstreamRoot("main", BUCKET, "alice/"),
    buckets={"mapped": UpstreamRoot("main", BUCKET, "m/")},
)
RULE = CorsRule(allowed_methods=("GET",), allowed_origins=("https://a.example",))
CREATED_MS = 1_780_000_000_000
MINUTE_MS = 60_000


class Clock:
    def __init__(self) -> None:
        self.ms = CREATED_MS

    def __call__(self) -> int:
        return self.ms


def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: object) -> None:
    clock = Clock()
    monkeypatch.setattr("s3proxy.backends.local.store.now_ms", clock)

    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            backends = cast(Mapping[str, Backend], {"main": store})
            cache = BucketCache(lifetime=3600)
            one = BucketRegistry(TENANT, backends, frozenset(), cache)
            two = BucketRegistry(TENANT, backends, frozenset(), cache)
            await body(store, clock, one, two)  # type: ignore[operator]
        finally:
            await store.close()

    asyncio.run(main())


def test_settings_writes_leave_the_creation_date_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(
        store: LocalStore, clock: Clock, one: BucketRegistry, two: BucketRegistry
    ) -> None:
        await one.create("photos")
        await one.create("plain")
        created = dict(await one.list())
        assert created["mapped"] == EXPLICIT_CREATION_DATE
        for change in (
            with_cors((RULE,)),
            with_tags((("team", "web"),)),
            with_acl("public-read"),
            with_cors(None),
            with_tags(None),
        ):
            clock.ms += MINUTE_MS
            await one.settings.update("photos", change)
            assert dict(await two.list()) == created, change
        # The last setting removed: the record keeps only the date (wave 18: an empty marker
        # made that write's time the bucket's date).
        clock.ms += MINUTE_MS
        await one.settings.update("photos", with_acl(None))
        assert (await two.settings.get("photos")).empty
        marker = await store.head_object(BUCKET, f"alice/{MARKER_DIR}photos", ReadConditions())
        assert marker.size > 0
        assert dict(await two.list()) == created

    scenario(tmp_path, monkeypatch, body)


def test_a_record_without_a_date_shows_the_marker_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record written before this change (or not by this gateway) lists with its marker's
    date, never an error; a later settings write keeps that date."""

    async def body(store: LocalStore, clock: Clock, one: BucketRegistry, _: BucketRegistry) -> None:
        await one.create("old")
        await one.create("odd")
        clock.ms += MINUTE_MS
        marker = f"alice/{MARKER_DIR}"
        await write_record(store, BUCKET, marker + "old", b'{"tags":[["a","b"]]}')
        await write_record(store, BUCKET, marker + "odd", b"[not a record")
        listed = dict(await one.list())  # the odd record is no error
        assert listed["old"] == listed["odd"]  # both the rewrite's date: nothing kept another
        clock.ms += MINUTE_MS
        await one.settings.update("old", with_cors((RULE,)))
        assert dict(await one.list())["old"] == listed["old"]

    scenario(tmp_path, monkeypatch, body)


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1]", b'{"created": 5}', b'{"tags": []}', b"\xff\xfe"]
)
def test_recorded_date_is_none_for_anything_but_a_date(body: bytes) -> None:
    from s3proxy.backends.bucket_settings import recorded_date  # new in wave 11

    assert recorded_date(body) is None


def test_recorded_date_reads_the_kept_date() -> None:
    from s3proxy.backends.bucket_settings import recorded_date

    assert recorded_date(b'{"created":"2026-12-04T21:37:53.000Z"}') == "2026-12-04T21:37:53.000Z"


def test_listing_again_reads_a_record_only_after_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListBuckets reads the records of rewritten markers for their dates once; after that,
    until a record changes (a new ETag), the date is remembered."""
    reads: list[str] = []

    async def body(store: LocalStore, clock: Clock, one: BucketRegistry, _: BucketRegistry) -> None:
        original = store.get_object

        async def counted(*args: object, **kwargs: object) -> object:
            reads.append(str(args[1]))
            return await original(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "get_object", counted)
        await one.create("photos")
        await one.settings.update("photos", with_cors((RULE,)))
        first = await one.list()
        reads.clear()
        assert await one.list() == first
        assert reads == []
        clock.ms += MINUTE_MS
        await one.settings.update("photos", with_tags((("a", "b"),)))
        reads.clear()
        assert await one.list() == first
        assert reads == [f"alice/{MARKER_DIR}photos"]

    scenario(tmp_path, monkeypatch, body)
