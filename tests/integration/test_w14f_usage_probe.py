"""A quota tenant's usage equals what it stores, after concurrent writes of every kind (wave 14 F).

A probe: threads run random PUTs, overwrites, deletes, copies, multipart uploads (parts sent
again, aborted, completed with parts left out, parts sent while another request completes or
aborts the upload), DeleteObjects and DeleteBucket on a small set of keys, so that writes of one
key, one part number and one upload meet. Afterwards the tenant's /usage must equal what its
buckets hold: the objects listed, and the parts of the uploads still open (ListMultipartUploads,
ListParts). ``W14F_ROUNDS`` makes it longer (the CI size is small); ``W14F_SEED`` picks the
sequence; ``W14F_WORKERS``, ``W14F_THREADS`` and ``W14F_OPS`` (operation names) shape it.
"""

from __future__ import annotations

import copy
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    TENANT_KEYS,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)
from tests.integration.relayed import UPSTREAMS
from tests.integration.test_quotas import usage
from tests.support.waiting import DEADLINE

pytestmark = pytest.mark.integration


def chosen_lanes(default: list[str]) -> list[str]:
    """The lanes S3PROXY_TEST_BACKENDS names among local, seaweedfs and ceph, else
    ``default`` (these probes leave Ceph out unless it is named: it is slow)."""
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    if not chosen:
        return default
    return [lane for lane in ("local", "seaweedfs", "ceph") if lane in chosen.split(",")]


LANES = chosen_lanes(["local", "seaweedfs"])
ROUNDS = int(os.environ.get("W14F_ROUNDS", "20"))
SEED = int(os.environ.get("W14F_SEED", "14"))
WORKERS = int(os.environ.get("W14F_WORKERS", "1"))
OPERATIONS = [name for name in os.environ.get("W14F_OPS", "").split(",") if name]
THREADS = int(os.environ.get("W14F_THREADS", "8"))
KEYS = ("a", "b", "c")
EXPECTED = {
    "NoSuchKey",
    "NoSuchUpload",
    "NoSuchBucket",
    "BucketNotEmpty",
    "InvalidPart",
    "InvalidPartOrder",
    "QuotaExceeded",
    "NotImplemented",
    "EntityTooSmall",
    "BucketAlreadyOwnedByYou",
    "OperationAborted",
    "PreconditionFailed",
    "ConditionalRequestConflict",
}


@pytest.fixture(scope="module", params=LANES)
def probe_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    alice = tenants["alice"]
    alice["home"] = {
        "upstream": UPSTREAM,
        "bucket": HOME_BUCKET,
        "prefix": f"w14f-{uuid.uuid4().hex[:10]}/",
    }
    alice["buckets"] = {}
    alice["quota"] = {"max_bytes": 10**9}
    workdir = tmp_path_factory.mktemp(f"w14f-{request.param}")
    server: Any = None
    upstream: Any = None
    if request.param in UPSTREAMS:
        server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
        create_upstream_buckets(upstream)
    running = start_proxy(
        server,
        upstream,
        workdir,
        tenants=tenants,
        server={"workers": WORKERS, "quota_sync_seconds": 1},
    )
    try:
        yield running
    finally:
        running.process.stop()


def client_of(proxy: Proxy) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=TENANT_KEYS["alice"][0],
        aws_secret_access_key=TENANT_KEYS["alice"][1],
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=THREADS * 2,
        ),
    )


