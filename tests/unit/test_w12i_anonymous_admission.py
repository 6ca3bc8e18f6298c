"""Anonymous requests are admitted per bucket owner (wave 12 I), counted in process in front of
a local store, never timed.

Every anonymous request of a process shared one set of slots and one upstream connection pool,
whichever tenant's public bucket it read: readers holding one tenant's popular (or slowly read)
public object took them all, and every other tenant's public buckets answered 503 SlowDown. Each
owner's anonymous readers now have their own slots and pool, so one tenant's public traffic
never turns another's away; the owner is found first (bounded as before: the CORS look-up's
own slots), and its readers wait and are refused as before."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.backends.local import LocalStore
from s3proxy.config import Settings
from tests.support.asgi import call_app
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
OWNERS = ("ann", "cat")


def _keys(name: str) -> tuple[str, str]:
    return (f"AK{name.upper()}OWNER00000", f"{name}-secret-" + "s" * 24)


def _settings(root: Path, **limits: Any) -> Settings:
    return Settings.model_validate(
        {
            "server": {
                "secret": "s" * 32,
                "limits": {"max_concurrent_requests": 1, "max_wait": 0, **limits},
            },
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": _keys(name)[0], "secret_key": _keys(name)[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                }
                for name in OWNERS
            },
        }
    )


def _scope(path: str, query: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:9000")],
    }


def _own_task(request: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A request in a task of its own with a fresh context, as a server runs each one: the
    context variables a request sets (its tenant, its expensive-operation gate) never reach
    the next request, as they would if the test awaited them all in one task."""
    return asyncio.create_task(request, context=contextvars.Context())


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _unsigned_get(app: S3App, path: str, query: str = "") -> int:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await _own_task(app(_scope(path, query), _receive, send))
    return int(sent[0]["status"])


async def _public_buckets(app: S3App) -> None:
    for owner in OWNERS:
        keys = _keys(owner)
        bucket = f"{owner}-public"
        created = await _own_task(
            call_app(app, "PUT", f"{ENDPOINT}/{bucket}", keys, headers={"x-amz-acl": "public-read"})
        )
        assert created.status == 200
        put = await _own_task(
            call_app(app, "PUT", object_url(ENDPOINT, bucket, "k"), keys, b"data")
        )
        assert put.status == 200


def test_one_owners_anonymous_readers_never_take_anothers_slots(tmp_path: Path) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        try:
            await _public_buckets(app)
            started, release = asyncio.Event(), asyncio.Event()

            async def slow_reader(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    assert message["status"] == 200
                    started.set()
                else:  # the body: a reader that takes its time
                    await release.wait()

            holding = _own_task(app(_scope("/ann-public/k"), _receive, slow_reader))
            await asyncio.wait_for(started.wait(), 10)
            try:
                assert await _unsigned_get(app, "/cat-public/k") == 200  # was 503 SlowDown
                assert await _unsigned_get(app, "/ann-public/k") == 503  # ann's one slot: taken
            finally:
                release.set()
                await asyncio.wait_for(holding, 10)
            assert await _unsigned_get(app, "/ann-public/k") == 200
        finally:
            await gateway.close()

    asyncio.run(main())


def test_anonymous_listings_take_their_owners_expensive_slots(tmp_path: Path) -> None:
    """An anonymous listing merges every shard's listing like a signed one, but took no
    expensive-operation slot: a tenant's listings run max_concurrent_expensive at a time, an
    anonymous flood of its public bucket's listings as many as the request slots allowed."""

    async def main() -> None:
        gateway = Gateway(
            _settings(tmp_path, max_concurrent_requests=8, max_concurrent_expensive=1)
        )
        app = S3App(gateway)
        store = gateway.backends["store"]
        assert isinstance(store, LocalStore)
        try:
            await _public_buckets(app)
            listing, release = asyncio.Event(), asyncio.Event()
            list_objects = store.list_objects

            async def held(bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
                if prefix.startswith("ann/ann-public/") and not listing.is_set():
                    listing.set()
                    await release.wait()  # the first merge of ann's bucket, in progress
                return await list_objects(bucket, prefix, *args, **kwargs)

            store.list_objects = held  # type: ignore[method-assign]
            first = _own_task(_unsigned_get(app, "/ann-public", "list-type=2"))
            await asyncio.wait_for(listing.wait(), 10)
            try:
                assert await _unsigned_get(app, "/ann-public", "list-type=2") == 503  # was 200
                assert await _unsigned_get(app, "/ann-public/k") == 200  # not expensive
                assert await _unsigned_get(app, "/cat-public", "list-type=2") == 200
            finally:
                release.set()
            assert await asyncio.wait_for(first, 10) == 200
        finally:
            await gateway.close()

    asyncio.run(main())
