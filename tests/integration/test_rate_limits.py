"""Rate limits, and fair sharing with more tenants and workers (issue 15 items 1 and 3).

Two variants on every lane: two tenants on one worker, and three tenants on ``workers: 2``.
The proxy starts without rate limits (so the tests' buckets can be created), then SIGHUP
applies them: alice may make one request per 20 s (a burst of one per worker), carol may move
1 MB/s (the three-tenant variant), bob has no rate limit. Every tenant has 3 request slots per
worker, and a slot is waited for 0.3 s.

Rate limits are per worker process: with ``workers: 2`` alice may be served once by each.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    BACKENDS,
    HOME_BUCKET,
    TENANT_KEYS,
    UPSTREAM,
    Proxy,
    client_for,
    create_upstream_buckets,
    start_proxy,
    upstream_key,
)
from tests.integration.test_fairness import read_answer, stall
from tests.support.metrics_scrape import metric_sum, scrape
from tests.support.s3http import object_url, signed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

IDLE = 3.0
SIZE = 64 * 1024
CAROL = ("AKCAROL000000000003", "carol-secret-key-cccccccccccccccccc")
ALICE_RATE = 0.05
CAROL_BYTES = 1_000_000


@dataclass(frozen=True)
class Variant:
    workers: int
    tenants: int


VARIANTS = {"2-tenants-1-worker": Variant(1, 2), "3-tenants-2-workers": Variant(2, 3)}


@dataclass
class Rated:
    proxy: Proxy
    variant: Variant

    def client(self, tenant: str) -> Any:
        if tenant == "carol":
            return client_for(self.proxy.endpoint, *CAROL)
        return self.proxy.client(tenant)


def _params(*names: str) -> list[Any]:
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    lanes = [b for b in BACKENDS if chosen is None or b in chosen.split(",")]
    names = names or tuple(VARIANTS)
    return [pytest.param((lane, name), id=f"{lane}-{name}") for lane in lanes for name in names]


THREE_TENANTS = pytest.mark.parametrize("rated", _params("3-tenants-2-workers"), indirect=True)


@pytest.fixture(scope="module")
def rated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rated]:
    lane, name = request.param
    variant = VARIANTS[name]
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if lane in fixtures:
        server, upstream = (request.getfixturevalue(f) for f in fixtures[lane])
        create_upstream_buckets(upstream)
    tenants: dict[str, Any] = {}
    if variant.tenants == 3:
        keys = [{"access_key": CAROL[0], "secret_key": CAROL[1]}]
        tenants["carol"] = {"keys": keys, "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET}}
    running = start_proxy(
        server,
        upstream,
        Path(tmp_path_factory.mktemp(f"rates-{lane}-{name}")),
        server={
            "workers": variant.workers,
            "body_idle_timeout": IDLE,
            "limits": {"max_concurrent_requests": 3, "max_wait": 0.3},
        },
        tenants=tenants,
    )
    # The local store is served by one process (README): there the variant has one worker.
    workers = 1 if server is None else variant.workers
    rated = Rated(running, Variant(workers, variant.tenants))
    try:
        if variant.tenants == 3:
            try:
                rated.client("carol").create_bucket(Bucket="docs")
            except ClientError as exc:  # a shared upstream keeps it between sessions
                assert exc.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
        settings = yaml.safe_load(running.config_path.read_text())
        settings["tenants"]["alice"]["limits"] = {"requests_per_second": ALICE_RATE}
        if variant.tenants == 3:
            settings["tenants"]["carol"]["limits"] = {"bytes_per_second": CAROL_BYTES}
        running.config_path.write_text(yaml.safe_dump(settings))
        processes = 1 if workers == 1 else workers + 1  # with several, an admin process too
        running.process.reload_and_wait("configuration reloaded", count=processes)
        yield rated
    finally:
        running.process.stop()


def metric(proxy: Proxy, name: str, **labels: str) -> float:
    """The sum of the /metrics samples called ``name`` whose labels include ``labels``."""
    return metric_sum(scrape(proxy.admin_endpoint), name, **labels)


def reaching(proxy: Proxy, expected: float, name: str, **labels: str) -> float:
    """The metric once it reaches ``expected`` (or after the suite's DEADLINE; the caller
    asserts on it): a request's counts are recorded just after its response is sent, so the
    client may read them a moment early (5 s was the wait; a loaded box can take longer)."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: metric(proxy, name, **labels) >= expected, f"{name} at {expected}")
    return metric(proxy, name, **labels)


def upstream_requests(proxy: Proxy) -> float:
    return metric(proxy, "s3proxy_upstream_request_duration_seconds_count")


def limited(proxy: Proxy, tenant: str) -> float:
    """Requests of ``tenant`` a limit acted on so far, by any limit, waited for or refused.
    Counted before the request is served, so a client that has its answer reads its count: a
    tenant a neighbour held back in the gateway shows here, where a duration only shows how
    loaded the test machine is (a bound of 1 s failed on a loaded box; wave 18, E3)."""
    return metric(proxy, "s3proxy_limited_requests_total", tenant=tenant)


