"""A local store's successful Complete of many parts, another tenant's reads meanwhile (wave 17 F).

In process, one LocalStore: tenant a (``CURRENT_TENANT``) completes an upload of ``--parts``
1-byte parts (the 5 MiB part minimum lowered to 1 byte here only, so that the Complete passes
without 50 GB of parts: the commit's cost is its rows, not its bytes), while tenant b HEADs a
1 KiB object back to back. Reported per round: b's HEAD p50/p99/max idle and while a's Complete
runs, the Complete's wall time, and its commit job (the one database-thread job that writes the
object and ends the upload) timed alone. No assertion: figures for BENCHMARKS.md "Wave 17 F".
Usage:

    python -m benchmarks.complete_commit [--parts 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from s3proxy.backends.local import LocalStore, multipart
from s3proxy.limits import CURRENT_TENANT
from s3proxy.model import CompletedPart, CompleteMultipartInput, CreateMultipartInput
from tests.unit.local_helpers import BUCKET, NO_ATTRIBUTES, NO_READ_CONDITIONS, put, upload_part


def _ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


async def _heads(store: LocalStore, stop: asyncio.Event, out: list[float]) -> None:
    CURRENT_TENANT.set("b")
    while not stop.is_set():
        started = time.perf_counter()
        await store.head_object(BUCKET, "small", NO_READ_CONDITIONS)
        out.append(time.perf_counter() - started)


async def _upload(store: LocalStore, parts: int) -> CompleteMultipartInput:
    CURRENT_TENANT.set("a")
    upload = await store.create_multipart_upload(CreateMultipartInput(BUCKET, "big", NO_ATTRIBUTES))
    sem = asyncio.Semaphore(16)

    async def one(number: int) -> str:
        async with sem:
            return await upload_part(store, "big", upload, number, b"x")

    etags = await asyncio.gather(*(one(n) for n in range(1, parts + 1)))
    listed = [CompletedPart(n, etag) for n, etag in enumerate(etags, start=1)]
    return CompleteMultipartInput(BUCKET, "big", upload, listed)


async def _round(store: LocalStore, parts: int) -> dict[str, Any]:
    request = await _upload(store, parts)
    stop = asyncio.Event()
    idle: list[float] = []
    task = asyncio.create_task(_heads(store, stop, idle), context=contextvars.copy_context())
    await asyncio.sleep(1.0)
    stop.set()
    await task
    loaded: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(_heads(store, stop, loaded), context=contextvars.copy_context())
    await asyncio.sleep(0.2)
    loaded.clear()  # b's loop running before a's Complete starts
    CURRENT_TENANT.set("a")
    commit_seconds: list[float] = []
    original = store._commit_complete

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args)
        finally:
            commit_seconds.append(time.perf_counter() - started)

    store._commit_complete = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    await store.complete_multipart_upload(request)
    wall = time.perf_counter() - started
    store._commit_complete = original  # type: ignore[method-assign]
    stop.set()
    await task
    return {
        "complete_ms": round(1000 * wall, 1),
        "commit_job_ms": [round(1000 * s, 1) for s in commit_seconds],
        "b_idle_p50_ms": _ms(idle, 0.5),
        "b_idle_p99_ms": _ms(idle, 0.99),
        "b_loaded_p50_ms": _ms(loaded, 0.5),
        "b_loaded_p99_ms": _ms(loaded, 0.99),
        "b_loaded_max_ms": _ms(loaded, 1.0),
        "b_heads_during": len(loaded),
    }


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    multipart.MIN_PART_SIZE = 1  # type: ignore[misc]
    with tempfile.TemporaryDirectory(prefix="s3proxy-complete-commit-") as tmp:
        store = LocalStore("bench", Path(tmp))
        try:
            await put(store, "small", b"x" * 1024)
            rounds = []
            for _ in range(args.rounds):
                figures = await _round(store, args.parts)
                print(json.dumps(figures), flush=True)
                rounds.append(figures)
            return rounds
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = asyncio.run(_run(parser.parse_args(argv)))
    summary = {
        figure: statistics.median(r[figure] for r in rounds)
        for figure in ("complete_ms", "b_idle_p50_ms", "b_loaded_p50_ms", "b_loaded_p99_ms")
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
