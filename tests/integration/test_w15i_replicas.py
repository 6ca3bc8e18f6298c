"""The model-based fuzz (tests/support/w14i_fuzz.py, w15i_fuzz.py) across two gateway replicas
on one SeaweedFS, or Ceph RGW when S3PROXY_TEST_BACKENDS names it (wave 15, I): each request
goes to the replica the machine chose, the second replica runs two workers, and the replica
window (``server.bucket_cache_seconds``) is waited out before any request naming a bucket
another replica changed (tests/support/w15i_replicas.py), so every answer must be the one a
single server gives; an anonymous write is never waited for (README: judged by the stored ACL),
so within the window it may only be refused. Derandomized and small in CI;
``W15I_EXAMPLES=200`` runs it longer, ``W15I_WINDOW`` sets the cache's seconds (0.3)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings

from tests.integration.conftest import UPSTREAM, Proxy, create_upstream_buckets, start_proxy
from tests.integration.relayed import UPSTREAMS
from tests.integration.test_w14f_usage_probe import chosen_lanes
from tests.integration.test_w14i_seaweed import emptied
from tests.support.w14i_model import NAMES
from tests.support.w14i_transport import HOME_BUCKET, Transport, tenants
from tests.support.w15i_fuzz import ReplicaFuzz
from tests.support.w15i_replicas import Replicas

EXAMPLES = int(os.environ.get("W15I_EXAMPLES", "0"))
WINDOW = float(os.environ.get("W15I_WINDOW", "0.3"))
"""``server.bucket_cache_seconds`` of both replicas: the window the machine waits out."""

pytestmark = pytest.mark.integration


def replica(server: Any, upstream: Any, workdir: Path, workers: int) -> Proxy:
    return start_proxy(
        server,
        upstream,
        workdir,
        tenants=tenants(UPSTREAM),
        server={"workers": workers, "bucket_cache_seconds": WINDOW},
    )


LANES = chosen_lanes(["seaweedfs"])
"""SeaweedFS by default; Ceph RGW when S3PROXY_TEST_BACKENDS names it (slow to start)."""


@pytest.fixture(scope="module", params=[lane for lane in LANES if lane in UPSTREAMS])
def w15i_replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    if HOME_BUCKET not in {b["Name"] for b in upstream.list_buckets().get("Buckets", [])}:
        upstream.create_bucket(Bucket=HOME_BUCKET)
    first = replica(server, upstream, tmp_path_factory.mktemp("w15i-1"), 1)
    try:
        second = replica(server, upstream, tmp_path_factory.mktemp("w15i-2"), 2)
        try:
            yield first, second
        finally:
            second.process.stop()
    finally:
        first.process.stop()


class AcrossReplicas(ReplicaFuzz):
    """The machine across :attr:`endpoints` (set by the test), each sequence from emptied
    tenants; :attr:`waited` adds up the seconds it waited for the window."""

    endpoints: ClassVar[list[str]] = []
    waited = 0.0

    def make_transport(self) -> Transport:
        transport = Replicas(self.endpoints, WINDOW)
        emptied(transport.replicas[0])
        now = time.monotonic()
        transport.changed = {name: (now, 0) for name in NAMES}
        return transport

    def teardown(self) -> None:
        AcrossReplicas.waited += self.transport.waited
        super().teardown()


def test_the_model_holds_across_two_replicas(w15i_replicas: tuple[Proxy, Proxy]) -> None:
    AcrossReplicas.endpoints = [proxy.endpoint for proxy in w15i_replicas]
    case = AcrossReplicas.TestCase
    case.settings = settings(
        max_examples=EXAMPLES or 4,
        stateful_step_count=30 if EXAMPLES else 15,
        derandomize=not EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=True,
    )
    case("runTest").runTest()
    print(f"waited {AcrossReplicas.waited:.1f} s for the replica window")


def test_replayed_an_anonymous_write_after_the_bucket_was_made_private(
    w15i_replicas: tuple[Proxy, Proxy],
) -> None:
    """The machine's steps behind test_w15i_replica_grants.py: the single-worker replica
    caches a's public-read-write bucket (an anonymous PUT), a makes it private through the
    other, and the next anonymous PUT and DELETE through the first (not waited for: judged by
    the stored ACL) were carried out; they must be refused."""
    AcrossReplicas.endpoints = [proxy.endpoint for proxy in w15i_replicas]
    state = AcrossReplicas()
    try:
        state.route(mode="second")
        state.create_bucket(party="a", name="nm1", acl="public-read-write")
        state.route(mode="first")
        state.put_object(party="anon", name="nm1", key="k", body=b"0", acl=None)
        state.route(mode="second")
        state.put_bucket_acl(party="a", name="nm1", acl="private")
        state.route(mode="first")
        state.put_object(party="anon", name="nm1", key="x y", body=b"hello", acl=None)
        state.delete_object(party="anon", name="nm1", key="k")
        state.every_listing_is_the_models()
    finally:
        state.teardown()