def stored(client: Any) -> tuple[int, int, int]:
    """(objects, bytes, bytes of open uploads' parts) the tenant's buckets hold."""
    objects = size = parts = 0
    for bucket in client.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                objects += 1
                size += entry["Size"]
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                listed = client.get_paginator("list_parts").paginate(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                for part_page in listed:
                    parts += sum(p["Size"] for p in part_page.get("Parts", []))
    return objects, size + parts, parts


class Run:
    """The shared state of one probe run: buckets, open uploads, the random source."""

    def __init__(self, client: Any, buckets: list[str], seed: int, left_out: bool) -> None:
        self.client = client
        self.buckets = buckets
        self.uploads: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.seed = seed
        self.left_out = left_out
        self.unexpected: list[str] = []

    def upload(self, rng: random.Random) -> tuple[str, str, str] | None:
        with self.lock:
            return rng.choice(self.uploads) if self.uploads else None

    def forget(self, upload: tuple[str, str, str]) -> None:
        with self.lock:
            if upload in self.uploads:
                self.uploads.remove(upload)

    def body(self, rng: random.Random) -> bytes:
        return bytes([rng.randrange(256)]) * rng.randrange(0, 3000)

    # -- the operations ------------------------------------------------------------------

    def put(self, rng: random.Random) -> None:
        self.client.put_object(
            Bucket=rng.choice(self.buckets), Key=rng.choice(KEYS), Body=self.body(rng)
        )

    def delete(self, rng: random.Random) -> None:
        self.client.delete_object(Bucket=rng.choice(self.buckets), Key=rng.choice(KEYS))

    def copy(self, rng: random.Random) -> None:
        bucket, key = rng.choice(self.buckets), rng.choice(KEYS)
        source = {"Bucket": rng.choice(self.buckets), "Key": rng.choice(KEYS)}
        same = source == {"Bucket": bucket, "Key": key}  # S3 wants a change: new metadata
        self.client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE" if same else "COPY",
        )

    def delete_objects(self, rng: random.Random) -> None:
        keys = rng.sample(KEYS, rng.randrange(1, len(KEYS) + 1))
        self.client.delete_objects(
            Bucket=rng.choice(self.buckets),
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )

    def create(self, rng: random.Random) -> None:
        bucket, key = rng.choice(self.buckets), rng.choice(KEYS)
        upload = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        with self.lock:
            self.uploads.append((bucket, key, upload))

    def part(self, rng: random.Random) -> None:
        found = self.upload(rng)
        if found is None:
            return self.create(rng)
        bucket, key, upload = found
        number = rng.randrange(1, 4)
        for _ in range(rng.choice((1, 1, 2, 3))):  # sent again under its number, at times
            body = self.body(rng)
            self.client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
            )
        return None

    def part_copy(self, rng: random.Random) -> None:
        found = self.upload(rng)
        if found is None:
            return None
        bucket, key, upload = found
        self.client.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            PartNumber=rng.randrange(1, 4),
            CopySource={"Bucket": rng.choice(self.buckets), "Key": rng.choice(KEYS)},
        )
        return None

    def complete(self, rng: random.Random) -> None:
        found = self.upload(rng)
        if found is None:
            return None
        bucket, key, upload = found
        listed = self.client.list_parts(Bucket=bucket, Key=key, UploadId=upload).get("Parts", [])
        if not listed:
            return None
        if self.left_out:  # one part only (the last may be of any size), others left out
            chosen = [rng.choice(listed)]
        else:
            chosen = listed[-1:] if len(listed) == 1 else []
            if not chosen:
                return self.abort_upload(found)
        self.client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in chosen]
            },
        )
        self.forget(found)
        return None

    def abort(self, rng: random.Random) -> None:
        found = self.upload(rng)
        if found is not None:
            self.abort_upload(found)

    def abort_upload(self, found: tuple[str, str, str]) -> None:
        bucket, key, upload = found
        self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        self.forget(found)

    def delete_bucket(self, rng: random.Random) -> None:
        bucket = rng.choice(self.buckets)
        self.client.delete_bucket(Bucket=bucket)  # BucketNotEmpty unless it holds no object
        with self.lock:
            self.uploads = [u for u in self.uploads if u[0] != bucket]
        self.client.create_bucket(Bucket=bucket)

    def step(self, rng: random.Random) -> None:
        operations: list[tuple[Callable[[random.Random], None], int]] = [
            (self.put, 6),
            (self.delete, 3),
            (self.copy, 2),
            (self.delete_objects, 1),
            (self.create, 2),
            (self.part, 8),
            (self.part_copy, 2),
            (self.complete, 3),
            (self.abort, 1),
            (self.delete_bucket, 1),
        ]
        if OPERATIONS:  # W14F_OPS: only these (to find which meet badly)
            operations = [(op, w) for op, w in operations if op.__name__ in OPERATIONS]
        chosen = rng.choices([op for op, _ in operations], [w for _, w in operations])[0]
        try:
            chosen(rng)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in EXPECTED:
                self.unexpected.append(f"{chosen.__name__}: {code}")


def run_probe(proxy: Proxy, seed: int, rounds: int, left_out: bool) -> tuple[Any, ...]:
    client = client_of(proxy)
    buckets = [f"w14f-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for bucket in buckets:
        client.create_bucket(Bucket=bucket)
    run = Run(client, buckets, seed, left_out)

    def thread(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for _ in range(rounds):
            run.step(rng)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(thread, range(THREADS)))
    truth = stored(client)
    found = settled_usage(proxy, truth)
    for bucket in buckets:  # leave nothing behind for the module's other tests
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        for key in KEYS:
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)
    return found, truth, run.unexpected


def test_usage_equals_what_is_stored_after_concurrent_writes(
    probe_proxy: Proxy, request: pytest.FixtureRequest
) -> None:
    lane = request.node.callspec.params["probe_proxy"]
    found, truth, unexpected = run_probe(probe_proxy, SEED, ROUNDS, lane != "ceph")
    assert (found, unexpected) == (truth, [])
    assert settled_usage(probe_proxy, (0, 0, 0)) == (0, 0, 0)


def settled_usage(proxy: Proxy, truth: tuple[int, int, int]) -> tuple[int, int, int]:
    """/usage's figures once they equal ``truth``, or as they stand at the deadline: with
    several workers each publishes its record within quota_sync_seconds (1 s), so they are read
    again, up to tests/support/waiting's deadline (it was 2.5 s, which a loaded box outlasts);
    one process's figures are read once."""
    deadline = time.monotonic() + (DEADLINE if WORKERS > 1 else 0)
    while True:
        report = usage(proxy)
        figures = (report["objects"], report["bytes"], report["upload_bytes"])
        if figures == truth or time.monotonic() >= deadline:
            return figures
        time.sleep(0.1)
