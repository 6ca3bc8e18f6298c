"""A/B of two proxy settings on the small-request scenarios, interleaved in one run.

Starts one upstream (SeaweedFS; ``--upstream ceph``) and two proxies in front of it that
differ only in what ``--a``/``--b`` say (``server.*`` settings as ``name=value``, environment
variables as ``env:NAME=value``), then alternates A and B on 1 KiB PUT and GET at concurrency
32: ops/s, the proxy's CPU per request (all its processes), the median latency, the B/A ratio of
each pair and in how many pairs B was lower; ``--concurrency 1`` measures the added latency of
one request at a time (issue 18's c=1 p50); ``--presigned`` signs in the query string instead of
the headers; ``--a-tree``/``--b-tree`` compare two checkouts (a code change) instead of two
settings. Usage:

    python -m benchmarks.variants --a workers=1 --b workers=2 [--pairs 4] [--ops 2000]
    python -m benchmarks.variants --a-tree /tmp/base --b-tree . --concurrency 1 --ops 400
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import proxy_in_front_of, server_cpu_seconds, upstream  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402

AK, SK = "AKVARIANTS0000000001", "variants-bench-secret-key-0123"


def parse_variant(spec: str) -> tuple[dict[str, Any], dict[str, str]]:
    server: dict[str, Any] = {}
    env: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name.startswith("env:"):
            env[name[4:]] = value
        else:
            server[name] = int(value) if value.isdigit() else value
    return server, env


def small_round(
    target: Target,
    pid: int,
    method: str,
    keys: list[str],
    presigned: bool = False,
    concurrency: int = 32,
) -> tuple[float, float, float]:
    """(ops/s, the proxy's CPU µs per request, the median latency in ms) of one round."""
    requests = loadgen.small_requests(target, method, keys, b"s" * 1024, presigned=presigned)
    before = server_cpu_seconds(pid)
    result = loadgen.run_small_ops(target, requests, concurrency)
    cpu = server_cpu_seconds(pid) - before
    return len(keys) / result.seconds, cpu / len(keys) * 1e6, result.p50 * 1000


def summary(
    method: str, a: list[tuple[float, float, float]], b: list[tuple[float, float, float]], c: int
) -> str:
    """One method's pairs: B/A throughput, the medians of CPU per request and latency, and in
    how many pairs B was lower (the noise on a shared box is judged by that count)."""
    pairs = list(zip(a, b, strict=True))
    ops_ratio = statistics.median(y[0] / x[0] for x, y in pairs)
    cpu_a, cpu_b = statistics.median(x[1] for x in a), statistics.median(y[1] for y in b)
    p50_a, p50_b = statistics.median(x[2] for x in a), statistics.median(y[2] for y in b)
    cpu_lower = sum(1 for x, y in pairs if y[1] < x[1])
    p50_lower = sum(1 for x, y in pairs if y[2] < x[2])
    return (
        f"{method} 1 KiB c={c}: B/A ops/s {ops_ratio:.2f}×, "
        f"CPU/op A {cpu_a:.0f} µs, B {cpu_b:.0f} µs ({cpu_b / cpu_a - 1:+.0%}, "
        f"B lower in {cpu_lower}/{len(pairs)}), "
        f"p50 A {p50_a:.3f} ms, B {p50_b:.3f} ms ({p50_b - p50_a:+.3f}, "
        f"B lower in {p50_lower}/{len(pairs)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="", help="settings of A, e.g. workers=1")
    parser.add_argument("--b", default="", help="settings of B, e.g. workers=2,env:X=1")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--presigned", action="store_true", help="query-string signatures")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--a-tree", type=Path, help="a checkout whose code A runs (default: this)")
    parser.add_argument("--b-tree", type=Path, help="a checkout whose code B runs (default: this)")
    args = parser.parse_args(argv)
    variants = {"A": parse_variant(args.a), "B": parse_variant(args.b)}
    trees = {"A": args.a_tree, "B": args.b_tree}
    with tempfile.TemporaryDirectory(prefix="s3proxy-variants-") as tmp:
        work = Path(tmp)
        with upstream(args.upstream, work) as server:
            proxies = {}
            targets = {}
            with ExitStack() as stack:
                for name, (options, env) in variants.items():
                    (work / name).mkdir()
                    proxies[name] = stack.enter_context(
                        proxy_in_front_of(
                            server,
                            work / name,
                            AK,
                            SK,
                            access_log=True,
                            server_options=options,
                            env={**os.environ, **env},
                            tree=trees[name],
                        )
                    )
                    bucket = f"var-{name.lower()}"
                    targets[name] = Target(name, proxies[name].endpoint, AK, SK, bucket)
                    status, _, body, _ = loadgen.blocking_request(targets[name], "PUT", None)
                    loadgen.expect(status, 200, f"{name} CreateBucket", body)
                results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
                for pair in range(args.pairs):
                    for method in ("PUT", "GET"):
                        for name in ("A", "B") if pair % 2 == 0 else ("B", "A"):
                            keys = [f"v/{pair}/{i:06d}" for i in range(args.ops)]
                            pid = proxies[name].process.pid
                            measured = small_round(
                                targets[name], pid, method, keys, args.presigned, args.concurrency
                            )
                            results.setdefault((method, name), []).append(measured)
                            print(
                                f"pair {pair} {method} {name}: {measured[0]:7.0f} ops/s "
                                f"{measured[1]:6.0f} µs CPU/op p50 {measured[2]:.3f} ms",
                                flush=True,
                            )
    for name, spec in (("A", args.a), ("B", args.b)):
        print(f"{name}: {spec or '(defaults)'} {trees[name] or ''}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for method in ("PUT", "GET"):
        print(summary(method, results[(method, "A")], results[(method, "B")], args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
