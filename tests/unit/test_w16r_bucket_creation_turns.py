"""Review of 95ceff1 (wave 16 R): the bucket-cap turn refuses CreateBuckets a working home serves.

95ceff1 bounds the wait for a tenant's one-at-a-time CreateBucket turn so that a home upstream
that does not answer (read timeout 300 s) cannot queue the tenant's creations. The bound is
``server.limits.max_wait`` (1 s) per hand-over, 10 of them in all: a home that answers, but
takes longer than ``max_wait`` for one creation (the cap's count lists up to 10,000 markers, one
request per 1,000; a loaded upstream), or a burst whose queue is longer than 10 x ``max_wait``,
now gets the other creations 503 SlowDown, where S3 (and this gateway before 95ceff1) created
them. ``max_wait`` is 0.1 s here, the home's listing 0.15 s: answered, never hung.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from s3proxy.backends.base import Backend
from s3proxy.backends.buckets import BucketRegistry
from s3proxy.errors import S3Error
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.model import ListPage, PutObjectInput

TENANT = TenantLayout("w16r-creator", home=UpstreamRoot("main", "homes", "w16r-creator/"))


class SlowHome:
    """A home that answers every listing after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.keys: set[str] = set()

    async def list_objects(self, *args: Any) -> ListPage:
        await asyncio.sleep(self.delay)
        return ListPage(entries=[], prefixes=[], next_token=None)

    async def put_object(self, request: PutObjectInput) -> object:
        self.keys.add(request.key)
        return object()


async def _answer(creating: Any) -> str:
    try:
        await creating
    except S3Error as error:
        return error.code.name
    return "ok"


def test_two_creations_through_a_home_that_answers_in_150_ms_both_succeed() -> None:
    async def main() -> list[str]:
        home = SlowHome(0.15)
        registry = BucketRegistry(TENANT, cast(Mapping[str, Backend], {"main": home}), frozenset())
        registry.max_buckets = 100
        registry.creation_wait = 0.1  # (max_wait; 1 s by default)

        async def absent(bucket: str, fresh: bool = False) -> bool:
            return False

        registry.exists = absent  # type: ignore[method-assign]
        return list(
            await asyncio.gather(
                _answer(registry.create("bucket-one")), _answer(registry.create("bucket-two"))
            )
        )

    assert asyncio.run(main()) == ["ok", "ok"]
