"""The wave 14 I model-based fuzz (tests/support/w14i_fuzz.py) through a real proxy on Ceph RGW,
the lane wave 14 I never ran it on: RGW's own answers for uploads, copies and listings under the
same model as SeaweedFS (tests/integration/test_w14i_seaweed.py). Derandomized and small in CI;
``W14I_EXAMPLES=200`` runs it longer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.integration.conftest import (
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    lanes,
    start_proxy,
)
from tests.integration.test_w14i_seaweed import EXAMPLES, emptied
from tests.support.w14i_fuzz import Fuzz
from tests.support.w14i_transport import HOME_BUCKET, OverHttp, Transport, tenants


@pytest.fixture(scope="module")
def w14i2_ceph_proxy(
    ceph_rgw: Any, ceph_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    create_upstream_buckets(ceph_s3)
    if HOME_BUCKET not in {b["Name"] for b in ceph_s3.list_buckets().get("Buckets", [])}:
        ceph_s3.create_bucket(Bucket=HOME_BUCKET)
    workdir: Path = tmp_path_factory.mktemp("w14i2")
    running = start_proxy(ceph_rgw, ceph_s3, workdir, tenants=tenants(UPSTREAM))
    try:
        yield running
    finally:
        running.process.stop()


@pytest.mark.skipif("ceph" not in lanes(), reason="the Ceph lane is not chosen")
def test_the_model_holds_through_a_proxy_on_ceph_rgw(w14i2_ceph_proxy: Proxy) -> None:
    class CephFuzz(Fuzz):
        def make_transport(self) -> Transport:
            return emptied(OverHttp(w14i2_ceph_proxy.endpoint))

    case = CephFuzz.TestCase
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
