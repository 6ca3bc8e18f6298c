"""Readiness is the replica's own (wave 15, E2): one upstream's outage must not fail /readyz on
every replica at once, which left a load balancer or a Kubernetes Service with no endpoint for
the tenants of every healthy upstream too. The decision (s3proxy.readiness), the admin app's
answer through a real Gateway, the start-up line, and the strict setting that keeps the old
behaviour. Also the per-tenant bucket cap (limits.max_buckets): its defaults, and its count
exact within one process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from s3proxy.admin_app import create_admin_app
from s3proxy.backends.base import NotReady
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.backends.local import LocalStore
from s3proxy.config import load_settings
from s3proxy.errors import S3Error
from s3proxy.gateway import Gateway
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.readiness import is_ready
from s3proxy.startup import readiness_line
from tests.unit.test_w13e_admin import get

OK, DOWN = ("ok", ""), ("timeout", "no answer within 1 s")


def test_one_failing_upstream_keeps_the_replica_ready() -> None:
    assert is_ready({"a/x": OK, "b/y": DOWN})
    assert is_ready({"a/x": OK, "b/y": DOWN, "b/z": ("NoSuchBucket", "")})


def test_every_upstream_failing_is_unready() -> None:
    assert not is_ready({"a/x": DOWN, "b/y": ("AuthFailure", "")})
    assert not is_ready({"a/x": DOWN})


def test_a_failing_local_store_is_the_replicas_own() -> None:
    assert not is_ready({"disk/x": ("ServiceUnavailable", ""), "b/y": OK}, own=["disk"])
    assert is_ready({"disk/x": OK, "b/y": DOWN}, own=["disk"])


def test_every_upstream_is_the_old_strict_rule() -> None:
    assert not is_ready({"a/x": OK, "b/y": DOWN}, "every_upstream")
    assert is_ready({"a/x": OK, "b/y": OK}, "every_upstream")


def test_nothing_to_check_is_ready() -> None:
    assert is_ready({}) and is_ready({}, "every_upstream")


def test_the_start_up_line_says_which_answer_readyz_gives() -> None:
    healthy, line = readiness_line({"a/x": OK, "b/y": DOWN}, True)
    assert not healthy  # logged as a warning: b/y's tenants get 503s
    assert "b/y timeout" in line and "/readyz answers 200" in line
    assert "/readyz answers 503" in readiness_line({"a/x": OK, "b/y": DOWN}, False)[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    disk = extra.pop("disk", "yes") == "yes"
    env = {
        "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
        "S3PROXY_UPSTREAMS__OTHER__ENDPOINT": "http://127.0.0.1:8334",
        "S3PROXY_UPSTREAMS__DISK__TYPE": "local",
        "S3PROXY_UPSTREAMS__DISK__PATH": str(tmp_path / "store"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
        "S3PROXY_TENANTS__T2__KEYS": "[{access_key: AKT2, secret_key: t2-secret-key}]",
        "S3PROXY_TENANTS__T2__HOME": "{upstream: other, bucket: data}",
        "S3PROXY_TENANTS__T3__KEYS": "[{access_key: AKT3, secret_key: t3-secret-key}]",
        "S3PROXY_TENANTS__T3__HOME": "{upstream: disk, bucket: data}",
        **extra,
    }
    if not disk:  # S3 upstreams only
        env = {
            name: value for name, value in env.items() if "DISK" not in name and "T3" not in name
        }
    return env


def _readyz(tmp_path: Path, down: set[str], **extra: str) -> tuple[int, dict[str, Any], str]:
    """/readyz of a gateway whose upstreams in ``down`` do not answer, and the metrics."""
    settings = load_settings(None, env=_env(tmp_path, **extra))

    async def main() -> tuple[int, dict[str, Any], str]:
        gateway = Gateway(settings)
        for name in ("main", "other"):
            if name not in gateway.backends:
                continue

            async def answer(bucket: str, name: str = name) -> None:
                if name in down:
                    raise NotReady("Unreachable", "connection refused")

            gateway.backends[name].check_ready = answer  # type: ignore[method-assign]
        if "disk" in down:

            async def broken(bucket: str) -> None:
                raise NotReady("ServiceUnavailable", "read-only")

            gateway.backends["disk"].check_ready = broken  # type: ignore[method-assign]
        try:
            app = create_admin_app(gateway, CollectorRegistry())
            status, body = await get(app, "/readyz", [])
        finally:
            await gateway.close()
        return status, json.loads(body), generate_latest().decode()

    return asyncio.run(main())


def test_readyz_stays_ready_and_names_the_upstream_that_is_down(tmp_path: Path) -> None:
    status, report, exposition = _readyz(tmp_path, {"other"})
    assert (status, report["ready"]) == (200, True)
    assert report["upstreams"] == {
        "disk/data": "ok",
        "main/data": "ok",
        "other/data": "Unreachable",
    }
    assert report["details"] == {"other/data": "connection refused"}
    assert _readyz(tmp_path, {"main", "other"})[0] == 200  # the local store's tenants served
    assert 's3proxy_upstream_ready{target="other/data"} 0.0' in exposition
    assert 's3proxy_upstream_ready{target="main/data"} 1.0' in exposition


@pytest.mark.parametrize(
    ("down", "extra"),
    [
        ({"main", "other"}, {"disk": "no"}),  # no upstream answers: nobody to serve
        ({"disk"}, {}),  # the replica's own disk
        ({"other"}, {"S3PROXY_SERVER__READINESS_REQUIRES": "every_upstream"}),
    ],
)
def test_readyz_fails_for_what_is_the_replicas_own(
    tmp_path: Path, down: set[str], extra: dict[str, str]
) -> None:
    status, report, _ = _readyz(tmp_path, down, **extra)
    assert (status, report["ready"]) == (503, False)


def test_a_tenants_bucket_cap_is_its_own_else_the_servers(tmp_path: Path) -> None:
    """limits.max_buckets: S3's 10,000 by default, the server's for every tenant, a tenant's
    own over both (the count and the 400 TooManyBuckets: test_w15e2_outage_and_cap)."""
    caps = {}
    for extra in ({}, {"S3PROXY_SERVER__LIMITS__MAX_BUCKETS": "50"}):
        env = _env(tmp_path, **extra, S3PROXY_TENANTS__T2__LIMITS="{max_buckets: 3}")
        gateway = Gateway(load_settings(None, env=env))
        caps[len(caps)] = {
            name: s.buckets.max_buckets for name, s in gateway.runtime.storages.items()
        }
        asyncio.run(gateway.close())
    assert caps == {0: {"t1": 10000, "t2": 3, "t3": 10000}, 1: {"t1": 50, "t2": 3, "t3": 50}}


def test_the_bucket_cap_is_exact_within_a_process(tmp_path: Path) -> None:
    """Concurrent CreateBuckets of one tenant in one process are counted one after the other:
    of two new names racing for the last place one wins, the other gets TooManyBuckets; of two
    racing for one name, the loser gets BucketAlreadyOwnedByYou (as without a cap), not
    TooManyBuckets."""
    tenant = TenantLayout("t", home=UpstreamRoot("disk", "home", "t/"))

    async def code(creating: Any) -> str:
        try:
            await creating
        except S3Error as error:
            return error.code.name
        return "ok"

    async def main() -> None:
        store = LocalStore("disk", tmp_path / "store")
        try:
            registry = BucketRegistry(tenant, {"disk": store}, frozenset())
            registry.max_buckets = 3
            await registry.create("first")
            answers = await asyncio.gather(
                code(registry.create("bkt2")), code(registry.create("bkt3"))
            )
            assert answers == ["ok", "ok"]
            answers = await asyncio.gather(
                code(registry.create("bkt4")), code(registry.create("bkt5"))
            )
            assert answers == ["TooManyBuckets", "TooManyBuckets"]
            await registry.delete("bkt3")
            answers = await asyncio.gather(
                code(registry.create("cee1")), code(registry.create("cee2"))
            )
            assert sorted(answers) == ["TooManyBuckets", "ok"]
            await registry.delete("bkt2")
            answers = await asyncio.gather(
                code(registry.create("ddd")), code(registry.create("ddd"))
            )
            assert sorted(answers) == ["BucketAlreadyOwnedByYou", "ok"]
            assert len(await registry.list()) == 3
        finally:
            await store.close()

    asyncio.run(main())
