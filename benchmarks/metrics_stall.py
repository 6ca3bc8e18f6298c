"""How long one ``/metrics`` scrape holds the event loop, with many tenants' series.

The admin app is called in process, with the default registry filled as ``--tenants`` tenants
would fill it (ten operations, three statuses each); a task that sleeps 1 ms at a time records
the loop's longest stall while the scrape runs. On a one-process server that loop also serves
S3, so the stall is how long every S3 request waits (wave 13 E: 1.7-1.9 s before the scrape
was rendered in a thread, 0.1-0.19 s after, for 30,000 series).

    python -m benchmarks.metrics_stall [--tenants 1000]

Run it from a checkout to measure that checkout's code (``PYTHONPATH=<tree>`` for another).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from s3proxy import metrics
from s3proxy.admin_app import create_admin_app

OPERATIONS = (
    "GetObject",
    "PutObject",
    "HeadObject",
    "ListObjectsV2",
    "DeleteObject",
    "UploadPart",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "HeadBucket",
    "CopyObject",
)


class _Gateway:
    """What the admin app reads of a gateway for /metrics."""

    draining = False

    async def check_ready(self) -> dict[str, tuple[str, str]]:
        return {}


async def _scrape(app: Any) -> tuple[float, int]:
    sizes: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sizes.append(len(message.get("body", b"")))

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 9001),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    started = time.perf_counter()
    await app(scope, receive, send)
    return time.perf_counter() - started, sum(sizes)


async def _measure(tenants: int) -> None:
    for tenant in range(tenants):
        for operation in OPERATIONS:
            for status in ("200", "404", "503"):
                metrics.REQUESTS.labels(operation, status, f"tenant-{tenant}").inc()
    app = create_admin_app(_Gateway())  # type: ignore[arg-type]
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - began - 0.001)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.05)
    took, size = await _scrape(app)
    done.set()
    await task
    print(
        f"{tenants} tenants: scrape {took * 1000:.0f} ms, {size / 1e6:.1f} MB; "
        f"the loop's longest stall {max(stalls) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    asyncio.run(_measure(parser.parse_args().tenants))


if __name__ == "__main__":
    main()