@pytest.mark.parametrize("rated", _params(), indirect=True)
def test_over_its_request_rate_a_tenant_is_refused_and_moves_nothing(rated: Rated) -> None:
    proxy, workers = rated.proxy, rated.variant.workers
    tag = os.urandom(4).hex()
    keys = [f"rate/{tag}-{n}" for n in range(10)]
    body = b"r" * SIZE
    refused_before = metric(proxy, "s3proxy_limited_requests_total", tenant="alice")
    bytes_before = metric(proxy, "s3proxy_received_bytes_total", tenant="alice")

    def alice_put(key: str) -> Any:  # a new connection each: any worker may take it
        url = object_url(proxy.endpoint, "docs", key)
        return signed("PUT", url, *TENANT_KEYS["alice"], body=body)

    bob = rated.client("bob")
    bob.put_object(Bucket="shared", Key=f"rate/bob-{tag}", Body=b"bob")
    bob_limited = limited(proxy, "bob")
    with ThreadPoolExecutor(4) as pool:
        flood = pool.map(alice_put, keys)
        # bob is served while alice is refused, and no limit holds him back.
        bodies = [
            bob.get_object(Bucket="shared", Key=f"rate/bob-{tag}")["Body"].read() for _ in range(10)
        ]
        answers = list(flood)
    assert bodies == [b"bob"] * 10
    assert limited(proxy, "bob") == bob_limited, "a limit acted on bob"
    served = [key for key, answer in zip(keys, answers, strict=True) if answer.status == 200]
    refused = [answer for answer in answers if answer.status != 200]
    assert len(served) <= workers  # one token per worker, the next in 20 s
    assert {(a.status, a.error_code) for a in refused} == {(503, "SlowDown")}
    assert all(1 <= int(a.header("Retry-After") or 0) <= 1 / ALICE_RATE for a in refused)
    assert metric(proxy, "s3proxy_limited_requests_total", tenant="alice") - refused_before == (
        len(refused)
    )
    # A refused request read no body byte, so none went upstream: what was received is exactly
    # the served bodies, and upstream holds exactly the served objects.
    expected = bytes_before + len(served) * SIZE
    received = reaching(proxy, expected, "s3proxy_received_bytes_total", tenant="alice")
    assert received == expected
    if proxy.upstream is not None:
        stored = set()
        for key in keys:
            try:
                proxy.upstream.head_object(
                    Bucket=HOME_BUCKET, Key=upstream_key("alice", "docs", key)
                )
                stored.add(key)
            except ClientError:
                pass
        assert stored == set(served)


@THREE_TENANTS  # test_fairness covers two tenants on one worker
def test_stalled_uploads_of_one_tenant_over_two_workers_leave_the_others_alone(
    rated: Rated,
) -> None:
    """The concurrency share with three tenants and two workers: bob stalls more uploads than
    his slots on both workers hold; carol is not slowed, and a stall refused for want of a
    slot reads no byte."""
    proxy = rated.proxy
    slots = 3 * rated.variant.workers
    tag = os.urandom(4).hex()
    received_before = metric(proxy, "s3proxy_received_bytes_total", tenant="bob")
    carol_limited = limited(proxy, "carol")
    held = [stall(proxy, "bob", f"stall/{tag}-{n}") for n in range(16)]
    try:
        carol = rated.client("carol")
        for n in range(10):
            carol.put_object(Bucket="docs", Key=f"s/{tag}-{n}", Body=b"k")
            carol.list_objects_v2(Bucket="docs", Prefix="s/")
        assert limited(proxy, "carol") == carol_limited, "a limit acted on carol"
    finally:
        answers = [read_answer(sock) for sock in held]
    outcomes = [(status, code) for status, _, code in answers]
    timed_out = outcomes.count((400, "RequestTimeout"))
    assert outcomes.count((503, "SlowDown")) == len(held) - timed_out
    assert 3 <= timed_out <= slots, outcomes  # a worker full; never more than the slots
    # Each held stall read its one byte; a refused one read none.
    expected = received_before + timed_out
    received = reaching(proxy, expected, "s3proxy_received_bytes_total", tenant="bob")
    assert received == expected, outcomes


@THREE_TENANTS  # carol, the byte-limited tenant; last, as it leaves her in debt for ~7 s
def test_over_its_byte_rate_a_tenant_is_refused_until_repaid(rated: Rated) -> None:
    proxy = rated.proxy
    carol = rated.client("carol")  # one kept-alive connection: one worker
    tag = os.urandom(4).hex()
    carol.put_object(Bucket="docs", Key=f"bytes/{tag}", Body=b"c" * (8 * CAROL_BYTES))
    before = upstream_requests(proxy)
    with pytest.raises(ClientError) as caught:
        carol.head_object(Bucket="docs", Key=f"bytes/{tag}")
    metadata = caught.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 503
    # 8 MB taken against a 1 MB burst: 7 MB of debt at 1 MB/s, less what the PUT's own time
    # repaid; past the 3 s (10 x max_wait) a request waits for byte debt.
    assert metadata["HTTPHeaders"]["retry-after"] in ("5", "6", "7")
    assert upstream_requests(proxy) == before, "a refused request went upstream"
    bob = rated.client("bob")
    bob.put_object(Bucket="shared", Key=f"bytes/bob-{tag}", Body=b"b" * CAROL_BYTES)
    assert len(bob.get_object(Bucket="shared", Key=f"bytes/bob-{tag}")["Body"].read()) == (
        CAROL_BYTES
    )
