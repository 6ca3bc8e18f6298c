"""Real clients under the gateway's own limits (wave 12 G): rate limits and quotas.

Probed by hand with the shipped defaults (64 request slots and 4 expensive-operation slots a
worker, ``max_wait`` 1 s) and with tight limits, each run beside a second tenant's PUT/GET/LIST
loop: ``rclone copy --transfers 64 --checkers 64 --s3-upload-concurrency 16`` of 1,204 files
(4 multipart), ``aws s3 cp --recursive`` (v1 and v2) at 64 requests at once, boto3's
TransferManager with 64 threads, 16 parallel s3cmd multipart uploads: every object came back
byte-identical and the other tenant saw no error. Found and fixed here:

- a request over its tenant's ``requests_per_second`` was 503 at once even when the next token
  was milliseconds away: ``aws s3 cp --recursive`` at 64 requests at once under 100 requests a
  second had 4 to 612 of ~1,230 requests a run refused and aws-cli v2 gave up on up to 247 of
  1,204 files. It now waits for a token that comes within ``max_wait`` (s3proxy.limits);
- (unit-tested in tests/unit/test_w12g_rate_waits.py) expensive-operation waiters were refused
  after ``max_wait`` even while the queue moved, and rclone's pacer then slowed its whole sync;
  and under ``bytes_per_second`` a multipart upload's Complete and Abort were refused for the
  debt its own parts had run up, so aws-cli gave up and left the parts behind.

Kept as guards: a quota error is one the client names and stops on, with nothing stored and no
upload left open (on SeaweedFS: the S3 upstreams' quota code, not the local store's).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.sessions.base import ClientUnavailable, Target
from conformance.sessions.clients import client
from tests.integration.conftest import (
    TENANT_KEYS,
    Proxy,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)

pytestmark = [pytest.mark.clients, pytest.mark.integration]

RATE = 20
"""alice's requests a second: a burst of 20, then one every 50 ms."""
QUOTA_BUCKET = "w12g-quota"
QUOTA = 1_000_000


@dataclass
class Gateway:
    lane: str
    proxy: Proxy
    work: Path

    def target(self, tenant: str) -> Target:
        return Target(self.proxy.endpoint, *TENANT_KEYS[tenant], self.proxy.process.log_path)

    def driver(self, name: str, tenant: str) -> tuple[Any, Path]:
        """The command-line client ``name`` signing as ``tenant``, and its directory."""
        spec = client(name)
        try:
            executable = spec.locate()
        except ClientUnavailable as missing:
            pytest.skip(str(missing))
        work = self.work / f"{name}-{tenant}-{os.urandom(2).hex()}"
        return spec.driver(executable, self.target(tenant), work), work


@contextmanager
def _gateway(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, lane: str, **limits: Any
) -> Iterator[Gateway]:
    """A proxy on ``lane`` with the shipped limits and ``limits`` (tenant -> entries added)."""
    server: Any = None
    upstream: Any = None
    if lane == "seaweedfs":
        server, upstream = (
            request.getfixturevalue("seaweed"),
            request.getfixturevalue("upstream_s3"),
        )
        create_upstream_buckets(upstream)
    work = Path(factory.mktemp(f"w12g-{lane}"))
    tenants = proxy_settings(server, 0, 0, work)["tenants"]
    for tenant, entries in limits.items():
        tenants[tenant].update(entries)
    proxy = start_proxy(server, upstream, work, tenants=tenants)
    try:
        yield Gateway(lane, proxy, work)
    finally:
        proxy.process.stop()


@pytest.fixture(scope="module")
def rated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The local store, alice held to :data:`RATE` requests a second: the rate is applied
    before any backend call, so one lane proves it."""
    limits = {"limits": {"requests_per_second": RATE}}
    with _gateway(request, tmp_path_factory, "local", alice=limits) as made:
        yield made


@pytest.fixture(scope="module")
def quota(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """SeaweedFS, bob's bucket :data:`QUOTA_BUCKET` held to :data:`QUOTA` bytes (the local
    store's quota, exact in one transaction, is covered by tests/integration/test_quotas.py)."""
    limits = {"bucket_quotas": {QUOTA_BUCKET: {"max_bytes": QUOTA}}}
    with _gateway(request, tmp_path_factory, "seaweedfs", bob=limits) as made:
        bob = made.proxy.client("bob")
        if QUOTA_BUCKET not in {b["Name"] for b in bob.list_buckets()["Buckets"]}:
            bob.create_bucket(Bucket=QUOTA_BUCKET)
        try:
            yield made
        finally:
            bob.delete_bucket(Bucket=QUOTA_BUCKET)  # the upstream is shared with other modules


