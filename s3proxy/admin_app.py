"""The admin port's application: liveness, readiness, metrics and usage.

Never served on the S3 port (a bucket may be named ``healthz``); split from :mod:`s3proxy.app`,
whose :class:`~s3proxy.app.Gateway` it reads.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from s3proxy import metrics
from s3proxy.app import Gateway
from s3proxy.quotas import QuotaPolicy, usage_report


def create_admin_app(gateway: Gateway, registry: CollectorRegistry | None = None) -> Starlette:
    """Liveness and readiness on the admin port (never the S3 port: a bucket may be 'healthz').
    ``registry``: where /metrics reads from; the default registry of this process when None
    (with several workers, one that sums their multiprocess files)."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if gateway.draining:
            return JSONResponse({"ready": False, "draining": True}, status_code=503)
        results = await gateway.check_ready()
        for target, (condition, _) in results.items():  # for the alert rules in charts/
            metrics.labelled(metrics.UPSTREAM_READY, target).set(condition == "ok")
        ready = all(condition == "ok" for condition, _ in results.values())
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
        for name, storage in runtime.storages.items():
            if wanted is not None and name != wanted:
                continue
            policy = storage.quotas or QuotaPolicy(storage.tenant)
            tenants[name] = await usage_report(policy, gateway.backends)
        if wanted is not None and not tenants:
            return JSONResponse({"error": f"no tenant {wanted!r}"}, status_code=404)
        return JSONResponse({"tenants": tenants})

    async def prometheus(request: Request) -> Response:
        body = generate_latest(registry) if registry is not None else generate_latest()
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            Route("/usage", usage),
        ]
    )
