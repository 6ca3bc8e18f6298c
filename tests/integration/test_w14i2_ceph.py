"""The wave 14 I model-based fuzz (tests/support/w14i_fuzz.py) through a real proxy on Ceph RGW,
the lane wave 14 I never ran it on: RGW's own answers for uploads, copies and listings under the
same model as SeaweedFS (tests/integration/test_w14i_seaweed.py). Derandomized and small in CI;
``W14I_EXAMPLES=200`` runs it longer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Proxy, lanes
from tests.integration.test_w14i_seaweed import fuzz_proxy, run_over_http


@pytest.fixture(scope="module")
def w14i2_ceph_proxy(
    ceph_rgw: Any, ceph_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = fuzz_proxy(ceph_rgw, ceph_s3, tmp_path_factory.mktemp("w14i2"))
    try:
        yield running
    finally:
        running.process.stop()


@pytest.mark.skipif("ceph" not in lanes(), reason="the Ceph lane is not chosen")
def test_the_model_holds_through_a_proxy_on_ceph_rgw(w14i2_ceph_proxy: Proxy) -> None:
    run_over_http(w14i2_ceph_proxy.endpoint)
