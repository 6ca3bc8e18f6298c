"""A/B of two proxy checkouts (or settings) on one large PUT and GET, interleaved with direct.

The large-object counterpart of :mod:`benchmarks.variants`: one upstream (SeaweedFS;
``--upstream ceph``), two one-worker proxies in front of it that differ in their code
(``--a-tree``/``--b-tree``: checkouts whose ``s3proxy`` each runs) or settings (``--a``/``--b``
as in variants), then per pair: direct, A and B in turn (the order of A and B alternating),
each a single-stream PUT of SIZE MiB and the GET of it. Reported per pair and as medians: MB/s
as a ratio to direct in the same pair, and each proxy's CPU per GB (psutil, all its processes).
The box is shared, so compare B with A pair by pair, not with figures from another run. Usage:

    python -m benchmarks.large_ab --a-tree /tmp/base --b-tree . [--pairs 4] [--size-mib 256]
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


def _timed(
    target: Target, pid: int | None, method: str, key: str, size_mib: int
) -> tuple[float, float]:
    """(MB/s, CPU s/GB of ``pid``; 0 for direct) of one PUT or GET."""
    before = server_cpu_seconds(pid) if pid is not None else 0.0
    started = time.perf_counter()
    if method == "PUT":
        moved = loadgen.put_large(target, key, size_mib)
    else:
        moved = loadgen.get_large(target, key, size_mib)
    seconds = time.perf_counter() - started
    cpu = server_cpu_seconds(pid) - before if pid is not None else 0.0
    return moved / seconds / 1e6, cpu / (moved / 1e9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="", help="server settings of A, e.g. workers=1")
    parser.add_argument("--b", default="")
    parser.add_argument("--a-tree", type=Path, help="a checkout whose code A runs")
    parser.add_argument("--b-tree", type=Path, help="a checkout whose code B runs")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    args = parser.parse_args(argv)
    trees = {"A": args.a_tree, "B": args.b_tree}
    variants = {"A": parse_variant(args.a), "B": parse_variant(args.b)}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
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
            for pair in range(args.pairs):
                order = ("direct", "A", "B") if pair % 2 == 0 else ("direct", "B", "A")
                for method in ("PUT", "GET"):
                    for name in order:
                        key = f"large-{pair}"
                        measured = _timed(targets[name], pids[name], method, key, args.size_mib)
                        results.setdefault((method, name), []).append(measured)
                        print(
                            f"pair {pair} {method} {name:6}: {measured[0]:7.1f} MB/s "
                            f"{measured[1]:5.2f} CPU s/GB",
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
            line.append(
                f"{name} {statistics.median(ratios):.2f}× direct ({min(ratios):.2f}–"
                f"{max(ratios):.2f}), CPU {statistics.median(cpus):.2f} s/GB "
                f"({min(cpus):.2f}–{max(cpus):.2f});"
            )
        a_cpu = [run[1] for run in results[(method, "A")]]
        b_cpu = [run[1] for run in results[(method, "B")]]
        lower = sum(b < a for a, b in zip(a_cpu, b_cpu, strict=True))
        ratio = statistics.median(b / a for a, b in zip(a_cpu, b_cpu, strict=True))
        line.append(f"B/A CPU per pair {ratio:.2f} (B lower in {lower} of {len(a_cpu)})")
        print(" ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
