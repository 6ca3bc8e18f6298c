"""A draining process's answers close their connections (wave 17, E): from the first SIGTERM
every S3 answer says ``Connection: close``, so keep-alive clients and balancers take their next
request elsewhere instead of racing the close of idle connections when the drain ends. The
multi-process path (the supervisor passing the first signal to the workers) is
tests/integration/test_w17e_drain.py."""

from __future__ import annotations

import asyncio

from s3proxy.app import S3App
from s3proxy.gateway import Gateway
from tests.support.asgi import Answer, call_app, scoped_tenant_settings

ENDPOINT = "http://127.0.0.1:9000"
UNKNOWN = ("AKUNKNOWNKEY00000001", "unknown-secret-eeeeeeeeeeeeeeeeee")


def test_answers_of_a_draining_process_close_their_connections() -> None:
    settings = scoped_tenant_settings(
        ("AKSCOPED0000000000W17E", "scoped-secret-ffffffffffffffffff"),
        [{"actions": ["read"], "buckets": ["docs"]}],
        ("AKWHOLE00000000000W17E", "whole-secret-gggggggggggggggggggg"),
    )

    async def run() -> tuple[Answer, Answer]:
        gateway = Gateway(settings)
        try:
            app = S3App(gateway)
            before = await call_app(app, "GET", f"{ENDPOINT}/docs/k", UNKNOWN)
            gateway.draining = True  # what the first SIGTERM sets
            return before, await call_app(app, "GET", f"{ENDPOINT}/docs/k", UNKNOWN)
        finally:
            await gateway.close()

    before, draining = asyncio.run(run())
    assert (
        (before.status, before.code)
        == (draining.status, draining.code)
        == (
            403,
            "InvalidAccessKeyId",
        )
    )
    assert "connection" not in before.headers
    assert draining.headers["connection"] == "close"
