"""A tenant's expensive operations queue behind its own limit; another tenant's do not (wave 10 A).

One worker, ``max_concurrent_expensive: 1`` and ``max_wait: 2``, in front of SeaweedFS through a
relay (tests/support/relay.py) that holds alice's upstream listings of one prefix until the test
lets them go: her first listing is then in progress, for as long as the test wants, without a
sleep. While it is held, bob's listing and alice's own single-object requests are served at once;
her second listing waits for the slot, reaches no upstream and after ``max_wait`` is refused
503 SlowDown with Retry-After; her third, let go within ``max_wait``, is served, its upstream
listings all sent after the first's were let go. The gate
is the proxy's, decided before the waiting request's upstream calls: one lane proves it.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    PHOTOS_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    lanes,
    proxy_settings,
    start_proxy,
)
from tests.integration.test_fairness import metric
from tests.support.relay import Exchange, Relay, relay_to
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

BUCKET = "alice-photos"
MAX_WAIT = 2.0


@pytest.fixture(scope="module")
def relayed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay, str]]:
    """A one-worker proxy, alice's bucket at a fresh prefix, SeaweedFS behind a relay."""
    if "seaweedfs" not in lanes():
        pytest.skip("the relay runs in front of SeaweedFS")
    server, upstream = (request.getfixturevalue(n) for n in ("seaweed", "upstream_s3"))
    create_upstream_buckets(upstream)
    root = f"exp-{os.urandom(5).hex()}/"
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    tenants["alice"]["buckets"][BUCKET] = {
        "upstream": UPSTREAM,
        "bucket": PHOTOS_BUCKET,
        "prefix": root,
    }
    workdir = tmp_path_factory.mktemp("w10a-relay")
    with relay_to(server.endpoint) as relay:
        running = start_proxy(
            server, upstream, workdir, {"endpoint": relay.endpoint}, tenants=tenants,
            server={
                "workers": 1,  # the limit is per worker
                "limits": {"max_concurrent_expensive": 1, "max_wait": MAX_WAIT},
            },
        )  # fmt: skip
        try:
            yield running, relay, root
        finally:
            running.process.stop()


def _code(call: Callable[[], Any]) -> tuple[str, dict[str, str]]:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPHeaders"]
    return "OK", {}


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_for(condition, what)


def test_a_tenants_expensive_operations_queue_and_another_tenants_do_not(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    proxy, relay, root = relayed
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_object(Bucket=BUCKET, Key="one-key", Body=b"1")
    bob.put_object(Bucket="shared", Key="w10a/bob", Body=b"b")
    let_go = threading.Event()
    listed: dict[str, list[bool]] = {"one": [], "two": [], "three": []}
    lock = threading.Lock()

    def hold(exchange: Exchange) -> None:
        """Alice's upstream listings under ``root``: noted (let go yet?), "one"'s held."""
        prefix = exchange.query.get("prefix", "")
        if exchange.method != "GET" or not prefix.startswith(root):
            return None
        name = next((n for n in listed if n in prefix), None)
        if name is not None:
            with lock:
                listed[name].append(let_go.is_set())
            if name == "one":
                let_go.wait(30)
        return None

    def waited(answer: str) -> float:
        return metric(
            proxy,
            f's3proxy_limited_requests_total{{answer="{answer}",'
            'limit="max_concurrent_expensive",tenant="alice"}',
        )

    relay.answer = hold
    pool = ThreadPoolExecutor(2)
    try:
        first: Future[Any] = pool.submit(alice.list_objects_v2, Bucket=BUCKET, Prefix="one")
        _until(lambda: bool(listed["one"]), "alice's first listing never reached the upstream")
        # bob's listing and alice's single-object requests are not held behind her listing
        assert bob.list_objects_v2(Bucket="shared", Prefix="w10a/")["KeyCount"] == 1
        assert alice.get_object(Bucket=BUCKET, Key="one-key")["Body"].read() == b"1"
        alice.put_object(Bucket=BUCKET, Key="two-key", Body=b"2")
        # her second listing waits for her one slot, and after max_wait is refused
        started = time.monotonic()
        code, headers = _code(lambda: alice.list_objects_v2(Bucket=BUCKET, Prefix="three"))
        assert code == "SlowDown", code
        assert headers.get("retry-after") == "2"
        assert time.monotonic() - started >= MAX_WAIT * 0.9
        assert waited("SlowDown") >= 1
        # her third waits too, and is served once the first is done: nothing upstream before
        second: Future[Any] = pool.submit(alice.list_objects_v2, Bucket=BUCKET, Prefix="two")
        _until(
            lambda: metric(proxy, "s3proxy_requests_in_flight") >= 2,
            "alice's third listing never started",
        )
        assert not first.done() and not second.done()
    finally:
        let_go.set()
        pool.shutdown(wait=True)
        relay.clear()
    assert first.result()["KeyCount"] == 1
    assert second.result()["KeyCount"] == 1
    assert listed["two"] and all(listed["two"]), "the waiting listing went upstream while held"
    assert listed["three"] == [], "the refused listing went upstream"
    assert waited("waited") >= 1
