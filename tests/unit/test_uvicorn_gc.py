"""The uvicorn engine keeps the garbage collector off the request path
(``s3proxy.collector.tune_collector``, called by ``s3proxy.uvicorn_engine.serve``): the
objects of a worker's start-up are out of its full walks, and young collections are rare. CPU
every small request paid a share of, and a stall of the whole worker at each full collection
(issue 18)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from s3proxy import collector, uvicorn_engine
from s3proxy.config.loading import quick_start_settings

ENV = {"S3PROXY_ACCESS_KEY": "AKFREEZETEST0000", "S3PROXY_SECRET_KEY": "f" * 40}


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """This test process's collector goes back to how it was afterwards."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def tracked(thing: object) -> bool:
    """Whether a collection walks ``thing`` (frozen objects are in no generation)."""
    return any(candidate is thing for candidate in gc.get_objects())


async def trivial_app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request is made")


def test_serving_takes_start_up_objects_and_young_collections_off_the_request_path(
    collector_restored: None,
) -> None:
    settings = quick_start_settings("http://127.0.0.1:9", "data", ENV, host="127.0.0.1")
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"port": 0})}
    )
    start_up_object: list[object] = [settings]  # a container: tracked by the collector
    assert tracked(start_up_object)
    gen1, gen2 = gc.get_threshold()[1:]

    async def main() -> None:
        stop = asyncio.Event()
        stop.set()  # uvicorn starts, sees the stop, drains nothing and returns
        await uvicorn_engine.serve(trivial_app, settings, None, None, stop)

    asyncio.run(main())
    assert not tracked(start_up_object)
    made_after: list[object] = []
    assert tracked(made_after)  # what requests create is still collected
    assert gc.get_threshold() == (collector.YOUNG_COLLECTION_THRESHOLD, gen1, gen2)
