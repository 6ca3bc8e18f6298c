"""The proxy's own CPU per small request, in process: no sockets, no server, no upstream.

Why: end-to-end figures on a shared 2-core box mix the proxy's code with the HTTP server, the
upstream client, the kernel and the neighbours' load; the proxy's own request path (parse,
route, authenticate, header policy, handler, layout, response, metrics, access log) is ~1/6 of
a small request and drowns in that noise. Here the S3 ASGI app (``s3proxy.app.S3App``) is
called directly with 1 KiB GET, PUT and HEAD requests signed as ``benchmarks.loadgen`` signs
them (header SigV4 with UNSIGNED-PAYLOAD, or presigned URLs), against an in-memory backend that
answers at once (a benchmark stub, never a test double: it keeps objects in a dict). The
access log is on and written to /dev/null through the production handler, metrics are on.

It reports the process CPU (``time.process_time``) per request, kind by kind, with rounds of
each kind alternating; ``--profile`` adds cProfile's top functions for one kind. ``--a-tree``
and ``--b-tree`` compare two checkouts: each round runs once under A and once under B, in two
child processes that import s3proxy from their tree, alternating. Usage:

    python -m benchmarks.request_path [--requests 2000] [--rounds 5] [--profile get]
    python -m benchmarks.request_path --a-tree /tmp/base --b-tree . [--rounds 8]

``--backend s3`` keeps the real S3 backend and answers its upstream requests in process
(:mod:`benchmarks.scripted_upstream`): the S3 backend's own CPU per request is then counted
too (signing, the headers it stores and reads back), no socket or HTTP parsing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_TREE = os.environ.get("REQUEST_PATH_TREE")
sys.path.insert(0, str(REPO))  # this checkout's benchmarks, whatever tree is measured

from benchmarks import loadgen, scripted_upstream  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402

if _TREE:  # the checkout whose s3proxy is measured (imported only from here on)
    sys.path.insert(0, _TREE)

AK, SK = "AKREQUESTPATH0000001", "request-path-bench-secret-0123"
BUCKET = "bench"
HOST = "127.0.0.1:9000"
KINDS = ("get", "put", "head", "get-presigned", "put-presigned")
PAYLOAD = b"s" * 1024


class MemoryBackend:
    """Objects in a dict, answered at once: only what a small GET, PUT and HEAD (and the
    bucket's marker and settings records) need. Anything else is the benchmark's mistake."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, Any]] = {}

    def _info(self, bucket: str, key: str) -> Any:
        from s3proxy.errors import S3Error, S3ErrorCode

        found = self.objects.get((bucket, key))
        if found is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        return found

    async def put_object(self, request: Any) -> Any:
        from s3proxy.model import ObjectInfo, PutObjectOutput

        body = b"".join([chunk async for chunk in request.body])
        etag = '"0123456789abcdef0123456789abcdef"'
        info = ObjectInfo(
            size=len(body),
            etag=etag,
            last_modified="Thu, 03 Dec 2026 12:00:00 GMT",
            attributes=request.attributes,
        )
        self.objects[(request.bucket, request.key)] = (body, info)
        return PutObjectOutput(etag=etag)

    async def get_object(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        from s3proxy.model import GetObjectOutput

        body, info = self._info(bucket, key)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        async def aclose() -> None:
            return None

        return GetObjectOutput(
            info=info, body=chunks(), content_range=None, content_length=len(body), aclose=aclose
        )

    async def head_object(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        return self._info(bucket, key)[1]

    async def delete_object(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    async def list_objects(self, bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
        from s3proxy.model import ListPage

        return ListPage(entries=[], prefixes=[], next_token=None)

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        return False

    async def check_ready(self, bucket: str) -> None:
        return None

    async def close(self) -> None:
        return None


def _settings() -> Any:
    from s3proxy.config import Settings

    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {
                "u": {"endpoint": "http://127.0.0.1:9", "access_key": "up", "secret_key": "up-sk"}
            },
            "tenants": {
                "t": {
                    "keys": [{"access_key": AK, "secret_key": SK}],
                    "home": {"upstream": "u", "bucket": "home"},
                }
            },
        }
    )


def _scope(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The ASGI scope uvicorn would build from a request's bytes, and its body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *header_lines = head.split(b"\r\n")
    method, target, _ = line.split(b" ")
    path, _, query = target.partition(b"?")
    headers = []
    for header in header_lines:
        name, _, value = header.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 9000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method.decode(),
        "root_path": "",
        "path": path.decode(),
        "raw_path": path,
        "query_string": query,
        "headers": headers,
    }
    return scope, body


def _requests(kind: str, count: int) -> list[tuple[dict[str, Any], bytes]]:
    target = Target("proxy", f"http://{HOST}", AK, SK, BUCKET)
    method = kind.split("-")[0].upper()
    keys = [f"small/{i % 200:06d}" for i in range(count)]
    payload = PAYLOAD if method == "PUT" else b""
    raw = loadgen.small_requests(target, method, keys, payload, presigned="presigned" in kind)
    return [_scope(request) for request in raw]


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


class Bench:
    """One gateway over a MemoryBackend (``backend`` "memory") or over the real S3 backend
    answered by :mod:`benchmarks.scripted_upstream` ("s3"), with the bucket made and the keys
    written."""

    def __init__(self, backend: str = "memory") -> None:
        import logging

        from s3proxy.app import Gateway, S3App
        from s3proxy.logs import configure_logging

        settings = _settings()
        configure_logging(settings)
        handler = logging.getLogger().handlers[0]
        handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
        self.gateway = Gateway(settings)
        self._replaced: Any = None
        if backend == "s3":
            scripted_upstream.install(self.gateway.backends["u"], ("home",))
        else:
            self._replaced = self.gateway.backends["u"]
            stub: Any = MemoryBackend()
            self.gateway.backends["u"] = stub  # the storages hold this very dict
        self.app = S3App(self.gateway)

    async def setup(self) -> None:
        if self._replaced is not None:
            await self._replaced.close()
        target = Target("proxy", f"http://{HOST}", AK, SK, BUCKET)
        head, _ = loadgen.request_bytes(target, "PUT", None)
        scope, body = _scope(head)
        assert await _call(self.app, scope, body) == 200, "CreateBucket"
        for scope, body in _requests("put", 200):
            assert await _call(self.app, scope, body) == 200, "PutObject"

    async def run(self, kind: str, requests: list[tuple[dict[str, Any], bytes]]) -> float:
        """µs of process CPU per request over ``requests``."""
        wanted = 200
        started = time.process_time()
        for scope, body in requests:
            status = await _call(self.app, scope, body)
            if status != wanted:
                raise SystemExit(f"{kind}: status {status}")
        return (time.process_time() - started) / len(requests) * 1e6


async def _measure(
    kinds: list[str], count: int, rounds: int, profile: str | None, backend: str = "memory"
) -> dict[str, list[float]]:
    bench = Bench(backend)
    await bench.setup()
    prepared = {kind: _requests(kind, count) for kind in kinds}
    for kind in kinds:  # warm-up: caches, first-use imports
        await bench.run(kind, prepared[kind][: count // 4 or 1])
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            results[kind].append(await bench.run(kind, prepared[kind]))
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
        await bench.run(profile, prepared[profile])
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
    return results


def _child(tree: Path, kinds: list[str], count: int, backend: str) -> dict[str, float]:
    """One round under ``tree``, in a fresh process (its own imports and caches)."""
    env = {**os.environ, "REQUEST_PATH_TREE": str(tree.resolve())}
    command = [sys.executable, str(Path(__file__).resolve()), "--json", "--rounds", "1"]
    command += ["--requests", str(count), "--kinds", ",".join(kinds), "--backend", backend]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return {kind: values[0] for kind, values in json.loads(out).items()}


def _ab(
    a_tree: Path, b_tree: Path, kinds: list[str], count: int, rounds: int, backend: str
) -> None:
    pairs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for index in range(rounds):
        order = [("A", a_tree), ("B", b_tree)] if index % 2 == 0 else [("B", b_tree), ("A", a_tree)]
        got = {name: _child(tree, kinds, count, backend) for name, tree in order}
        for kind in kinds:
            pairs[kind].append((got["A"][kind], got["B"][kind]))
        print(
            f"round {index + 1}: "
            + "  ".join(f"{kind} {got['A'][kind]:.0f}/{got['B'][kind]:.0f}" for kind in kinds),
            flush=True,
        )
    print(f"A: {a_tree}\nB: {b_tree}\nload average: {os.getloadavg()}")
    print(f"{'kind':<15}{'A µs':>9}{'B µs':>9}{'B/A':>7}  B lower")
    for kind in kinds:
        a = statistics.median(p[0] for p in pairs[kind])
        b = statistics.median(p[1] for p in pairs[kind])
        lower = sum(1 for pa, pb in pairs[kind] if pb < pa)
        print(f"{kind:<15}{a:9.1f}{b:9.1f}{b / a:7.2f}  {lower}/{len(pairs[kind])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"any of {', '.join(KINDS)}")
    parser.add_argument("--profile", choices=KINDS, help="cProfile one more round of this kind")
    parser.add_argument("--a-tree", type=Path)
    parser.add_argument("--b-tree", type=Path)
    parser.add_argument(
        "--backend",
        choices=("memory", "s3"),
        default="memory",
        help="memory: a dict behind the Backend interface; s3: the S3 backend, its pool scripted",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if args.a_tree or args.b_tree:
        a_tree, b_tree = args.a_tree or REPO, args.b_tree or REPO
        _ab(a_tree, b_tree, kinds, args.requests, args.rounds, args.backend)
        return 0
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - the engine's loop when the platform has it
        runner = asyncio.run
    results = runner(_measure(kinds, args.requests, args.rounds, args.profile, args.backend))
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"s3proxy from {_TREE or REPO}; load average {os.getloadavg()}")
    for kind, values in results.items():
        print(
            f"{kind:<15} {statistics.median(values):8.1f} µs CPU/request "
            f"(min {min(values):.1f}, {len(values)} rounds × {args.requests})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
