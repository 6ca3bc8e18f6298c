"""The admin port's application: liveness, readiness, metrics and usage.

Never served on the S3 port (a bucket may be named ``healthz``); split from :mod:`s3proxy.app`,
whose :class:`~s3proxy.gateway.Gateway` it reads.

``/metrics`` is rendered in a thread, not on the event loop: prometheus_client renders ~30,000
series (1,000 tenants, ten operations, three statuses) in 1-3 s of pure Python, and on the loop
that held every S3 request of a one-process server and every ``/healthz`` (whose probe a
kubelet gives 1 s) for as long. Concurrent scrapes share one rendering, and concurrent
``/readyz`` one readiness check, so that a client repeating them costs no more CPU or upstream
requests than one (:class:`_Shared`). ``/usage`` gives up after :data:`USAGE_SECONDS` (503).
``/readyz`` names every upstream bucket's condition; whether one that fails makes the replica
unready is :mod:`s3proxy.readiness`'s decision (by default it does not while another answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from s3proxy import metrics
from s3proxy.errors import S3Error
from s3proxy.gateway import Gateway
from s3proxy.quotas import QuotaPolicy, usage_report

T = TypeVar("T")

USAGE_SECONDS = 10.0
"""``/usage`` answers 503 after this long: a tenant's usage on an S3 upstream is read from its
records there, and an upstream that does not answer held the request for its read timeout (300
s by default), and the connection with it."""


class _Shared(Generic[T]):
    """One run of ``work`` at a time: a caller that comes while it runs gets its result."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._running: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        running = self._running
        if running is None:
            running = self._running = asyncio.ensure_future(self._work())
            running.add_done_callback(self._done)
        return await asyncio.shield(running)  # one caller gone does not cancel the others'

    def _done(self, finished: asyncio.Future[T]) -> None:
        if self._running is finished:
            self._running = None
        if not finished.cancelled():
            finished.exception()  # retrieved: no "never retrieved" warning if all callers left


def create_admin_app(gateway: Gateway, registry: CollectorRegistry | None = None) -> Starlette:
    """Liveness and readiness on the admin port (never the S3 port: a bucket may be 'healthz').
    ``registry``: where /metrics reads from; the default registry of this process when None
    (with several workers, one that sums their multiprocess files)."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    check_ready = _Shared(gateway.check_ready)

    def render() -> bytes:
        return generate_latest(registry) if registry is not None else generate_latest()

    rendered = _Shared(lambda: asyncio.to_thread(render))

    async def readyz(request: Request) -> Response:
        if gateway.draining:
            return JSONResponse({"ready": False, "draining": True}, status_code=503)
        results = await check_ready()
        for target, (condition, _) in results.items():  # for the alert rules in charts/
            metrics.labelled(metrics.UPSTREAM_READY, target).set(condition == "ok")
        ready = gateway.is_ready(results)  # one upstream's outage: not this replica's own
        body: dict[str, Any] = {
            "ready": ready,
            "upstreams": {target: condition for target, (condition, _) in results.items()},
        }
        details = {target: detail for target, (_, detail) in results.items() if detail}
        if details:
            body["details"] = details
        return JSONResponse(body, status_code=200 if ready else 503)

    async def usage(request: Request) -> Response:
        """Objects and bytes per tenant (s3proxy.quotas.usage_report); ``?tenant=`` for one."""
        runtime = gateway.runtime
        wanted = request.query_params.get("tenant")
        tenants: dict[str, Any] = {}
        try:
            async with asyncio.timeout(USAGE_SECONDS):
                for name, storage in runtime.storages.items():
                    if wanted is not None and name != wanted:
                        continue
                    policy = storage.quotas or QuotaPolicy(storage.tenant)
                    tenants[name] = await usage_report(policy, gateway.backends)
        except TimeoutError:
            error = f"an upstream did not answer within {USAGE_SECONDS:g} s"
            return JSONResponse({"error": error}, status_code=503)
        except S3Error as failed:  # the upstream's records could not be read
            return JSONResponse({"error": failed.code.name}, status_code=503)
        if wanted is not None and not tenants:
            return JSONResponse({"error": f"no tenant {wanted!r}"}, status_code=404)
        return JSONResponse({"tenants": tenants})

    async def prometheus(request: Request) -> Response:
        return Response(await rendered(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            Route("/usage", usage),
        ]
    )
