"""Session-wide fixtures: one real SeaweedFS upstream on free loopback ports for the whole run,
and, for tests that ask for it, a real Ceph RGW (conformance/ceph_rgw.py).

Started lazily (only when a test asks for it) and stopped by PID at the end, so unit-test-only
runs never pay for it and no `weed` or Ceph process outlives pytest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from conformance.ceph_rgw import CephRGW, CephUnavailable, ensure_installed
from tests.support.processes import SeaweedFS

settings.register_profile("s3proxy", deadline=None)
settings.load_profile("s3proxy")
"""Property tests check results, never time: Hypothesis's default 200 ms deadline per example
failed test_keycodec under a load of 15 on two cores (a flake, not a finding)."""

SEAWEED_ACCESS_KEY = "seaweedadmin"
SEAWEED_SECRET_KEY = "seaweedadmin-secret-key"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running `weed mini`; its log is next to the data dir (see SeaweedFS.start)."""
    root = tmp_path_factory.mktemp("seaweed")
    with SeaweedFS.start(root / "data", SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def upstream_s3(seaweed: SeaweedFS) -> Any:
    """A boto3 S3 client talking to SeaweedFS directly (path-style, us-east-1, SigV4)."""
    return seaweed.client()


@pytest.fixture(scope="session")
def ceph_rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CephRGW]:
    """A fresh single-node Ceph RGW (mon + memstore OSD + radosgw) on free loopback ports.

    Installs Debian's packages first when they are missing (root only, ~25 s); skips the test
    where that is impossible, with the command that would install them. Logs: ``<tmp>/log``.
    """
    try:
        ensure_installed()
    except CephUnavailable as error:
        pytest.skip(str(error))
    # SSE-C over plain HTTP, as the proxy's loopback tests send it (tests/integration/test_sse.py).
    plain_http_sse_c = {"client.rgw.a": {"rgw crypt require ssl": "false"}}
    with CephRGW.start(tmp_path_factory.mktemp("ceph"), extra_config=plain_http_sse_c) as server:
        yield server


@pytest.fixture(scope="session")
def ceph_s3(ceph_rgw: CephRGW) -> Any:
    """A boto3 S3 client talking to Ceph RGW directly (path-style, us-east-1, SigV4)."""
    return ceph_rgw.client()


def _repeats_another_lane(item: pytest.Item) -> bool:
    """Matrix cells that would only repeat what another lane proves, and cost CI minutes.

    - TLS is the client-facing leg: the upstream behind the proxy cannot change a TLS session,
      so client sessions run over HTTPS on the local-store lane only (over HTTP on every lane).
    - The header policy refuses before any upstream call: refused-option checks run on the
      local-store lanes only — but for the multipart uploads with a public ACL, which keep
      records upstream (over HTTP on every lane).
    - 256 shards merge through the same code as 16; on real upstreams 16 shards already prove
      the merged, paged listing, so the 256-shard reference listing runs on the local store.
    - A ``one_lane`` mark on one parameter (a refusal decided before any backend call among
      cases that reach the backend) keeps that case on the one lane ``one_lane`` chooses.

    ``S3PROXY_TEST_EVERY_CELL=1`` keeps every cell: COMPATIBILITY.md's full client matrix
    (TLS sessions on every upstream) is generated from such a run.
    """
    if os.environ.get("S3PROXY_TEST_EVERY_CELL") == "1":
        return False
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "backend" in params and item.get_closest_marker("one_lane"):
        # A one_lane mark on one parameter (pytest.param(..., marks=pytest.mark.one_lane)):
        # pytest_generate_tests sees only the function's marks, so its other lanes go here.
        from tests.integration.conftest import lanes, one_lane

        return params["backend"] not in one_lane(
            lanes(item.get_closest_marker("upstream_layout") is not None)
        )
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("tests/clients/"):
        if path.endswith("test_refused_options.py"):  # but a public ACL's multipart upload
            kept = item.name.startswith("test_public_object_then_anonymous_get")  # keeps records
            kept = kept and params.get("large") is True and params.get("client_proxy") != "https"
            return params.get("upstream") != "local" and not kept
        return params.get("client_proxy") == "https" and params.get("upstream") != "local"
    if path == "tests/integration/test_listing_upstreams.py":
        return params.get("listed") == 256 and params.get("upstream") != "local"
    return False


#: Modules one worker runs together, as one unit of work, because they share a session fixture
#: that is costly to build twice: the deploy tests' one checkov scan (tests/deploy/conftest.py).
SHARED_UNITS = {
    "tests/deploy/test_helm.py": "tests/deploy (checkov)",
    "tests/deploy/test_terraform.py": "tests/deploy (checkov)",
}


def _work_unit(nodeid: str) -> str:
    """The unit of work a pytest-xdist worker runs whole: a test module, so that its
    module-scoped proxies start once (each worker starts its own session servers, SeaweedFS, Ceph
    RGW and the lanes' proxies, about a second each, as its tests ask for them); tests/clients/
    is one unit, as its recorder starts every selected client session as soon as a proxy is up
    so that the refused-option checks run alongside, and writes build/conformance/results.json
    once with every session in it; and the modules of :data:`SHARED_UNITS`."""
    path = nodeid.split("::", 1)[0]
    return "tests/clients" if path.startswith("tests/clients/") else SHARED_UNITS.get(path, path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Hand out whole :func:`_work_unit` units (pyproject's addopts run two workers), in
    collection order: the long units (client sessions, the image build) start first and the
    short unit tests fill the end. Not ``--dist loadgroup`` with marks: xdist 3.8 groups by
    rewriting ``item._nodeid``, which pytest 9.2's nodes no longer read."""
    if config.getvalue("dist") != "load":  # another --dist asked for by hand
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop cells that repeat another lane; apply tests/expected_failures.py (strict, so an
    unexpected pass fails the run)."""
    import re

    from tests.expected_failures import EXPECTED_FAILURES

    repeated = [item for item in items if _repeats_another_lane(item)]
    if repeated:
        config.hook.pytest_deselected(items=repeated)
        items[:] = [item for item in items if not _repeats_another_lane(item)]
    for item in items:
        for pattern, reason in EXPECTED_FAILURES.items():
            if re.search(pattern, item.nodeid):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
