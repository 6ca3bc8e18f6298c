"""The admin port under an operator's load (wave 13 E), in process.

``/metrics`` was rendered on the event loop: with 1,000 tenants (~30,000 series, 6 MB) that took
1-3 s of pure Python, during which a one-process server answered no S3 request and no
``/healthz`` (a kubelet's liveness probe waits 1 s). It is now rendered in a thread, and
concurrent scrapes share one rendering, as concurrent ``/readyz`` share one readiness check
(each was a round of upstream requests).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric

from s3proxy.admin_app import create_admin_app
from tests.support.waiting import DEADLINE

SLOW = 0.3
"""Seconds the test collector takes to collect: a large scrape."""


class SlowCollector:
    """A collector that takes :data:`SLOW` seconds of blocking work, as 30,000 series do, or,
    given a ``gate``, blocks until the gate opens (at most :data:`DEADLINE`)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.collected = 0
        self.lock = threading.Lock()
        self.began = threading.Event()
        self.ended = threading.Event()
        self.gate = gate

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            self.collected += 1
        self.began.set()
        if self.gate is None:
            time.sleep(SLOW)
        else:
            self.gate.wait(DEADLINE)
        self.ended.set()
        yield CounterMetricFamily("w13e_slow", "slow to collect", value=1)


class FakeGateway:
    """What the admin app reads of a gateway: draining, and a readiness check that counts."""

    def __init__(self) -> None:
        self.draining = False
        self.checks = 0

    async def check_ready(self) -> dict[str, tuple[str, str]]:
        self.checks += 1
        await asyncio.sleep(0.05)  # the upstream's answers
        return {"up/bucket": ("ok", "")}

    def is_ready(self, results: dict[str, tuple[str, str]]) -> bool:
        return all(condition == "ok" for condition, _ in results.values())


async def get(app: Any, path: str, done: list[str]) -> tuple[int, bytes]:
    """One GET of ``path`` straight into the ASGI ``app``; ``path`` joins ``done`` when it is
    answered."""
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "GET",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"admin")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 9001),
        "client": ("127.0.0.1", 40000),
        "root_path": "",
    }
    await app(scope, receive, send)
    done.append(path)
    return answer["status"], answer["body"]


def admin(collector: SlowCollector | None = None) -> tuple[Any, FakeGateway]:
    registry = CollectorRegistry()
    if collector is not None:
        registry.register(collector)  # type: ignore[arg-type]
    gateway = FakeGateway()
    return create_admin_app(gateway, registry), gateway  # type: ignore[arg-type]


def test_a_slow_scrape_does_not_hold_healthz() -> None:
    """A scrape still collecting, then /healthz: /healthz is answered first. Before, the
    scrape held the event loop, and /healthz waited for it. The collection ends only once
    /healthz is answered (or after DEADLINE, when it held the loop): no clock decides the order
    (it was a 0.3 s collection and a 0.05 s head start)."""

    async def main() -> None:
        gate = threading.Event()
        collector = SlowCollector(gate)
        app, _ = admin(collector)
        done: list[str] = []
        scrape = asyncio.ensure_future(get(app, "/metrics", done))
        await asyncio.to_thread(collector.began.wait, DEADLINE)  # the scrape has begun
        status, body = await get(app, "/healthz", done)
        assert (status, body) == (200, b"ok\n")
        assert not collector.ended.is_set(), "/healthz waited for the collection"
        gate.set()
        status, body = await scrape
        assert status == 200 and b"w13e_slow_total 1.0" in body
        assert done == ["/healthz", "/metrics"]

    asyncio.run(main())


def test_concurrent_scrapes_share_one_rendering() -> None:
    async def main() -> None:
        collector = SlowCollector()
        app, _ = admin(collector)
        done: list[str] = []
        answers = await asyncio.gather(*(get(app, "/metrics", done) for _ in range(4)))
        assert {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1
        assert collector.collected == 1
        await get(app, "/metrics", done)  # a later scrape renders anew
        assert collector.collected == 2

    asyncio.run(main())


def test_concurrent_readiness_probes_share_one_check() -> None:
    async def main() -> None:
        app, gateway = admin()
        done: list[str] = []
        answers = await asyncio.gather(*(get(app, "/readyz", done) for _ in range(5)))
        assert [status for status, _ in answers] == [200] * 5
        assert gateway.checks == 1
        await get(app, "/readyz", done)
        assert gateway.checks == 2

    asyncio.run(main())


def test_usage_of_a_tenant_that_does_not_exist_is_404() -> None:
    """Probed as an operator would: a JSON 404 naming the tenant, no stack trace."""

    async def main() -> None:
        app, gateway = admin()
        gateway.runtime = type("Runtime", (), {"storages": {}})()  # type: ignore[attr-defined]
        status, body = await get(app, "/usage?tenant=nobody", [])
        assert (status, body) == (404, b'{"error":"no tenant \'nobody\'"}')

    asyncio.run(main())


def test_usage_gives_up_on_an_upstream_that_does_not_answer(monkeypatch: Any) -> None:
    """A tenant whose usage is read from an upstream that never answers: /usage is 503 after
    ``USAGE_SECONDS``. Before, it waited for the upstream's read timeout (300 s by default)."""
    from s3proxy import admin_app

    async def never(policy: Any, backends: Any) -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    monkeypatch.setattr(admin_app, "usage_report", never)
    monkeypatch.setattr(admin_app, "USAGE_SECONDS", 0.1)

    async def main() -> None:
        app, gateway = admin()
        storage = type("Storage", (), {"quotas": object(), "tenant": None})()
        gateway.runtime = type("Runtime", (), {"storages": {"bob": storage}})()  # type: ignore[attr-defined]
        gateway.backends = {}  # type: ignore[attr-defined]
        status, body = await asyncio.wait_for(get(app, "/usage?tenant=bob", []), 5)
        assert status == 503 and b"did not answer within 0.1 s" in body

    asyncio.run(main())
