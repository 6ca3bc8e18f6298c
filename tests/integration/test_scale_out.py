"""Scale-out: three replicas with one configuration behind a real HAProxy, round-robin.

What a user running several replicas notices: a multipart upload whose parts land on different
replicas completes, a listing paged across replicas continues where it left off, and a replica
stopped with SIGTERM under load drains without a single client error. Each replica's own access
log proves the requests really were spread (HAProxy picks a server per request), so none of
this passes by accident on one replica. The balancer's configuration is conformance/haproxy.py,
the one the README recommends.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.haproxy import HAProxy, HAProxyUnavailable, Replica, ensure_installed
from tests.integration.conftest import TENANT_KEYS, Proxy, client_for, start_proxy
from tests.support.processes import SeaweedFS, free_port
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

REPLICAS = 3
MiB = 1024 * 1024
DEADLINE = 30.0  # seconds any single wait below may take before the test fails
POLL = 0.02


# --------------------------------------------------------------------------------------------
# The cluster: replicas + balancer


@dataclass
class Cluster:
    replicas: dict[str, Proxy]
    balancer: HAProxy
    buckets: list[str] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, tenant: str = "alice") -> Any:
        """boto3 through the balancer, making each request exactly once: a failed request is
        an error the test sees, never retried away (botocore's ``max_attempts: 1`` means one
        *retry*; ``total_max_attempts`` counts the first attempt)."""
        if tenant not in self._clients:
            self._clients[tenant] = client_for(self.balancer.endpoint, *TENANT_KEYS[tenant])
        return self._clients[tenant]

    def remove_buckets(self) -> None:
        """Leave the session's shared upstream as we found it (best effort: teardown only)."""
        s3 = self.client()
        for bucket in self.buckets:
            with contextlib.suppress(Exception):
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if keys:
                        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
                s3.delete_bucket(Bucket=bucket)

    def access_log(self, name: str) -> list[dict[str, Any]]:
        """The replica's log as JSON records (access lines and its own messages), in order."""
        records = []
        for line in self.replicas[name].process.log_text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def served(self, bucket: str, operation: str, total: int) -> dict[str, int]:
        """How many ``operation`` requests on ``bucket`` each replica answered (access logs).

        A replica writes the access line after the response went out, so the client can be a
        step ahead of the logs: poll until ``total`` lines are there (or time runs out).
        """
        counts: dict[str, int] = {}

        def logged() -> bool:
            for name in self.replicas:
                counts[name] = sum(
                    1
                    for r in self.access_log(name)
                    if r.get("bucket") == bucket and r.get("operation") == operation
                )
            return sum(counts.values()) >= total

        with contextlib.suppress(TimeoutError):
            wait_until(logged, f"{total} {operation} lines logged")
        return counts

    def in_flight(self, name: str) -> int:
        """S3 requests the replica is serving right now (its Prometheus gauge)."""
        url = self.replicas[name].admin_endpoint + "/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith("s3proxy_requests_in_flight "):
                return int(float(line.split()[1]))
        raise AssertionError(f"no s3proxy_requests_in_flight in {url}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        time.sleep(POLL)


@contextlib.contextmanager
def running_cluster(
    seaweed: SeaweedFS, upstream_s3: Any, work_dir: Path, *, check_interval_ms: int = 1000
) -> Iterator[Cluster]:
    try:
        ensure_installed()
    except HAProxyUnavailable as error:
        pytest.skip(str(error))
    replicas: dict[str, Proxy] = {}
    try:
        for index in range(REPLICAS):
            name = f"r{index}"
            replicas[name] = start_proxy(seaweed, upstream_s3, work_dir / name)
        members = [Replica(n, p.port, p.admin_port) for n, p in replicas.items()]
        with HAProxy.start(
            work_dir / "haproxy",
            free_port(),
            members,
            check_interval_ms=check_interval_ms,
            fall=2,
            rise=1,
        ) as balancer:
            balancer.wait_states(dict.fromkeys(replicas, "UP"))
            cluster = Cluster(replicas, balancer)
            try:
                yield cluster
            finally:
                cluster.remove_buckets()
    finally:
        for proxy in replicas.values():
            proxy.process.stop()


@pytest.fixture(scope="module")
def cluster(
    seaweed: SeaweedFS,
    upstream_s3: Any,
    upstream_buckets: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    with running_cluster(seaweed, upstream_s3, tmp_path_factory.mktemp("scale-out")) as running:
        yield running


def new_bucket(cluster: Cluster, purpose: str) -> str:
    name = f"scale-{purpose}-{uuid.uuid4().hex[:8]}"
    cluster.client().create_bucket(Bucket=name)
    cluster.buckets.append(name)
    return name


# --------------------------------------------------------------------------------------------
# Stateless across replicas


def test_multipart_upload_with_parts_on_different_replicas_completes(cluster: Cluster) -> None:
    s3 = cluster.client()
    bucket = new_bucket(cluster, "mpu")
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    etags = [
        s3.upload_part(
            Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]
        for number, body in enumerate(parts, start=1)
    ]
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
        (n, e, len(b)) for n, (e, b) in enumerate(zip(etags, parts, strict=True), start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
        },
    )

    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == b"".join(parts)
    uploaded = cluster.served(bucket, "UploadPart", len(parts))
    assert sum(uploaded.values()) == len(parts), uploaded
    assert sum(1 for n in uploaded.values() if n) >= 2, f"parts all on one replica: {uploaded}"
    created = cluster.served(bucket, "CreateMultipartUpload", 1)
    completed = cluster.served(bucket, "CompleteMultipartUpload", 1)
    assert sum(created.values()) == sum(completed.values()) == 1
    assert created != completed, f"created and completed on one replica: {created}"


@pytest.mark.parametrize("version", [1, 2])
def test_listing_pages_continue_across_replicas(cluster: Cluster, version: int) -> None:
    s3 = cluster.client()
    bucket = new_bucket(cluster, "list")
    keys = sorted(f"k/{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(11))
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    seen: list[str] = []
    pages = 0
    position: dict[str, str] = {}
    while True:
        if version == 2:
            page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **position)
            following = {"ContinuationToken": page.get("NextContinuationToken", "")}
        else:
            page = s3.list_objects(Bucket=bucket, MaxKeys=3, **position)
            following = {"Marker": page.get("NextMarker") or page["Contents"][-1]["Key"]}
        pages += 1
        seen.extend(item["Key"] for item in page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        position = following
        assert pages < 10, "listing does not end"

    assert seen == keys
    served = cluster.served(bucket, "ListObjectsV2" if version == 2 else "ListObjects", pages)
    assert sum(served.values()) == pages == 4, served
    assert sum(1 for n in served.values() if n) >= 2, f"pages all on one replica: {served}"


# --------------------------------------------------------------------------------------------
# Graceful drain


SLOW_PUTS = 6
SLOW_SIZE = 2 * MiB
SLOW_AGENT = "scale-out-slow"
LOAD_THREADS = 4


@dataclass
class SlowPut:
    """A PUT whose body stops halfway until ``release``: in flight for as long as we like."""

    key: str
    body: bytes = field(default_factory=lambda: os.urandom(SLOW_SIZE))
    status: int | None = None
    error: str | None = None


def put_slowly(endpoint: str, bucket: str, put: SlowPut, release: threading.Event) -> None:
    url = object_url(endpoint, bucket, put.key)
    headers = sign("PUT", url, *TENANT_KEYS["alice"], {"User-Agent": SLOW_AGENT}, put.body)
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=DEADLINE)
    try:
        connection.putrequest("PUT", split.path, skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(put.body)))
        connection.endheaders()
        half = len(put.body) // 2
        connection.send(put.body[:half])
        if not release.wait(DEADLINE):
            raise TimeoutError("never released")
        connection.send(put.body[half:])
        response = connection.getresponse()
        answer = response.read()
        put.status = response.status
        if response.status != 200:
            put.error = f"{response.status} {answer[:300]!r}"
    except Exception as error:
        put.error = repr(error)
    finally:
        connection.close()


