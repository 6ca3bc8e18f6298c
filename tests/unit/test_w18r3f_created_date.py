"""A created bucket's CreationDate when its last setting is removed (wave 18, R3F), over a real
local store whose clock the test sets: the record keeps ``{"created": ...}`` rather than
becoming the layout's empty marker, whose LastModified (that write's time) ListBuckets showed
as the bucket's date from then on; older releases read such a record as no settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3proxy.backends.bucket_settings import NO_SETTINGS, BucketSettings, with_cors, with_tags
from s3proxy.backends.buckets import MARKER_DIR, BucketRegistry
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import read_record
from tests.unit.local_helpers import BUCKET
from tests.unit.test_w11c_bucket_dates import MINUTE_MS, RULE, Clock, scenario

DATE = "2026-06-01T00:00:00.000Z"


def test_a_record_holding_only_the_date_encodes_and_reads_as_no_settings() -> None:
    kept = BucketSettings(created=DATE)
    assert json.loads(kept.encode()) == {"created": DATE}
    assert BucketSettings.decode(kept.encode()) == kept
    assert BucketSettings.decode(kept.encode()).empty
    assert NO_SETTINGS.encode() == b""  # a bucket never given settings: still an empty marker


def test_removing_the_last_setting_keeps_the_creation_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(
        store: LocalStore, clock: Clock, one: BucketRegistry, two: BucketRegistry
    ) -> None:
        await one.create("photos")
        created = dict(await one.list())["photos"]
        clock.ms += MINUTE_MS
        await one.settings.update("photos", with_cors((RULE,)))
        clock.ms += MINUTE_MS
        await one.settings.update("photos", with_cors(None))
        assert (await two.settings.get("photos")).empty
        found = await read_record(store, BUCKET, f"alice/{MARKER_DIR}photos", 1024)
        assert found is not None and json.loads(found[0]) == {"created": created}
        assert dict(await two.list())["photos"] == created
        assert await two.settings.creation_date("photos") == created
        clock.ms += MINUTE_MS
        await one.settings.update("photos", with_tags((("a", "b"),)))  # set again: still kept
        assert dict(await two.list())["photos"] == created
        assert await two.settings.creation_date("photos") == created

    scenario(tmp_path, monkeypatch, body)