def _bob_meanwhile(proxy: Proxy, stop: threading.Event, errors: list[str]) -> None:
    """The other tenant's PUT/GET/LIST loop while alice's client runs."""
    bob = proxy.client("bob")
    n = 0
    while not stop.is_set():
        body = os.urandom(1000)
        try:
            bob.put_object(Bucket="shared", Key=f"w12g/bob-{n % 8}", Body=body)
            assert bob.get_object(Bucket="shared", Key=f"w12g/bob-{n % 8}")["Body"].read() == body
            bob.list_objects_v2(Bucket="shared", Prefix="w12g/")
        except Exception as error:
            errors.append(repr(error))
        n += 1


def test_aws_cli_at_16_requests_at_once_under_a_request_rate_loses_no_file(
    rated: Gateway,
) -> None:
    """``aws s3 cp --recursive`` with ``max_concurrent_requests = 16`` and retries off, 40
    small files, alice held to 20 requests a second: every file is stored byte-identical
    (each ETag is its MD5) and bob, meanwhile, sees no error. Before, whatever came between
    two tokens was refused 503 and, with retries off, that file was not uploaded."""
    gateway = rated
    source = gateway.work / "rated"
    source.mkdir()
    sums = {}
    for n in range(40):
        body = os.urandom(1000 + n * 37)
        (source / f"f{n:02d}").write_bytes(body)
        sums[f"rated/f{n:02d}"] = hashlib.md5(body).hexdigest()
    aws, work = gateway.driver("awscli-v1", "alice")
    settings = "[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 16\n"
    (work / "aws-config").write_text(settings)
    stop, errors = threading.Event(), []
    other = threading.Thread(target=_bob_meanwhile, args=(gateway.proxy, stop, errors))
    other.start()
    try:
        copied = aws.run("s3", "cp", "--recursive", "--only-show-errors", str(source),
                         "s3://docs/rated/")  # fmt: skip
    finally:
        stop.set()
        other.join()
    assert copied.exit_code == 0, copied.output
    assert errors == []
    alice = gateway.proxy.client("alice")
    page = alice.list_objects_v2(Bucket="docs", Prefix="rated/")
    assert {o["Key"]: o["ETag"].strip('"') for o in page["Contents"]} == sums


def test_a_quota_error_is_named_by_the_client_and_nothing_is_left_behind(
    quota: Gateway, tmp_path: Path
) -> None:
    """A 6 MiB file into a bucket with 1 MB of quota, in parts of 5 MiB, by aws-cli and by
    rclone: each exits non-zero naming QuotaExceeded (the parts were taken, the Complete
    refused), nothing is stored, and no upload is left open (each client aborted its upload).
    A PUT refused from its Content-Length: tests/integration/test_quotas*.py."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    gateway = quota
    aws, _ = gateway.driver("awscli-v1", "bob")
    aws.set_multipart(5)
    refused = aws.run("s3", "cp", str(big), f"s3://{QUOTA_BUCKET}/aws/big.bin")
    assert refused.exit_code != 0 and "QuotaExceeded" in refused.output, refused.output
    rclone, _ = gateway.driver("rclone-pypi", "bob")
    refused = rclone.run("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
                         str(tmp_path), f"proxy:{QUOTA_BUCKET}/rclone")  # fmt: skip
    assert refused.exit_code != 0 and "QuotaExceeded" in refused.output, refused.output
    bob = gateway.proxy.client("bob")
    assert bob.list_objects_v2(Bucket=QUOTA_BUCKET).get("Contents", []) == []
    assert bob.list_multipart_uploads(Bucket=QUOTA_BUCKET).get("Uploads", []) == []
