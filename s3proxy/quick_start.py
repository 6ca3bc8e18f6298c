"""The upstream quick start's one piece of setup: its upstream bucket, created when missing.

``s3proxy serve --upstream URL --upstream-bucket NAME`` is how a new user meets the gateway. If
NAME does not exist yet, readiness stays red (NoSuchBucket) and every request fails; a load
balancer gating on /readyz never lets a client through to fix it. So, before serving, the quick
start creates the bucket when its credentials may, and says what it did either way. Configured
deployments (``--config``) never create upstream buckets: their operator owns them.

Both steps are bounded in time (:data:`CHECK_SECONDS`, :data:`CREATE_SECONDS`). Before, an
upstream that accepted connections and never answered held the start-up for the upstream's
``read_timeout`` (300 s) and more, with nothing printed and no admin port to ask; now the quick
start says so and serves, /readyz naming the condition ("timeout") until the upstream answers.
"""

from __future__ import annotations

import asyncio

from s3proxy.backends.base import NotReady
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import Settings, UpstreamConfig
from s3proxy.errors import S3Error

CHECK_SECONDS = 10.0
"""The most the quick start waits for the upstream's answer about its bucket: the upstream's
default ``connect_timeout``, more than /readyz's 3 s, since a ``weed mini`` started a moment
before may be slow to answer its first request."""

CREATE_SECONDS = 30.0
"""The most the quick start waits for the upstream to create its bucket (S3, SeaweedFS and Ceph
RGW take well under a second)."""


async def ensure_upstream_buckets(settings: Settings) -> list[str]:
    """Create every missing home bucket on an S3 upstream; one line per thing done or found
    wrong, for the start-up output."""
    lines: list[str] = []
    for name, layout in sorted(settings.tenant_layouts().items()):
        home = layout.home
        if home is None:
            continue
        config = settings.upstreams[home.upstream]
        if not isinstance(config, UpstreamConfig):
            continue
        upstream = S3Upstream(home.upstream, config)
        try:
            lines.extend(await _ensure(upstream, home.bucket, name))
        finally:
            await upstream.close()
    return lines


async def _ensure(upstream: S3Upstream, bucket: str, tenant: str) -> list[str]:
    try:
        await asyncio.wait_for(upstream.check_ready(bucket), CHECK_SECONDS)
    except TimeoutError:
        return [
            f"upstream bucket {bucket} cannot be checked (no answer within {CHECK_SECONDS:g} s);"
            " not created"
        ]
    except NotReady as not_ready:
        if not_ready.condition != "NoSuchBucket":
            return [f"upstream bucket {bucket} cannot be checked ({not_ready}); not created"]
    else:
        return []
    try:
        await asyncio.wait_for(upstream.create_bucket(bucket), CREATE_SECONDS)
    except TimeoutError:
        return [
            f"upstream bucket {bucket} does not exist and its creation had no answer within "
            f"{CREATE_SECONDS:g} s; create it, then /readyz turns ready"
        ]
    except S3Error as error:
        return [
            f"upstream bucket {bucket} does not exist and could not be created "
            f"({error.code.name}: {error.message}); create it, then /readyz turns ready"
        ]
    return [f"upstream bucket {bucket} did not exist: created it (home of tenant {tenant})"]
