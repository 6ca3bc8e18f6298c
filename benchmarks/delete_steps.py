"""One tenant's DeleteObjects of 1,000 keys on the local store, another tenant's GET (wave 15 F3).

Two one-worker proxies on local stores, a baseline tree (A) and a candidate tree (B), each with
tenants ``a`` and ``b`` (:func:`benchmarks.costly_parts._proxy`). For each proxy, interleaved
over ``--pairs`` rounds (the order alternating): tenant b's 1 KiB GET latency (p50/p99, 4
connections, ``--seconds``) with a idle, then while ``--concurrency`` threads of tenant a delete
``--batches`` x ``--keys`` small distinct objects it stocked before (not measured), one
DeleteObjects per batch (the long database job: rows and blob files of 1,000 keys). No
assertion: figures for BENCHMARKS.md "Wave 15 F3". Usage:

    python -m benchmarks.delete_steps --a-tree /tmp/w15f3-head --b-tree . [--pairs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.ab_pairs import latency_figures, loaded_by, rounds_in_turns, summary
from benchmarks.costly_parts import _proxy
from benchmarks.fairness import _latencies
from benchmarks.harness import s3_client
from benchmarks.loadgen import Target


def _stock(a: Target, batches: int, count: int) -> list[list[str]]:
    """Tenant a's ``batches`` x ``count`` small distinct objects (32 threads); their keys."""
    keys = [[f"b{n}/{m:04d}" for m in range(count)] for n in range(batches)]
    todo = [key for batch in keys for key in batch]
    lock = threading.Lock()

    def worker() -> None:
        client = s3_client(a.endpoint, a.access_key, a.secret_key)
        while True:
            with lock:
                if not todo:
                    return
                key = todo.pop()
            client.put_object(Bucket=a.bucket, Key=key, Body=key.encode() * 8)

    workers = [threading.Thread(target=worker) for _ in range(32)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return keys


def _load(a: Target, threads: int, batches: list[list[str]], _stop: Any, out: Any) -> None:
    """Tenant a: ``threads`` threads deleting the stocked batches, one DeleteObjects each, all
    of them (however long b's measurement lasts)."""
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        client = s3_client(a.endpoint, a.access_key, a.secret_key)
        while True:
            with lock:
                if not batches:
                    return
                keys = batches.pop()
            answer = client.delete_objects(
                Bucket=a.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
            with lock:
                answers[f"{len(answer.get('Errors', []))} errors"] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    out.put(dict(answers))


def _round(a: Target, b: Target, args: argparse.Namespace) -> dict[str, Any]:
    batches = _stock(a, args.batches, args.keys)
    idle, _ = asyncio.run(_latencies(b, 4, args.seconds))
    with loaded_by(_load, a, args.concurrency, batches) as answers:
        loaded, failures = asyncio.run(_latencies(b, 4, args.seconds))
    return latency_figures(idle, loaded, failures, answers, worst=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"A": args.a_tree, "B": args.b_tree}
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-delsteps-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        proxies = {}
        for name, tree in trees.items():
            work = Path(tmp) / f"delsteps{name.lower()}"
            work.mkdir()
            a, b, _ = stack.enter_context(_proxy(tree, work, None))
            proxies[name] = (a, b)
        rounds = rounds_in_turns(args.pairs, lambda name: _round(*proxies[name], args))
    loaded = ("loaded_p50_ms", "loaded_p99_ms", "loaded_max_ms")
    found = summary(rounds, ("idle_p50_ms", "idle_p99_ms", *loaded), loaded)
    for name, runs in rounds.items():
        found[name]["a_deletes"] = sum(sum(r["a_answers"].values()) for r in runs)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", required=True)
    parser.add_argument("--b-tree", required=True)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
