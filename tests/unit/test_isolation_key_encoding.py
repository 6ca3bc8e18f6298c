"""A root's first-use key-encoding decision must not hold up another tenant's root (wave 8, C).

Every root (a tenant's home, a mapped bucket) reads its layout marker once per process. The
decisions of all tenants used to share one lock: a tenant whose upstream hung (unreachable,
waiting out connect_timeout, and retried by each of its requests, since a failure is not
remembered) queued every other tenant's first request on its own root behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from s3proxy.backends.base import Backend
from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamRoot
from s3proxy.model import ListPage

HUNG = UpstreamRoot("down", "homes", "alice/")
FINE = UpstreamRoot("up", "homes", "bob/")


class EmptyUpstream:
    """An upstream with nothing stored; ``hold`` (when given) keeps every HEAD waiting."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.hold = hold
        self.heads = 0
        self.asked = asyncio.Event()

    async def head_object(self, bucket: str, key: str, conditions: Any) -> object:
        self.heads += 1
        self.asked.set()
        if self.hold is not None:
            await self.hold.wait()
        raise S3Error(S3ErrorCode.NoSuchKey)

    async def list_objects(self, *args: Any, **kwargs: Any) -> ListPage:
        return ListPage([], [], None)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        return False


def test_a_hung_decision_holds_up_no_other_root() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        down, up = EmptyUpstream(release), EmptyUpstream()
        backends = cast(Mapping[str, Backend], {"down": down, "up": up})
        encodings = KeyEncodings(backends, None, {"down": "plain", "up": "plain"})
        hung = asyncio.create_task(encodings.of(HUNG, True))
        await down.asked.wait()  # alice's decision is waiting on its upstream
        fine = asyncio.create_task(encodings.of(FINE, True))
        for _ in range(100):  # turns of the event loop, no clock: bob's upstream answers at once
            if fine.done():
                break
            await asyncio.sleep(0)
        assert fine.done() and fine.result() == "plain"
        assert not hung.done()
        release.set()
        assert await hung == "plain"
        assert (down.heads, up.heads) == (1, 1)

    asyncio.run(scenario())


def test_one_roots_concurrent_first_uses_still_decide_once() -> None:
    """What the lock is for: requests arriving together on one new root read it once."""

    async def scenario() -> None:
        release = asyncio.Event()
        down = EmptyUpstream(release)
        encodings = KeyEncodings(cast(Mapping[str, Backend], {"down": down}), None, {})
        first = [asyncio.create_task(encodings.of(HUNG, True)) for _ in range(5)]
        await down.asked.wait()
        release.set()
        assert await asyncio.gather(*first) == ["plain"] * 5
        assert down.heads == 1

    asyncio.run(scenario())
