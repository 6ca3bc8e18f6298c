"""A one-worker proxy whose upstream (real SeaweedFS or Ceph RGW) answers through a relay
(tests/support/relay.py), for the tests that force an upstream's races and failures.

Alice gets a home of her own under a fresh prefix, so nothing else in the run sees the objects
these tests leave or break.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    HOME_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    lanes,
    proxy_settings,
    start_proxy,
)
from tests.support.relay import Hook, Relay, relay_to

UPSTREAMS = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
"""Lane → the session fixtures of its upstream server and its admin client."""


def upstream_lanes() -> list[str]:
    """The chosen lanes that have an upstream to put a relay in front of."""
    return [lane for lane in lanes() if lane in UPSTREAMS]


@contextlib.contextmanager
def relayed_proxy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    bucket: str,
    rewrite: Hook | None = None,
    **alice: Any,
) -> Iterator[tuple[Proxy, Relay, str]]:
    """(proxy, relay, alice's home prefix) on the lane ``request.param``, with alice's bucket
    ``bucket`` created; ``alice`` adds to her tenant settings (e.g. a quota); ``rewrite``
    rewrites every answer from the proxy's first request on (its start-up's)."""
    server, upstream = (request.getfixturevalue(fixture) for fixture in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    prefix = f"{name}-{os.urandom(5).hex()}/"
    tenants["alice"]["home"] = {"upstream": UPSTREAM, "bucket": HOME_BUCKET, "prefix": prefix}
    tenants["alice"].update(alice)
    workdir = tmp_path_factory.mktemp(f"{name}-{request.param}")
    with relay_to(server.endpoint) as relay:
        relay.rewrite = rewrite
        running = start_proxy(
            server, upstream, workdir, {"endpoint": relay.endpoint},
            tenants=tenants, server={"workers": 1},
        )  # fmt: skip
        try:
            running.client("alice").create_bucket(Bucket=bucket)
            yield running, relay, prefix
        finally:
            relay.clear()
            running.process.stop()
