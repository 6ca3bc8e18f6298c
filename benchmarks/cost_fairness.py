"""Fairness by cost (wave 9): what one request makes the proxy do, and whether it hurts others.

Two proxies, a baseline tree and a candidate tree, run in turn against one SeaweedFS (or Ceph
RGW) holding the same data: tenant A's bucket ``fold`` with ``--prefixes`` common prefixes of
``--per-prefix`` keys each (16 shards, ``flat``), tenant B's bucket with 1 KiB objects. For each
proxy, interleaved over ``--pairs`` rounds:

- the cost of single requests: upstream requests (the proxy's metrics) and proxy CPU (psutil)
  for a ListObjectsV2 page with delimiter ``/`` over ``fold`` (the fold), a prefix matching
  nothing, a plain 1,000-key page, and a DeleteObjects of 1,000 keys;
- B's 1 KiB GET latency (p50/p99, ``--b-concurrency`` connections) while A, in another process,
  runs ``--a-concurrency`` folding listings back to back, and with A idle; A's folds done and
  refused (503 SlowDown, once over its ``max_concurrent_expensive``);
- A alone listing directories as rclone does (``--list-concurrency`` at once, each a
  ``prefix=dNNNN/`` page with delimiter ``/``): pages done and refused in ``--seconds``
  (wave 10 A: whether the expensive-operation limit slows a tenant's ordinary parallel listing).

``--expensive N`` sets ``server.limits.max_concurrent_expensive`` on the candidate only (the
baseline may not know it); ``--workers`` the workers of both (the limit is per worker).

No assertion: figures for BENCHMARKS.md "Fairness by cost" (waves 9 and 10). Usage:

    python -m benchmarks.cost_fairness --a-tree /tmp/base --b-tree . [--pairs 3]
        [--prefixes 100] [--per-prefix 400] [--seconds 8] [--upstream seaweedfs|ceph]
        [--workers 1] [--expensive 4] [--skip-costs] [--list-concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import loadgen
from benchmarks.fairness import KEYS, OBJECTS, SMALL, _latencies, _ms, settings_for
from benchmarks.harness import (
    create_upstream_bucket,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.listing import upstream_requests
from benchmarks.loadgen import Target, blocking_request
from tests.support.processes import ProxyProcess, free_port, write_config


def _fold_keys(prefixes: int, per_prefix: int) -> list[str]:
    return [f"d{p:04d}/{k:05d}" for p in range(prefixes) for k in range(per_prefix)]


def _costs(a: Target, pid: int, admin: str, repeats: int) -> dict[str, dict[str, float]]:
    client = s3_client(a.endpoint, a.access_key, a.secret_key)
    gone = {"Objects": [{"Key": f"gone/{n}"} for n in range(1000)], "Quiet": True}

    def listing(*query: tuple[str, str]) -> Any:
        def call() -> None:
            status, _, _, _ = blocking_request(a, "GET", None, [("list-type", "2"), *query])
            assert status == 200, (query, status)

        return call

    calls = {
        "list_fold": listing(("delimiter", "/")),
        "list_nomatch": listing(("prefix", "none/")),
        "list_plain": listing(),
        "delete_1000": lambda: client.delete_objects(Bucket=a.bucket, Delete=gone),
    }
    out: dict[str, dict[str, float]] = {}
    for name, call in calls.items():
        sent, cpu = upstream_requests(admin), server_cpu_seconds(pid)
        for _ in range(repeats):
            call()
        out[name] = {
            "upstream_requests": (upstream_requests(admin) - sent) / repeats,
            "cpu_ms": round(1000 * (server_cpu_seconds(pid) - cpu) / repeats, 2),
        }
    return out


async def _fold_loop(a: Target, connections: int, stop: Any) -> tuple[int, int]:
    """Folding listings back to back on ``connections``: (done, refused with 503)."""
    done = refused = 0

    def one() -> int:
        query = [("delimiter", "/"), ("list-type", "2")]
        return blocking_request(a, "GET", None, query, sink=True)[0]

    async def worker() -> None:
        nonlocal done, refused
        while not stop.is_set():
            status = await asyncio.to_thread(one)
            if status == 503:
                refused += 1
            else:
                done += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, refused


async def _directory_listings(
    a: Target, connections: int, prefixes: int, seconds: float
) -> tuple[int, int, list[float]]:
    """rclone's directory walk: ``connections`` one-directory pages at once for ``seconds``:
    (pages done, refused with 503, each page's latency)."""
    end = time.monotonic() + seconds
    done = refused = 0
    latencies: list[float] = []
    counter = iter(range(10**9))

    def one(number: int) -> int:
        query = [("delimiter", "/"), ("list-type", "2"), ("prefix", f"d{number % prefixes:04d}/")]
        return blocking_request(a, "GET", None, query, sink=True)[0]

    async def worker() -> None:
        nonlocal done, refused
        while time.monotonic() < end:
            started = time.perf_counter()
            status = await asyncio.to_thread(one, next(counter))
            if status == 503:
                refused += 1
            else:
                assert status == 200, status
                done += 1
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, refused, latencies


def _attacker(a: Target, connections: int, ready: Any, stop: Any, out: Any) -> None:
    ready.set()
    out.send(asyncio.run(_fold_loop(a, connections, stop)))


def _fairness(a: Target, b: Target, args: argparse.Namespace) -> dict[str, Any]:
    idle, _ = asyncio.run(_latencies(b, args.b_concurrency, args.seconds))
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    attacker = context.Process(target=_attacker, args=(a, args.a_concurrency, ready, stop, sending))
    attacker.start()
    try:
        ready.wait(60)
        time.sleep(0.5)
        loaded, failures = asyncio.run(_latencies(b, args.b_concurrency, args.seconds))
        stop.set()
        a_done, a_refused = receiving.recv()
    finally:
        stop.set()
        attacker.join(120)
    listed, listed_refused, page_latencies = asyncio.run(
        _directory_listings(a, args.list_concurrency, args.prefixes, args.seconds)
    )
    return {
        "b_idle_p50_ms": round(1000 * statistics.median(idle), 2),
        "b_idle_p99_ms": _ms(idle, 0.99),
        "b_loaded_p50_ms": round(1000 * statistics.median(loaded), 2),
        "b_loaded_p99_ms": _ms(loaded, 0.99),
        "b_failures": failures,
        "a_listings": a_done,
        "a_refused": a_refused,
        "dir_pages": listed,
        "dir_refused": listed_refused,
        "dir_p50_ms": round(1000 * statistics.median(page_latencies), 2) if page_latencies else 0,
        "dir_p99_ms": _ms(page_latencies, 0.99) if page_latencies else 0,
    }


def _round(
    server: Any, tree: Path, work: Path, args: argparse.Namespace, fill: bool, candidate: bool
) -> Any:
    port, admin_port = free_port(), free_port()
    options: dict[str, Any] = {"workers": args.workers}
    if candidate and args.expensive is not None:
        options["limits"] = {"max_concurrent_expensive": args.expensive}
    config = write_config(work / "s3proxy.yaml", settings_for(server, port, admin_port, options))
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=tree
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        a = Target("a", endpoint, *KEYS["a"], "fold")
        b = Target("b", endpoint, *KEYS["b"], "fair-b")
        if fill:
            for target in (a, b):
                client = s3_client(endpoint, target.access_key, target.secret_key)
                client.create_bucket(Bucket=target.bucket)
            keys = _fold_keys(args.prefixes, args.per_prefix)
            for start in range(0, len(keys), 2000):  # signatures stay fresh
                batch = loadgen.small_requests(a, "PUT", keys[start : start + 2000], b"x")
                loadgen.run_small_ops(a, batch, 32)
            objects = [f"obj-{n}" for n in range(OBJECTS)]
            loadgen.run_small_ops(b, loadgen.small_requests(b, "PUT", objects, SMALL), 8)
        admin = f"http://127.0.0.1:{admin_port}"
        blocking_request(a, "GET", None, [("list-type", "2"), ("max-keys", "1")])  # warm
        return {
            "costs": {} if args.skip_costs else _costs(a, process.pid, admin, args.repeats),
            "fairness": _fairness(a, b, args),
        }
    finally:
        process.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"a": Path(args.a_tree).resolve(), "b": Path(args.b_tree).resolve()}
    results: dict[str, list[Any]] = {"a": [], "b": []}
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-cost-") as tmp,
        upstream(args.upstream, Path(tmp)) as server,
    ):
        create_upstream_bucket(server)
        for pair in range(args.pairs):
            order = ("a", "b") if pair % 2 == 0 else ("b", "a")
            for name in order:
                work = Path(tmp) / f"{name}-{pair}"
                work.mkdir()
                fill = pair == 0 and name == order[0]
                results[name].append(_round(server, trees[name], work, args, fill, name == "b"))
                print(name, json.dumps(results[name][-1]), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--a-tree", required=True, help="baseline checkout")
    parser.add_argument("--b-tree", default=".", help="candidate checkout")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--prefixes", type=int, default=100)
    parser.add_argument("--per-prefix", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--a-concurrency", type=int, default=4)
    parser.add_argument("--b-concurrency", type=int, default=4)
    parser.add_argument("--upstream", choices=("seaweedfs", "ceph"), default="seaweedfs")
    parser.add_argument("--workers", type=lambda v: v if v == "auto" else int(v), default="auto")
    parser.add_argument(
        "--expensive", type=int, help="max_concurrent_expensive of the candidate (b) only"
    )
    parser.add_argument("--list-concurrency", type=int, default=8, help="rclone's --checkers")
    parser.add_argument("--skip-costs", action="store_true", help="only the fairness figures")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
