"""Wave 18 R1 (review of 33d74c4): an early answer whose client left gave back the tenant's
request slot while the copy's work still ran (app._serve's finally left the gate before it
awaited response.close, which waits for the work): a tenant could run any number of long copies
at once by hanging up after each 200 began. The slot is now held until the work ends.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.backends.mapped import MappedStorage
from tests.unit.test_early_answer import COPY, QUICK, SOURCE, Held, hold, request, settings


def test_the_slot_is_held_until_the_work_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())
    seen: dict[str, Any] = {}

    async def main() -> None:
        gateway = Gateway(settings(tmp_path, QUICK))
        try:
            app = S3App(gateway)
            assert (await request(app, "PUT", "bkt")).status == 200
            assert (await request(app, "PUT", "bkt/src", SOURCE)).status == 200
            gate = gateway.admission.gate("t")
            left = asyncio.Event()

            def leave(chunk: bytes) -> None:
                if chunk == b" ":
                    left.set()
                    raise ConnectionResetError("the client left")

            answer = asyncio.ensure_future(
                request(app, "PUT", "bkt/dst", headers=COPY, on_body=leave)
            )
            await left.wait()
            for _ in range(50):  # let the app run its abort path
                await asyncio.sleep(0)
            seen["active_while_working"] = gate.active
            seen["finished"] = held.finished
            assert held.gate is not None
            held.gate.set()
            await answer
            seen["active_after"] = gate.active
        finally:
            await gateway.close()

    asyncio.run(main())
    print(seen)
    assert seen["finished"] is False
    assert seen["active_while_working"] == 1, seen


def test_a_tenant_limited_to_one_request_runs_two_copies_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tenant t: max_concurrent_requests 1. Its first copy's client leaves once the early 200
    began; the copy's work goes on. A second copy is then admitted and its work starts while
    the first still runs: two copies of a one-slot tenant at once (before wave 18 the first
    held its slot until its work ended, as nothing was sent before)."""
    held = hold(monkeypatch, MappedStorage, "copy_object", Held())
    seen: dict[str, Any] = {}

    async def main() -> None:
        config = settings(tmp_path, QUICK)
        data = config.model_dump(mode="python")
        data["tenants"]["t"]["limits"] = {"max_concurrent_requests": 1}
        data["server"]["secret"] = "s" * 32
        from s3proxy.config import Settings

        gateway = Gateway(Settings.model_validate(data))
        try:
            app = S3App(gateway)
            seen["limit"] = gateway.admission.gate("t").limit
            assert (await request(app, "PUT", "bkt")).status == 200
            assert (await request(app, "PUT", "bkt/src", SOURCE)).status == 200
            left = asyncio.Event()

            def leave(chunk: bytes) -> None:
                if chunk == b" ":
                    left.set()
                    raise ConnectionResetError("the client left")

            first = asyncio.ensure_future(
                request(app, "PUT", "bkt/dst", headers=COPY, on_body=leave)
            )
            await left.wait()
            second = asyncio.ensure_future(request(app, "PUT", "bkt/dst2", headers=COPY))
            for _ in range(10_000):
                if held.calls == 2:
                    break
                await asyncio.sleep(0)
            seen["calls_while_first_runs"] = held.calls
            seen["first_finished"] = held.finished
            assert held.gate is not None
            held.gate.set()
            await first
            seen["second"] = (await second).status
        finally:
            await gateway.close()

    asyncio.run(main())
    print(seen)
    assert not (seen["calls_while_first_runs"] == 2 and not seen["first_finished"]), seen
