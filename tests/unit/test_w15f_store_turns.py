"""The local store's database thread takes its tenants' jobs in turn (wave 15 F).

Before, one tenant's queue of costly index jobs stood before every other tenant's: with tenant
A running 16 ListParts of 1,000 parts at once, tenant B's 1 KiB GET waited about a second.
Here the thread is held on A's first job while A queues three more and B one: B's runs after
A's next one, not after all of them (:mod:`s3proxy.backends.local.fair_jobs`). No timing.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from s3proxy.backends.local import LocalStore
from s3proxy.limits import CURRENT_TENANT


def test_the_local_store_takes_its_tenants_jobs_in_turn(tmp_path: Path) -> None:
    """The store's database thread is a FairJobs: a job of another tenant waits for one of
    the busy tenant's, not for its whole queue."""
    store = LocalStore("w15f", tmp_path / "store")

    async def run() -> list[str]:
        ran: list[str] = []
        release = threading.Event()
        started = threading.Event()

        def block() -> None:
            started.set()
            release.wait(10)

        async def as_tenant(tenant: str, job: object) -> None:
            CURRENT_TENANT.set(tenant)
            await store._run(job)  # type: ignore[arg-type]

        first = asyncio.ensure_future(as_tenant("a", block))
        await asyncio.to_thread(started.wait, 10)
        tasks = [
            asyncio.ensure_future(as_tenant("a", lambda n=n: ran.append(f"a{n}"))) for n in range(3)
        ]
        await asyncio.sleep(0)  # a's three queued before b's
        tasks.append(asyncio.ensure_future(as_tenant("b", lambda: ran.append("b"))))
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *tasks)
        return ran

    try:
        assert asyncio.run(run()) == ["a0", "b", "a1", "a2"]
    finally:
        asyncio.run(store.close())
