"""A measured prototype, not a feature: the S3 port served by uvicorn + httptools (a C HTTP/1.1
parser) instead of Hypercorn + h11, to see what the server layer costs per small request.

Writes a copy of this checkout's ``s3proxy`` package to DIR in which ``serve_role`` hands the S3
app to ``uvicorn.Server`` (httptools, the running loop — uvloop by default —, no access log of
its own, the same keep-alive) and the admin port stays on Hypercorn. Nothing else changes, so
``benchmarks.variants --a-tree . --b-tree DIR`` compares the two HTTP servers under one proxy.
Only the happy path is meant to work: Hypercorn's patches (S3 errors below the S3 layer, 499 on
a disconnect, the early 503 of a dead upstream) do not apply, and SIGTERM stops it without a
drain. Needs ``pip install uvicorn httptools`` (not a dependency). Usage:

    python -m benchmarks.engine_prototype /tmp/s3proxy-uvicorn
    python -m benchmarks.variants --a workers=1 --b workers=1 --b-tree /tmp/s3proxy-uvicorn
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HYPERCORN_S3 = "servers.append(serve(s3_app, s3_config, shutdown_trigger=stop.wait))"
UVICORN_S3 = "servers.append(_uvicorn_engine.serve(s3_app, settings, role.s3_fd, stop))"

ENGINE = '''"""Prototype (benchmarks/engine_prototype.py): the S3 port on uvicorn + httptools."""

import asyncio
from typing import Any

import uvicorn


async def serve(app: Any, settings: Any, fd: int | None, stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        fd=fd,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_keep_alive=int(settings.server.keep_alive_timeout),
    )
    server = uvicorn.Server(config)

    async def stop_when_asked() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.ensure_future(stop_when_asked())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        stop.set()  # uvicorn took SIGTERM itself: stop the admin port too
'''


def write_tree(destination: Path) -> None:
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(REPO / "s3proxy", destination / "s3proxy")
    server = destination / "s3proxy" / "server.py"
    text = server.read_text()
    if text.count(HYPERCORN_S3) != 1:
        raise SystemExit("s3proxy/server.py changed: the prototype cannot swap the S3 server")
    text = text.replace(HYPERCORN_S3, UVICORN_S3).replace(
        "from s3proxy import ", "from s3proxy import _uvicorn_engine\nfrom s3proxy import ", 1
    )
    server.write_text(text)
    (destination / "s3proxy" / "_uvicorn_engine.py").write_text(ENGINE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path)
    write_tree(parser.parse_args().destination)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
