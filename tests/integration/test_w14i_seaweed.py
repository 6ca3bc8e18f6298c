"""The wave 14 I model-based fuzz (tests/support/w14i_machine.py, w14i_fuzz.py) through a real
proxy on SeaweedFS: the sharded layout's listing merges and key mapping under the same model as the
in-process run (tests/unit/test_w14i_stateful.py). Each sequence starts from empty tenants (the
previous one's buckets, objects and uploads removed through the proxy). The CI run is
derandomized and small; ``W14I_EXAMPLES=200`` runs it longer."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
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
from tests.support.processes import SeaweedFS
from tests.support.w14i_fuzz import Fuzz
from tests.support.w14i_transport import HOME_BUCKET, OverHttp, Transport, tenants

EXAMPLES = int(os.environ.get("W14I_EXAMPLES", "0"))


def fuzz_proxy(server: Any, upstream: Any, workdir: Path) -> Proxy:
    """A proxy in front of ``upstream`` with the fuzz's tenants (w14i_transport.tenants)."""
    create_upstream_buckets(upstream)
    if HOME_BUCKET not in {b["Name"] for b in upstream.list_buckets().get("Buckets", [])}:
        upstream.create_bucket(Bucket=HOME_BUCKET)
    return start_proxy(server, upstream, workdir, tenants=tenants(UPSTREAM))


def run_over_http(
    endpoint: str, machine: type[Fuzz] = Fuzz, examples: int = EXAMPLES, steps: int = 30
) -> None:
    """``machine`` through the proxy at ``endpoint``, each sequence from emptied tenants:
    derandomized 4 x 15 unless ``examples`` asks for more (then random, ``steps`` long)."""

    class OverProxy(machine):  # type: ignore[misc,valid-type]
        def make_transport(self) -> Transport:
            return emptied(OverHttp(endpoint))

    case = OverProxy.TestCase
    case.settings = settings(
        max_examples=examples or 4,
        stateful_step_count=steps if examples else 15,
        derandomize=not examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=True,
    )
    case("runTest").runTest()


@pytest.fixture(scope="module")
def w14i_proxy(
    seaweed: SeaweedFS, upstream_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = fuzz_proxy(seaweed, upstream_s3, tmp_path_factory.mktemp("w14i"))
    try:
        yield running
    finally:
        running.process.stop()


def _texts(body: bytes, path: str) -> list[str]:
    return [e.text or "" for e in ET.fromstring(body).findall(path)]


def emptied(transport: OverHttp) -> OverHttp:
    """Every bucket of tenants a and b removed, with its objects and uploads."""
    for tenant in ("a", "b"):
        listing = transport.send(tenant, "GET", None)
        for name in _texts(listing.body, "{*}Buckets/{*}Bucket/{*}Name"):
            uploads = transport.send(tenant, "GET", name, query=[("uploads", "")]).body
            for key, upload in zip(
                _texts(uploads, "{*}Upload/{*}Key"),
                _texts(uploads, "{*}Upload/{*}UploadId"),
                strict=True,
            ):
                transport.send(tenant, "DELETE", name, key, query=[("uploadId", upload)])
            objects = transport.send(tenant, "GET", name, query=[("list-type", "2")]).body
            for key in _texts(objects, "{*}Contents/{*}Key"):
                transport.send(tenant, "DELETE", name, key)
            assert transport.send(tenant, "DELETE", name).status == 204
    return transport


@pytest.mark.skipif("seaweedfs" not in lanes(), reason="the SeaweedFS lane is not chosen")
def test_the_model_holds_through_a_proxy_on_seaweedfs(w14i_proxy: Proxy) -> None:
    run_over_http(w14i_proxy.endpoint)