@dataclass
class Load:
    """Client threads doing PUT then GET through the balancer until told to stop."""

    client: Any
    bucket: str
    stop: threading.Event = field(default_factory=threading.Event)
    progress: threading.Condition = field(default_factory=threading.Condition)
    operations: int = 0
    errors: list[str] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)

    def run(self, worker: int) -> None:
        number = 0
        while not self.stop.is_set():
            key = f"load/{worker}/{number}"
            body = os.urandom(4096 + 997 * (number % 8))
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
                got = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                if got != body:
                    self.errors.append(f"{key}: read back {len(got)} bytes, not the {len(body)}")
                self.objects[key] = body
            except Exception as error:
                self.errors.append(f"{key}: {error!r}")
            number += 1
            with self.progress:
                self.operations += 2
                self.progress.notify_all()

    def wait_for(self, operations: int, what: str) -> None:
        with self.progress:
            if not self.progress.wait_for(lambda: self.operations >= operations, DEADLINE):
                raise TimeoutError(f"{what}: {self.operations} of {operations} operations done")


def test_sigterm_drains_a_replica_without_client_errors(
    seaweed: SeaweedFS,
    upstream_s3: Any,
    upstream_buckets: None,
    tmp_path: Path,
) -> None:
    """SIGTERM one replica while it holds PUTs half-received and clients keep PUTting and GETting.

    In flight for real: each slow PUT sends half its body, then waits for ``release``; SIGTERM is
    sent only once every replica's in-flight gauge adds up to all of them, and the body's second
    half only after the balancer has marked the replica DOWN and the load has gone on meanwhile.
    So the replica must keep reading and answering requests after SIGTERM, and the balancer must
    route new ones elsewhere (its own cluster: this test stops a replica).
    """
    with running_cluster(seaweed, upstream_s3, tmp_path, check_interval_ms=200) as cluster:
        bucket = new_bucket(cluster, "drain")
        release = threading.Event()
        slow = [SlowPut(f"slow/{i}") for i in range(SLOW_PUTS)]
        threads = [
            threading.Thread(
                target=put_slowly, args=(cluster.balancer.endpoint, bucket, put, release)
            )
            for put in slow
        ]
        load = Load(cluster.client(), bucket)
        workers = [threading.Thread(target=load.run, args=(i,)) for i in range(LOAD_THREADS)]
        try:
            for thread in threads:
                thread.start()
            # Every slow PUT has reached a replica, which is now waiting for the rest of its body.
            counts: dict[str, int] = {}

            def all_in_flight() -> bool:
                counts.update({name: cluster.in_flight(name) for name in cluster.replicas})
                return sum(counts.values()) == SLOW_PUTS

            wait_until(all_in_flight, f"{SLOW_PUTS} slow PUTs in flight")
            target = max(counts, key=lambda name: counts[name])
            pinned = counts[target]
            assert pinned >= 1, counts
            replica = cluster.replicas[target]

            for worker in workers:
                worker.start()
            load.wait_for(LOAD_THREADS * 4, "load before SIGTERM")

            replica.process.send_signal(signal.SIGTERM)
            wait_until(lambda: "shutting down" in replica.process.log_text(), "drain begins")
            at_sigterm = load.operations
            # New requests avoid the draining replica while it still holds the slow PUTs.
            cluster.balancer.wait_states({target: "DOWN"})
            load.wait_for(at_sigterm + LOAD_THREADS * 4, "load while the replica drains")
            assert replica.process.returncode is None, "replica exited with requests in flight"

            release.set()
            exit_code = replica.process.wait(timeout=DEADLINE)
            load.wait_for(load.operations + LOAD_THREADS * 4, "load after the replica exited")
        finally:
            release.set()
            load.stop.set()
            for thread in threads + workers:
                if thread.ident is not None:  # started
                    thread.join(DEADLINE)

        assert load.errors == [], f"{len(load.errors)} client errors: {load.errors[:5]}"
        assert [(p.key, p.error) for p in slow if p.error] == []
        assert [p.status for p in slow] == [200] * SLOW_PUTS
        assert exit_code == 0, replica.process.log_tail()

        s3 = cluster.client()
        for put in slow:
            assert s3.get_object(Bucket=bucket, Key=put.key)["Body"].read() == put.body, put.key
        for key, body in load.objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key

        # The in-flight PUTs pinned to the stopped replica completed there, after SIGTERM.
        records = cluster.access_log(target)
        drain = next(
            i for i, r in enumerate(records) if str(r.get("message", "")).startswith("shutting")
        )
        after = [r for r in records[drain:] if r.get("user_agent") == SLOW_AGENT]
        assert [(r["operation"], r["status"]) for r in after] == [("PutObject", 200)] * pinned
