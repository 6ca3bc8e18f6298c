"""The uvicorn engine's server loop ticks once a second (``TICK_SECONDS``), not ten times as
uvicorn's does, so an idle worker stays asleep; a stop must still end a tick at once rather
than wait for it (a SIGTERM, a reload, the end of every test's proxy)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from s3proxy import uvicorn_engine
from s3proxy.config.loading import quick_start_settings

ENV = {"S3PROXY_ACCESS_KEY": "AKTICKTEST000000", "S3PROXY_SECRET_KEY": "t" * 40}


async def trivial_app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request is made")


def test_a_stop_ends_the_server_loop_without_waiting_for_its_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uvicorn_engine, "TICK_SECONDS", 3600.0)  # a tick that never ends
    monkeypatch.setattr(uvicorn_engine, "tune_collector", lambda: None)
    settings = quick_start_settings("http://127.0.0.1:9", "data", ENV, host="127.0.0.1")
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"port": 0})}
    )
    finished = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        serving = asyncio.ensure_future(
            uvicorn_engine.serve(trivial_app, settings, None, None, stop)
        )
        for _ in range(200):  # until the loop is inside its (hour-long) tick
            await asyncio.sleep(0)
        assert not serving.done()
        stop.set()
        await serving
        finished.set()

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(timeout=30)  # generous: a stop that waited for the tick would take an hour
    assert finished.is_set()
