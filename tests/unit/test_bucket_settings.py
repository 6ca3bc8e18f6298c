"""The bucket settings record over a real local store: where it lives, what it costs, who sees
a change when."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from s3proxy.backends.base import Backend
from s3proxy.backends.bucket_cache import BucketCache
from s3proxy.backends.bucket_settings import (
    NO_SETTINGS,
    BucketSettings,
    with_cors,
    with_tags,
)
from s3proxy.backends.buckets import MARKER_DIR, SETTINGS_DIR, BucketRegistry
from s3proxy.backends.local import LocalStore
from s3proxy.cors import CorsRule
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ReadConditions
from tests.unit.local_helpers import BUCKET

TENANT = TenantLayout(
    "alice",
    home=UpstreamRoot("main", BUCKET, "alice/"),
    buckets={"mapped": UpstreamRoot("main", BUCKET, "m/")},
)
RULE = CorsRule(allowed_methods=("GET",), allowed_origins=("https://a.example",))


class Counting:
    """The local store, counting the requests the settings code makes."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await method(*args, **kwargs)

        return counted


def scenario(tmp_path: Path, body: Any) -> None:
    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            counting = Counting(store)
            cache = BucketCache(lifetime=3600)
            backends = cast(Mapping[str, Backend], {"main": counting})
            one = BucketRegistry(TENANT, backends, frozenset(), cache)
            two = BucketRegistry(TENANT, backends, frozenset(), cache)
            await body(store, counting, one, two)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_bucket_without_settings_costs_nothing_after_its_existence_check(
    tmp_path: Path,
) -> None:
    async def body(store: LocalStore, counting: Counting, one: BucketRegistry, _: Any) -> None:
        await one.create("photos")
        await one.require("photos")
        counting.calls.clear()
        assert await one.settings.get("photos") == NO_SETTINGS
        assert counting.calls == []

    scenario(tmp_path, body)


def test_settings_live_in_the_marker_and_every_worker_sees_a_change_at_once(
    tmp_path: Path,
) -> None:
    async def body(
        store: LocalStore, counting: Counting, one: BucketRegistry, two: BucketRegistry
    ) -> None:
        await one.create("photos")
        assert await two.settings.get("photos") == NO_SETTINGS  # cached by the other worker
        await one.settings.update("photos", with_cors((RULE,)))
        await one.settings.update("photos", with_tags((("team", "web"),)))
        seen = await two.settings.get("photos")
        assert seen.cors == (RULE,) and seen.tags == (("team", "web"),)
        counting.calls.clear()
        assert await two.settings.get("photos") == seen  # cached now: no request
        assert counting.calls == []
        marker = await store.head_object(BUCKET, f"alice/{MARKER_DIR}photos", ReadConditions())
        assert marker.size > 0
        await one.settings.update("photos", with_cors(None))
        await one.settings.update("photos", with_tags(None))
        marker = await store.head_object(BUCKET, f"alice/{MARKER_DIR}photos", ReadConditions())
        assert marker.size > 0  # the record keeps the creation date (wave 18), no settings
        assert (await two.settings.get("photos")).empty

    scenario(tmp_path, body)


def test_a_mapped_bucket_keeps_its_record_in_the_home(tmp_path: Path) -> None:
    async def body(store: LocalStore, counting: Counting, one: BucketRegistry, _: Any) -> None:
        assert await one.settings.get("mapped") == NO_SETTINGS
        await one.settings.update("mapped", with_tags((("a", "b"),)))
        record = f"alice/{SETTINGS_DIR}mapped"
        await store.head_object(BUCKET, record, ReadConditions())
        assert (await one.settings.get("mapped")).tags == (("a", "b"),)
        assert [name for name, _ in await one.list()] == ["mapped"]  # not a created bucket
        await one.settings.update("mapped", with_tags(None))
        with pytest.raises(S3Error) as caught:
            await store.head_object(BUCKET, record, ReadConditions())
        assert caught.value.code is S3ErrorCode.NoSuchKey

    scenario(tmp_path, body)


def test_a_deleted_bucket_has_no_settings_to_change(tmp_path: Path) -> None:
    async def body(store: LocalStore, counting: Counting, one: BucketRegistry, _: Any) -> None:
        with pytest.raises(S3Error) as caught:
            await one.settings.update("ghost", with_cors((RULE,)))
        assert caught.value.code is S3ErrorCode.NoSuchBucket

    scenario(tmp_path, body)


def test_members_this_version_does_not_know_survive_a_rewrite() -> None:
    stored = b'{"website":{"index":["x"]},"tags":[["k","v"]]}'
    settings = BucketSettings.decode(stored)
    changed = with_cors((RULE,))(settings)
    again = BucketSettings.decode(changed.encode())
    assert again.other == {"website": {"index": ["x"]}}
    assert again.tags == (("k", "v"),) and again.cors == (RULE,)
    assert NO_SETTINGS.encode() == b""


class FailingWrites(Counting):
    """Ceph RGW under racing conditional writes: the first ``failures`` record writes answer a
    5xx, the first of them after it has landed (the answer lost, the write done)."""

    def __init__(self, store: LocalStore, failures: int) -> None:
        super().__init__(store)
        self.failures = failures

    async def put_object(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            landed = self.failures == 2
            self.failures -= 1
            if landed:
                await self.store.put_object(*args, **kwargs)
            raise S3Error(S3ErrorCode.ServiceUnavailable, "storage failed")
        return await self.store.put_object(*args, **kwargs)


@pytest.mark.parametrize("failures", [1, 2])
def test_a_settings_write_the_upstream_fails_with_a_5xx_is_read_again_and_retried(
    tmp_path: Path, failures: int
) -> None:
    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            flaky = FailingWrites(store, 0)
            backends = cast(Mapping[str, Backend], {"main": flaky})
            registry = BucketRegistry(TENANT, backends, frozenset(), BucketCache(lifetime=3600))
            await registry.create("photos")
            flaky.failures = failures
            await registry.settings.update("photos", with_tags((("team", "web"),)))
            # One write failed; the retry wrote (1), or found the change landed (2).
            assert flaky.failures == failures - 1
            assert (await registry.settings.get("photos")).tags == (("team", "web"),)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_settings_write_that_keeps_failing_answers_the_upstreams_error(tmp_path: Path) -> None:
    async def main() -> None:
        store = LocalStore("main", tmp_path / "store")
        try:
            flaky = FailingWrites(store, 0)
            backends = cast(Mapping[str, Backend], {"main": flaky})
            registry = BucketRegistry(TENANT, backends, frozenset(), BucketCache(lifetime=3600))
            await registry.create("photos")
            flaky.failures = 100
            with pytest.raises(S3Error) as caught:
                await registry.settings.update("photos", with_tags((("team", "web"),)))
            assert caught.value.code is S3ErrorCode.ServiceUnavailable
        finally:
            await store.close()

    asyncio.run(main())
