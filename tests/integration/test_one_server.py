"""One ``serve`` with several workers is one consistent server (issue 15, item 7).

- A bucket deleted through one worker is gone for every other worker when the DeleteBucket
  response arrives, however long the bucket cache lifetime (here an hour): the other worker
  refuses HEAD and PUT with NoSuchBucket, so no object can land in a deleted bucket.
- A bucket created through one worker is there for the others.
- ``kill -9`` of the supervisor takes its workers and admin process with it: the ports are free
  and a new ``serve`` binds them.

Each request goes over a fresh connection while every other worker is frozen (SIGSTOP), so the
test knows which worker answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import Proxy, create_upstream_buckets, start_proxy
from tests.integration.test_workers import wait_for_workers
from tests.support.processes import ProxyProcess
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

WORKERS = 2
DEADLINE = 30.0
POLL = 0.05
UPSTREAMS = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
LANES = [
    lane
    for lane in UPSTREAMS
    if not os.environ.get("S3PROXY_TEST_BACKENDS")
    or lane in os.environ["S3PROXY_TEST_BACKENDS"].split(",")
]


@pytest.fixture(params=LANES)
def workers_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Proxy]:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    running = start_proxy(
        server, upstream, tmp_path, server={"workers": WORKERS, "bucket_cache_seconds": 3600}
    )
    yield running
    if running.process.returncode is None:
        running.process.stop()


@contextlib.contextmanager
def only(worker: int, workers: list[int]) -> Iterator[None]:
    """Every other worker frozen: new connections are accepted by ``worker``."""
    frozen = [pid for pid in workers if pid != worker]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)


def call(proxy: Proxy, method: str, bucket: str, key: str | None = None) -> RawResponse:
    body = b"late write" if method == "PUT" and key else b""
    url = object_url(proxy.endpoint, bucket, key)
    return signed(method, url, *proxy.keys("alice"), body=body)


def test_a_deleted_bucket_is_gone_on_every_worker(workers_proxy: Proxy) -> None:
    bucket = f"gone-{uuid.uuid4().hex[:12]}"
    workers = wait_for_workers(workers_proxy, WORKERS)
    assert call(workers_proxy, "PUT", bucket).status == 200
    for worker in workers:  # each worker has "exists" cached, for an hour
        with only(worker, workers):
            assert call(workers_proxy, "HEAD", bucket).status == 200
    deleter, other = workers
    with only(deleter, workers):
        assert call(workers_proxy, "DELETE", bucket).status == 204
    with only(other, workers):
        assert call(workers_proxy, "HEAD", bucket).status == 404
        refused = call(workers_proxy, "PUT", bucket, "after-delete")
        assert (refused.status, refused.error_code) == (404, "NoSuchBucket")
    with only(deleter, workers):  # re-created: the refused write did not land in it
        assert call(workers_proxy, "PUT", bucket).status == 200
    with only(other, workers):
        assert call(workers_proxy, "HEAD", bucket).status == 200
        assert call(workers_proxy, "GET", bucket, "after-delete").status == 404
        assert call(workers_proxy, "DELETE", bucket).status == 204


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_killing_the_supervisor_frees_the_ports(workers_proxy: Proxy, tmp_path: Path) -> None:
    children = [child.pid for child in psutil.Process(workers_proxy.process.pid).children()]
    assert len(children) == WORKERS + 1  # the workers and the admin process
    os.kill(workers_proxy.process.pid, signal.SIGKILL)  # not reaped: no group kill by the test
    deadline = time.monotonic() + DEADLINE
    ports = (workers_proxy.port, workers_proxy.admin_port)
    try:
        while not (all(_gone(pid) for pid in children) and all(_port_free(p) for p in ports)):
            assert time.monotonic() < deadline, f"orphans: {[p for p in children if not _gone(p)]}"
            time.sleep(POLL)
    finally:
        workers_proxy.process.wait(timeout=DEADLINE)  # reaps it, then kills what is left

    again = ProxyProcess.start(
        workers_proxy.config_path,
        admin_port=workers_proxy.admin_port,
        log_path=tmp_path / "again.log",
    )
    try:
        assert call(workers_proxy, "HEAD", "docs").status == 200
    finally:
        again.stop()
