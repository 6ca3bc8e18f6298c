"""One tenant's ListMultipartUploads on SeaweedFS, another tenant's GET latency (wave 17 F).

SeaweedFS reads every upload of its bucket for each ListMultipartUploads, whatever the prefix
(s3proxy.backends.upload_scans). Two one-worker proxies, a baseline tree (A) and a candidate
tree (B), each with tenants a and b, in front of one SeaweedFS whose bucket holds the homes of
both. Tenant a's bucket ``big`` holds ``--uploads`` uploads and its bucket ``small``
``--small`` uploads (both proxies list the same buckets). For each proxy, interleaved over
``--pairs`` rounds (the order alternating): tenant b's 1 KiB GET latency (p50/p99, 4
connections, ``--seconds``) with a idle, then while a runs ``--concurrency`` ListMultipartUploads
pages of ``--listed`` (big or small) back to back in another process.

Also: upstream requests and proxy CPU per page of a's, measured alone first, a's pages done
while b was measured, and a's answers (503 SlowDown past its expensive slots). No assertion:
figures for BENCHMARKS.md "Wave 17 F". Usage:

    python -m benchmarks.upload_listings --a-tree /tmp/w17-base --b-tree . \\
        [--uploads 3000] [--small 10] [--listed big|small] [--concurrency 16] [--pairs 3]
        [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.ab_pairs import count_answers, latency_figures, loaded_by, rounds_in_turns, summary
from benchmarks.fairness import KEYS, OBJECTS, SMALL, _latencies, settings_for
from benchmarks.harness import (
    create_upstream_bucket,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.listing import upstream_requests
from benchmarks.loadgen import Target, blocking_request, request_bytes


async def _create_uploads(a: Target, count: int) -> None:
    """``count`` uploads of distinct keys in ``a.bucket``, 16 connections."""
    host, port = a.host_port
    todo = list(range(count))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while todo:
            number = todo.pop()
            key = f"dir{number % 50:02d}/key-{number:06d}"
            head, _ = request_bytes(a, "POST", key, [("uploads", "")])
            writer.write(head)
            answer = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", answer)
            if length is not None and int(length.group(1)):
                await reader.readexactly(int(length.group(1)))
            if answer[9:12] != b"200":
                raise RuntimeError(f"CreateMultipartUpload: {answer[:200]!r}")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(16)))


def _page(a: Target) -> str:
    status, _, text, _ = blocking_request(a, "GET", None, [("uploads", "")])
    code = re.search(rb"<Code>([^<]+)</Code>", text)
    return f"{status} {code.group(1).decode() if code else ''}".strip()


def _load(a: Target, concurrency: int, stop: Any, out: Any) -> None:
    """Tenant a's listing pages, ``concurrency`` at once until ``stop``; answers to ``out``."""
    out.put(count_answers(lambda: _page(a), concurrency, stop))


@contextlib.contextmanager
def _proxy(tree: str, work: Path, server: Any) -> Iterator[tuple[dict[str, Target], int, str]]:
    from tests.support.processes import ProxyProcess, free_port, write_config

    port, admin_port = free_port(), free_port()
    settings = settings_for(server, port, admin_port, {"workers": 1})
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=Path(tree)
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        targets = {}
        for name, bucket in (("a", "big"), ("a", "small"), ("b", "objects")):
            key, secret = KEYS[name]
            targets[bucket] = Target(name, endpoint, key, secret, f"w17f-{bucket}")
        yield targets, process.pid, f"http://127.0.0.1:{admin_port}"
    finally:
        process.stop()


def _fill(targets: dict[str, Target], uploads: int, small: int) -> None:
    for bucket, target in targets.items():
        client = s3_client(target.endpoint, target.access_key, target.secret_key)
        client.create_bucket(Bucket=target.bucket)
        if bucket == "objects":
            for n in range(OBJECTS):
                client.put_object(Bucket=target.bucket, Key=f"obj-{n}", Body=SMALL)
        else:
            asyncio.run(_create_uploads(target, uploads if bucket == "big" else small))


def _costs(a: Target, pid: int, admin: str, repeats: int = 4) -> dict[str, float]:
    requests, cpu, started = upstream_requests(admin), server_cpu_seconds(pid), time.perf_counter()
    for _ in range(repeats):
        assert _page(a) == "200"
    return {
        "upstream_requests_per_page": (upstream_requests(admin) - requests) / repeats,
        "cpu_ms_per_page": round(1000 * (server_cpu_seconds(pid) - cpu) / repeats, 1),
        "wall_ms_per_page": round(1000 * (time.perf_counter() - started) / repeats, 1),
    }


def _round(
    targets: dict[str, Target], pid: int, admin: str, args: argparse.Namespace
) -> dict[str, Any]:
    a, b = targets[args.listed], targets["objects"]
    costs = _costs(a, pid, admin)
    idle, _ = asyncio.run(_latencies(b, 4, args.seconds))
    with loaded_by(_load, a, args.concurrency) as answers:
        loaded, failures = asyncio.run(_latencies(b, 4, args.seconds))
    return {**costs, **latency_figures(idle, loaded, failures, answers)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"A": args.a_tree, "B": args.b_tree}
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-upload-listings-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        server = stack.enter_context(upstream("seaweedfs", Path(tmp) / "up"))
        create_upstream_bucket(server)
        proxies = {}
        for name, tree in trees.items():
            work = Path(tmp) / f"listings{name.lower()}"
            work.mkdir()
            proxies[name] = stack.enter_context(_proxy(tree, work, server))
        _fill(proxies["A"][0], args.uploads, args.small)  # both proxies list the same buckets
        rounds = rounds_in_turns(args.pairs, lambda name: _round(*proxies[name], args))
    figures = (
        "upstream_requests_per_page",
        "cpu_ms_per_page",
        "wall_ms_per_page",
        "idle_p50_ms",
        "idle_p99_ms",
        "loaded_p50_ms",
        "loaded_p99_ms",
    )
    return summary(rounds, figures, ("loaded_p50_ms", "loaded_p99_ms"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", required=True)
    parser.add_argument("--b-tree", required=True)
    parser.add_argument("--uploads", type=int, default=3000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--listed", default="big", choices=("big", "small"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
