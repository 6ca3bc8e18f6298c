"""A quota tenant's usage stays what it stores when its writes of one key meet in different
worker processes (wave 14 F2).

With 2 workers on SeaweedFS, 8 DELETEs of one 1000-byte object at once each HEADed it, deleted
it and subtracted its size in its own process: /usage went to -3 objects, -3000 bytes (and a
tenant repeating it could store past its quota). Overwrites of one key from two processes drift
alike. The workers of one server now take turns per key (s3proxy.backends.key_turns). Runs on
SeaweedFS (Ceph RGW when named in ``S3PROXY_TEST_BACKENDS``); the local store counts otherwise.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)
from tests.integration.relayed import UPSTREAMS
from tests.integration.test_quotas import usage
from tests.integration.test_w14f_usage_probe import chosen_lanes, client_of, stored
from tests.support.waiting import DEADLINE

pytestmark = pytest.mark.integration

LANES = [lane for lane in chosen_lanes(["seaweedfs"]) if lane in UPSTREAMS]
AT_ONCE = 8
ROUNDS = 3
SETTLED = DEADLINE
"""Seconds /usage may take to show every worker's published record (quota_sync_seconds: 1):
tests/support/waiting's deadline, past any loaded box's delay (6 s was not)."""


def quota_tenants() -> dict[str, Any]:
    """The test tenants, alice with a quota in a home of her own."""
    tenants: dict[str, Any] = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    alice = tenants["alice"]
    alice["home"] = {
        "upstream": UPSTREAM,
        "bucket": HOME_BUCKET,
        "prefix": f"w14f2-{uuid.uuid4().hex[:10]}/",
    }
    alice["buckets"] = {}
    alice["quota"] = {"max_bytes": 10**9}
    return tenants


def started(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tenants: dict[str, Any],
    workers: int,
) -> Proxy:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    return start_proxy(
        server,
        upstream,
        tmp_path_factory.mktemp(f"w14f2-{request.param}"),
        tenants=tenants,
        server={"workers": workers, "quota_sync_seconds": 1},
    )


@pytest.fixture(scope="module", params=LANES)
def workers_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = started(request, tmp_path_factory, quota_tenants(), 2)
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture(scope="module", params=[lane for lane in LANES if lane == "seaweedfs"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    """Two single-process gateways (replicas) of one configuration. SeaweedFS only: Ceph RGW
    16 ignores If-Match on a DELETE (README "Quotas")."""
    tenants = quota_tenants()
    first = started(request, tmp_path_factory, tenants, 1)
    try:
        second = started(request, tmp_path_factory, tenants, 1)
        try:
            yield first, second
        finally:
            second.process.stop()
    finally:
        first.process.stop()


def settled(proxy: Proxy, truth: tuple[int, int, int]) -> tuple[int, int, int]:
    """/usage once it equals ``truth``, or as it stands after :data:`SETTLED` seconds."""
    deadline = time.monotonic() + SETTLED
    while True:
        report = usage(proxy)
        found = (report["objects"], report["bytes"], report["upload_bytes"])
        if found == truth or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_deletes_and_overwrites_of_one_key_through_two_workers(workers_proxy: Proxy) -> None:
    client = client_of(workers_proxy)
    bucket = f"w14f2-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)

    def delete(_: int) -> None:
        client.delete_object(Bucket=bucket, Key="x")

    def overwrite(index: int) -> None:
        try:
            client.put_object(Bucket=bucket, Key="y", Body=b"y" * (100 * (index + 1)))
        except ClientError as error:  # two writes of one key at once: S3 may refuse one
            assert error.response["Error"]["Code"] == "ConditionalRequestConflict"

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for _ in range(ROUNDS):
                client.put_object(Bucket=bucket, Key="x", Body=b"x" * 1000)
                list(pool.map(delete, range(AT_ONCE)))
                list(pool.map(overwrite, range(AT_ONCE)))
        truth = stored(client)
        assert truth[0] == 1  # "y" only
        assert settled(workers_proxy, truth) == truth
    finally:
        for key in ("x", "y"):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)
    assert settled(workers_proxy, (0, 0, 0)) == (0, 0, 0)


def test_deletes_of_one_object_through_two_replicas_free_it_once(
    replicas: tuple[Proxy, Proxy],
) -> None:
    """Each replica's delete is sent under If-Match with the ETag its HEAD read: the one that
    finds the object already deleted by the other (SeaweedFS: 412) frees nothing."""
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w14f2-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)

    def delete(index: int) -> None:
        clients[index % 2].delete_object(Bucket=bucket, Key="x")

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for _ in range(2 * ROUNDS):  # each replica must HEAD before the other deletes
                clients[0].put_object(Bucket=bucket, Key="x", Body=b"x" * 1000)
                list(pool.map(delete, range(AT_ONCE)))
        clients[1].put_object(Bucket=bucket, Key="y", Body=b"y" * 10)
        assert settled(replicas[0], (1, 10, 0)) == (1, 10, 0)
    finally:
        clients[0].delete_object(Bucket=bucket, Key="y")
        clients[0].delete_bucket(Bucket=bucket)
    assert settled(replicas[1], (0, 0, 0)) == (0, 0, 0)
