"""Rate limits through the ASGI app (issue 15 item 3), in-process in front of a local store.

A refused request must read no body byte (the receive records its calls) and must not reach the
store; the other tenant must be served meanwhile. Byte limits charge request bodies as they
arrive and response bodies as they are sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import Answer, call_app
from tests.support.s3http import object_url

LIMITED = ("AKLIMITEDTENANT", "limited-secret-aaaaaaaaaaaaaa")
FREE = ("AKFREETENANT000", "free-secret-bbbbbbbbbbbbbbbbbb")
ENDPOINT = "http://127.0.0.1:9000"


def settings(root: Path, limited: dict[str, float]) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                "limited": {
                    "keys": [{"access_key": LIMITED[0], "secret_key": LIMITED[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                    "limits": limited,
                },
                "free": {
                    "keys": [{"access_key": FREE[0], "secret_key": FREE[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                },
            },
        }
    )


async def call(
    app: S3App, method: str, keys: tuple[str, str], key: str | None = None, body: bytes = b""
) -> Answer:
    url = object_url(ENDPOINT, "docs", key) if key is not None else object_url(ENDPOINT, "docs")
    return await call_app(app, method, url, keys, body)


def run(root: Path, limits: dict[str, float], scenario: Any) -> None:
    async def main() -> None:
        gateway = Gateway(settings(root, limits))
        try:
            app = S3App(gateway)
            for keys in (LIMITED, FREE):
                assert (await call(app, "PUT", keys)).status == 200  # CreateBucket
            await scenario(gateway, app)
        finally:
            await gateway.close()

    asyncio.run(main())


def limited_count(tenant: str, limit: str) -> float:
    labels = {"tenant": tenant, "limit": limit, "answer": "SlowDown"}
    return REGISTRY.get_sample_value("s3proxy_limited_requests_total", labels) or 0.0


def test_over_its_request_rate_a_tenant_gets_slowdown_and_nothing_is_read(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, app: S3App) -> None:
        # CreateBucket took the one token of the burst; the next token comes in 10 s.
        counted = limited_count("limited", "requests_per_second")
        refused = await call(app, "PUT", LIMITED, "a", b"x" * 4096)
        assert (refused.status, refused.code) == (503, "SlowDown")
        assert refused.headers["retry-after"] == "10"
        assert refused.receives == 0  # not one body byte read, so none could go upstream
        assert refused.headers["connection"] == "close"
        assert limited_count("limited", "requests_per_second") == counted + 1
        # The other tenant is served meanwhile, and the refused object was never stored.
        assert (await call(app, "PUT", FREE, "b", b"y" * 4096)).status == 200
        assert (await call(app, "GET", FREE, "b")).body == b"y" * 4096
        gateway.reload(settings(tmp_path, {}))  # limit lifted: the object is not there
        assert (await call(app, "HEAD", LIMITED, "a")).status == 404

    run(tmp_path, {"requests_per_second": 0.1}, scenario)


def test_request_bytes_are_charged_and_a_tenant_in_debt_is_refused(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, app: S3App) -> None:
        stored = await call(app, "PUT", LIMITED, "big", b"z" * 15_000)
        assert stored.status == 200  # a transfer in progress is never cut
        refused = await call(app, "GET", LIMITED, "big")  # a debt past 10 x max_wait
        assert (refused.status, refused.code) == (503, "SlowDown")
        assert refused.headers["retry-after"] in ("14", "15")  # 15,000 B over a 1000 B/s burst
        assert limited_count("limited", "bytes_per_second") >= 1
        assert (await call(app, "GET", FREE)).status == 200  # ListObjects: free is not in debt

    run(tmp_path, {"bytes_per_second": 1000}, scenario)


def test_response_bytes_are_charged(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, app: S3App) -> None:
        assert (await call(app, "PUT", LIMITED, "big", b"z" * 40_000)).status == 200
        # Now limit the tenant (a new rate starts with a full bucket) and read the object back.
        gateway.reload(settings(tmp_path, {"bytes_per_second": 2000}))
        read = await call(app, "GET", LIMITED, "big")
        assert read.status == 200 and read.body == b"z" * 40_000  # sent whole, then charged
        refused = await call(app, "HEAD", LIMITED, "big")
        assert refused.status == 503
        assert refused.headers["retry-after"] in ("19", "20")  # 38,000 bytes of debt at 2000/s

    run(tmp_path, {}, scenario)


def test_a_tenant_limit_of_zero_overrides_the_server_default(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, app: S3App) -> None:
        assert set(gateway.admission.rates) == {"free"}
        for _ in range(5):
            assert (await call(app, "GET", LIMITED)).status == 200
        assert (await call(app, "GET", FREE)).status == 503  # CreateBucket took its token

    def with_default(root: Path, limited: dict[str, float]) -> Settings:
        base = settings(root, limited)
        server = base.server.model_copy(
            update={"limits": base.server.limits.model_copy(update={"requests_per_second": 0.1})}
        )
        return base.model_copy(update={"server": server})

    async def main() -> None:
        gateway = Gateway(with_default(tmp_path, {"requests_per_second": 0}))
        try:
            app = S3App(gateway)
            for keys in (LIMITED, FREE):
                assert (await call(app, "PUT", keys)).status == 200
            await scenario(gateway, app)
        finally:
            await gateway.close()

    asyncio.run(main())
