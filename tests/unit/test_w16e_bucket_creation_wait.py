"""A tenant's CreateBuckets wait a bounded time for each other (wave 16, E).

One CreateBucket of a tenant runs at a time in a process, so that two cannot both pass the
bucket cap's count. That was a lock with no wait bound: a home upstream that did not answer held
it for the upstream's read timeout (300 s), and every other CreateBucket of the tenant queued
behind it, each holding one of the tenant's request slots. A waiter now waits while creations
keep finishing within ``server.limits.max_wait`` of each other, else gets S3's 503 SlowDown
with ``Retry-After``, counted as ``s3proxy_limited_requests_total{limit="bucket_creation"}``.

The tests run on a virtual clock (tests.support.virtual_clock): a wait bound raced against real
timers failed when a loaded box held the loop past it (wave 18, E3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from prometheus_client import REGISTRY

from s3proxy.backends.base import Backend
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.config import load_settings
from s3proxy.errors import S3Error
from s3proxy.gateway import Gateway
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ListPage, PutObjectInput
from tests.support.virtual_clock import run_virtual

TENANT = TenantLayout("w16e-creator", home=UpstreamRoot("main", "homes", "w16e-creator/"))
WAIT = 0.1
"""The tenant's ``max_wait`` here (1 s by default): a creation waits HAND_OVER x that for the
one before it."""
GUARD = 60.0
"""Virtual seconds an answer is awaited before the test says it is still waiting: past every
bound here (a patient waiter gives up after PATIENT_WAITS x its wait), and free on the virtual
clock."""


class Home:
    """Just enough of an upstream for creating buckets; its listings (the cap's count) hang
    while :attr:`hung` is set, as an upstream that does not answer."""

    def __init__(self) -> None:
        self.hung = asyncio.Event()
        self.answer = asyncio.Event()
        self.keys: set[str] = set()

    async def list_objects(self, *args: Any) -> ListPage:
        if self.hung.is_set():
            await self.answer.wait()
        return ListPage(entries=[], prefixes=[], next_token=None)

    async def put_object(self, request: PutObjectInput) -> object:
        self.keys.add(request.key)
        return object()


def _registry(home: Home) -> BucketRegistry:
    registry = BucketRegistry(TENANT, cast(Mapping[str, Backend], {"main": home}), frozenset())
    registry.max_buckets = 100
    registry.creation_wait = WAIT

    async def absent(bucket: str, fresh: bool = False) -> bool:
        return False

    registry.exists = absent  # type: ignore[method-assign]
    return registry


async def _answer(creating: Any) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(creating, GUARD)
    except S3Error as error:
        return error.code.name, error.headers.get("Retry-After")
    except TimeoutError:
        return f"still waiting after {GUARD} s", None
    return "ok", None


def _refused() -> float:
    value = REGISTRY.get_sample_value(
        "s3proxy_limited_requests_total",
        {"tenant": TENANT.name, "limit": "bucket_creation", "answer": "SlowDown"},
    )
    return value or 0.0


def test_a_create_behind_one_the_home_holds_is_slowed_down_not_queued() -> None:
    async def main() -> list[tuple[str, str | None]]:
        home = Home()
        registry = _registry(home)
        home.hung.set()
        first = asyncio.ensure_future(registry.create("held"))
        await asyncio.sleep(0)
        second = await _answer(registry.create("behind"))
        home.answer.set()  # the home answers at last: the first one ends as before
        return [await _answer(first), second]

    before = _refused()
    assert run_virtual(main()) == [("ok", None), ("SlowDown", "1")]
    assert _refused() == before + 1


def test_creations_that_keep_finishing_are_waited_for() -> None:
    """A burst of CreateBuckets through one tenant (terraform, a test suite) still queues:
    each one that finishes within the hand-over wait lets the next waiter go on, so the last
    one waits six listings, past one wait in all."""

    async def main() -> list[tuple[str, str | None]]:
        home = Home()
        registry = _registry(home)
        registry.creation_wait = 0.5  # a waiter waits HAND_OVER x 0.5 = 5 s for a hand-over
        slow_list = home.list_objects

        async def listing(*args: Any) -> ListPage:
            await asyncio.sleep(4.0)  # within one wait each, 24 s for the six before the last
            return await slow_list(*args)

        home.list_objects = listing  # type: ignore[method-assign]
        return await asyncio.gather(*(_answer(registry.create(f"bkt{n}")) for n in range(7)))

    assert run_virtual(main()) == [("ok", None)] * 7


def test_the_gateway_gives_each_tenant_the_servers_max_wait(tmp_path: Path) -> None:
    env = {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
        "S3PROXY_SERVER__LIMITS__MAX_WAIT": "2.5",
    }
    gateway = Gateway(load_settings(None, env=env))
    try:
        assert gateway.runtime.storages["t1"].buckets.creation_wait == 2.5
    finally:
        asyncio.run(gateway.close())
