"""ListMultipartUploads past one upstream page on a real SeaweedFS (wave 18 F).

SeaweedFS 4.48 lists uploads by upload id and reads ``key-marker`` as a filter, so the proxy
asked for one whole page (1,000) per prefix and answered 501 NotImplemented past it (``aws
s3api list-multipart-uploads``, ``rclone cleanup``). A lone ``upload-id-marker`` resumes its
listing after that id, so the proxy now reads every upload under a prefix page by page in that
order and keeps S3's page (s3proxy.backends.upload_markers.id_order_page).

The first test cuts the upstream page to 3 uploads so that a dozen uploads page the way
thousands would, through the gateway's upstream client against the real SeaweedFS; the second
lists 1,050 uploads of one shard through the gateway with boto3's paginator and the aws cli.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends import s3_multipart
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig
from tests.integration.conftest import Proxy
from tests.integration.test_awscli import aws_executable
from tests.support.clients import clean_env
from tests.support.processes import SeaweedFS

pytestmark = pytest.mark.integration

BUCKET = "w18f-paging"
PREFIX = "alice/docs/3/"
NAMES = ["a", "b", "a", "c/x", "c", "a-2f", "d", "b", "e", "f", "a"]


def pages(
    backend: S3Upstream, max_uploads: int, start: tuple[str | None, str | None]
) -> list[tuple[str, str]]:
    """Every (key, upload id) a client pages through from ``start``; and the whole listing
    (several upstream answers) holds the same uploads."""

    async def go() -> list[tuple[str, str]]:
        key_marker, id_marker = start
        seen: list[tuple[str, str]] = []
        try:
            while True:
                page = await backend.list_multipart_uploads(
                    BUCKET, PREFIX, None, key_marker, id_marker, max_uploads
                )
                assert len(page.uploads) <= max_uploads
                seen += [(upload.key, upload.upload_id) for upload in page.uploads]
                if page.next_marker is None:
                    break
                key_marker, id_marker = page.next_marker
            if start == (None, None):
                whole = await backend.whole_uploads(BUCKET, PREFIX)
                assert whole is not None
                assert sorted((u.key, u.upload_id) for u in whole.uploads) == sorted(seen)
            return seen
        finally:
            await backend.close()

    return asyncio.run(go())


def test_uploads_past_one_upstream_page_list_in_s3s_order(
    seaweed: SeaweedFS, upstream_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_multipart, "WHOLE_PAGE", 3)
    with contextlib.suppress(upstream_s3.exceptions.BucketAlreadyOwnedByYou):
        upstream_s3.create_bucket(Bucket=BUCKET)
    made = [(key, upstream_s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"])
            for key in [PREFIX + name for name in NAMES] + ["bob/docs/3/a"]]  # fmt: skip
    config = UpstreamConfig(
        endpoint=seaweed.endpoint, access_key=seaweed.access_key, secret_key=seaweed.secret_key
    )
    try:
        # What the paging relies on: a lone upload-id marker resumes after that id.
        listed = upstream_s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX, MaxUploads=2)
        ids = [upload["UploadId"] for upload in listed["Uploads"]]
        assert listed["IsTruncated"] and ids == sorted(ids)
        rest = upstream_s3.list_multipart_uploads(
            Bucket=BUCKET, Prefix=PREFIX, UploadIdMarker=ids[-1]
        )
        assert rest["Uploads"][0]["UploadId"] > ids[-1]
        # S3's order: by key, one key's uploads oldest first (SeaweedFS dates to the second:
        # within one second by upload id, as the proxy sorts them).
        whole = upstream_s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX)["Uploads"]
        expected = [
            (upload["Key"], upload["UploadId"])
            for upload in sorted(whole, key=lambda u: (u["Key"], u["Initiated"], u["UploadId"]))
        ]
        assert len(expected) == len(NAMES)
        for size in (1, 2, 1000):
            assert (
                pages(S3Upstream(f"w18f-{os.urandom(4).hex()}", config), size, (None, None))
                == expected
            )
        after_a = [pair for pair in expected if pair[0] > PREFIX + "a"]
        assert (
            pages(S3Upstream(f"w18f-{os.urandom(4).hex()}", config), 2, (PREFIX + "a", None))
            == after_a
        )
        assert (
            pages(S3Upstream(f"w18f-{os.urandom(4).hex()}", config), 2, expected[1]) == expected[2:]
        )
    finally:
        for key, upload_id in made:
            upstream_s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)


def _one_shard_keys(count: int) -> list[str]:
    """Keys that all land in one of 16 shards (the first hex digit of their sha256)."""
    keys: list[str] = []
    n = 0
    while len(keys) < count:
        key = f"logs/{n:06d}"
        if hashlib.sha256(key.encode()).hexdigest()[0] == "0":
            keys.append(key)
        n += 1
    return keys


def test_a_tenant_pages_through_1050_uploads_of_one_shard(
    lane_proxy_seaweedfs: Proxy, tmp_path: Path
) -> None:
    """boto3's paginator and ``aws s3api list-multipart-uploads`` list every upload once, in
    key order (the baseline: 501 NotImplemented once past the first upstream page)."""
    proxy = lane_proxy_seaweedfs
    alice = proxy.client("alice")
    bucket = f"w18f-many-{os.urandom(4).hex()}"
    alice.create_bucket(Bucket=bucket)
    keys = _one_shard_keys(1050)
    with ThreadPoolExecutor(4) as pool:
        made = list(
            pool.map(
                lambda key: (
                    key,
                    alice.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"],
                ),
                keys,
            )
        )
    try:
        listed = [
            (upload["Key"], upload["UploadId"])
            for page in alice.get_paginator("list_multipart_uploads").paginate(Bucket=bucket)
            for upload in page.get("Uploads", [])
        ]
        assert listed == sorted(made)
        config = tmp_path / "aws-config"
        config.write_text("[default]\nregion = us-east-1\n")
        ak, sk = proxy.keys("alice")
        env = clean_env()
        env.update(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk, AWS_CONFIG_FILE=str(config),
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))  # fmt: skip
        result = subprocess.run(
            [aws_executable(), "--endpoint-url", proxy.endpoint, "s3api",
             "list-multipart-uploads", "--bucket", bucket, "--page-size", "400"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        cli = [(u["Key"], u["UploadId"]) for u in json.loads(result.stdout)["Uploads"]]
        assert cli == sorted(made)
    finally:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda pair: alice.abort_multipart_upload(
                Bucket=bucket, Key=pair[0], UploadId=pair[1]), made))  # fmt: skip
        alice.delete_bucket(Bucket=bucket)
