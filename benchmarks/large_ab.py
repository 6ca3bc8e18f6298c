"""A/B of two proxy checkouts (or settings) on one large PUT and GET, interleaved with direct.

The large-object counterpart of :mod:`benchmarks.variants`: one upstream (SeaweedFS;
``--upstream ceph``), two one-worker proxies in front of it that differ in their code
(``--a-tree``/``--b-tree``: checkouts whose ``s3proxy`` each runs) or settings (``--a``/``--b``
as in variants), then per pair: direct, A and B in turn (the order of A and B alternating),
each a single-stream PUT of SIZE MiB and the GET of it. Reported per pair and as medians: MB/s
as a ratio to direct in the same pair, each proxy's CPU per GB (psutil, all its processes) and
the upstream's CPU per GB during the same transfer (its cost is part of what the proxy's
placement on the cores decides). The box is shared, so compare B with A pair by pair, not with
figures from another run. Usage:

    python -m benchmarks.large_ab --a-tree /tmp/base --b-tree . [--pairs 4] [--size-mib 256]
    python -m benchmarks.large_ab --a workers=1 --b workers=2   # one tree, two settings
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    proxy_in_front_of,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.loadgen import Target  # noqa: E402
from benchmarks.variants import parse_variant  # noqa: E402

AK, SK = "AKLARGEAB00000000001", "large-ab-bench-secret-key-0123"


def upstream_pids(server: Any) -> list[int]:
    """The processes whose CPU is the upstream's: ``weed mini``, or Ceph's daemons."""
    pids = getattr(server, "pids", None)
    return list(pids.values()) if isinstance(pids, dict) else [server.pid]


def _timed(
    target: Target, pid: int | None, upstream_of: list[int], method: str, key: str, size_mib: int
) -> tuple[float, float, float]:
    """(MB/s, CPU s/GB of ``pid`` — 0 for direct —, the upstream's CPU s/GB) of one PUT or GET."""
    before = server_cpu_seconds(pid) if pid is not None else 0.0
    upstream_before = sum(server_cpu_seconds(each) for each in upstream_of)
    started = time.perf_counter()
    if method == "PUT":
        moved = loadgen.put_large(target, key, size_mib)
    else:
        moved = loadgen.get_large(target, key, size_mib)
    seconds = time.perf_counter() - started
    cpu = server_cpu_seconds(pid) - before if pid is not None else 0.0
    upstream_cpu = sum(server_cpu_seconds(each) for each in upstream_of) - upstream_before
    gigabytes = moved / 1e9
    return moved / seconds / 1e6, cpu / gigabytes, upstream_cpu / gigabytes


def _warm(target: Target, count: int) -> None:
    """``count`` 1 KiB PUTs then GETs at concurrency 32, then the keys deleted."""
    if count <= 0:
        return
    keys = [f"warm/{index:06d}" for index in range(count)]
    for method in ("PUT", "GET"):
        requests = loadgen.small_requests(target, method, keys, b"w" * 1024)
        loadgen.run_small_ops(target, requests, 32)
    for key in keys:
        loadgen.delete(target, key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="", help="server settings of A, e.g. workers=1")
    parser.add_argument("--b", default="")
    parser.add_argument("--a-tree", type=Path, help="a checkout whose code A runs")
    parser.add_argument("--b-tree", type=Path, help="a checkout whose code B runs")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        help="1 KiB PUTs and GETs at c=32 through each proxy first (every worker has served "
        "load before the large transfers, as in benchmarks.compare)",
    )
    args = parser.parse_args(argv)
    trees = {"A": args.a_tree, "B": args.b_tree}
    variants = {"A": parse_variant(args.a), "B": parse_variant(args.b)}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="s3proxy-large-ab-") as tmp:
        work = Path(tmp)
        with upstream(args.upstream, work) as server, ExitStack() as stack:
            admin = s3_client(server.endpoint, server.access_key, server.secret_key)
            with contextlib.suppress(admin.exceptions.BucketAlreadyOwnedByYou):
                admin.create_bucket(Bucket="large-direct")
            targets = {
                "direct": Target(
                    "direct", server.endpoint, server.access_key, server.secret_key, "large-direct"
                )
            }
            pids: dict[str, int | None] = {"direct": None}
            for name, (options, env) in variants.items():
                (work / name).mkdir()
                proxy = stack.enter_context(
                    proxy_in_front_of(
                        server,
                        work / name,
                        AK,
                        SK,
                        access_log=True,
                        server_options={"workers": 1, **options},
                        env={**os.environ, **env},
                        tree=trees[name],
                    )
                )
                targets[name] = Target(name, proxy.endpoint, AK, SK, f"large-{name.lower()}")
                status, _, body, _ = loadgen.blocking_request(targets[name], "PUT", None)
                loadgen.expect(status, 200, f"{name} CreateBucket", body)
                pids[name] = proxy.process.pid
                _warm(targets[name], args.warm)
            upstream_of = upstream_pids(server)
            for pair in range(args.pairs):
                order = ("direct", "A", "B") if pair % 2 == 0 else ("direct", "B", "A")
                for method in ("PUT", "GET"):
                    for name in order:
                        key = f"large-{pair}"
                        measured = _timed(
                            targets[name], pids[name], upstream_of, method, key, args.size_mib
                        )
                        results.setdefault((method, name), []).append(measured)
                        print(
                            f"pair {pair} {method} {name:6}: {measured[0]:7.1f} MB/s "
                            f"{measured[1]:5.2f} CPU s/GB, upstream {measured[2]:5.2f} s/GB",
                            flush=True,
                        )
                for name in order:
                    loadgen.delete(targets[name], f"large-{pair}")
    for name in ("A", "B"):
        print(f"{name}: {getattr(args, name.lower()) or '(defaults)'} {trees[name] or REPO}")
    for method in ("PUT", "GET"):
        direct = results[(method, "direct")]
        line = [f"{method} {args.size_mib} MiB:"]
        for name in ("A", "B"):
            runs = results[(method, name)]
            ratios = [run[0] / base[0] for run, base in zip(runs, direct, strict=True)]
            cpus = [run[1] for run in runs]
            upstream_cpus = [run[2] for run in runs]
            line.append(
                f"{name} {statistics.median(ratios):.2f}× direct ({min(ratios):.2f}–"
                f"{max(ratios):.2f}), CPU {statistics.median(cpus):.2f} s/GB "
                f"({min(cpus):.2f}–{max(cpus):.2f}), upstream "
                f"{statistics.median(upstream_cpus):.2f} s/GB;"
            )
        a_cpu = [run[1] for run in results[(method, "A")]]
        b_cpu = [run[1] for run in results[(method, "B")]]
        lower = sum(b < a for a, b in zip(a_cpu, b_cpu, strict=True))
        # A small transfer can take less CPU than the kernel's accounting tick: no ratio then.
        measured = [b / a for a, b in zip(a_cpu, b_cpu, strict=True) if a > 0]
        ratio = f"{statistics.median(measured):.2f}" if measured else "n/a (too small to measure)"
        line.append(f"B/A CPU per pair {ratio} (B lower in {lower} of {len(a_cpu)})")
        line.append(f"direct: upstream {statistics.median(run[2] for run in direct):.2f} s/GB;")
        print(" ".join(line))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
