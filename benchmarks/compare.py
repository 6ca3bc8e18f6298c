"""Direct upstream vs s3proxy vs rclone serve s3: every scenario, interleaved, in one run.

Starts, per upstream (SeaweedFS and/or Ceph RGW), the upstream, s3proxy in front of it and
``rclone serve s3`` in front of it, all on free loopback ports, then runs each scenario against
the three in turn (direct, s3proxy, rclone, direct, s3proxy, rclone, …) REPS times. The machine
is shared and noisy, so the figure that counts is each gateway's ratio to direct taken pair by
pair inside one repetition; medians and min/max of those ratios are reported.

Scenarios: single-stream PUT and GET of a large object; 1 KiB PUT and GET at concurrency 32 and
one at a time (latency);
ListObjectsV2 of 10,000 keys (proxy with 16 shards); multipart upload with 8 parts in flight.
Measured for each: throughput, the gateway's CPU (psutil: user + system), its peak RSS (VmHWM,
reset before each run through /proc/PID/clear_refs) and the load generator's own CPU. Usage:

    python -m benchmarks.compare [--upstreams seaweedfs,ceph] [--reps 5] [--tiny]
                                 [--out benchmarks/results]

writes results.json, table.md and (when matplotlib is installed) ratios.png under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    proxy_in_front_of,
    rclone_in_front_of,
    reset_peak_rss,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.listing import upstream_requests  # noqa: E402
from benchmarks.loadgen import MiB, Target  # noqa: E402
from benchmarks.report import SCENARIOS, TARGETS, write_report  # noqa: E402
from s3proxy.worker_count import usable_cpus  # noqa: E402
from tests.support.processes import peak_rss  # noqa: E402

AK, SK = "AKBENCH0000000000001", "bench-secret-key-0123456789abcdef"
RCLONE_PROVIDER = {"seaweedfs": "SeaweedFS", "ceph": "Ceph"}


@dataclass(frozen=True)
class Sizes:
    large_mib: int = 256
    small_ops: int = 2000
    small_bytes: int = 1024
    concurrency: int = 32
    latency_ops: int = 300
    list_keys: int = 10_000
    shards: int = 16
    multipart_mib: int = 1024
    part_mib: int = 8
    part_parallel: int = 8
    reps: int = 5


TINY = Sizes(
    large_mib=4,
    small_ops=64,
    latency_ops=16,
    list_keys=120,
    multipart_mib=10,
    part_mib=5,
    part_parallel=2,
    reps=1,
)


@dataclass
class Measured:
    """What one scenario run returns before CPU and RSS are added."""

    seconds: float
    amount: float  # bytes, operations or keys
    latencies: list[float] | None = None


def _scenario(target: Target, scenario: str, rep: int, sizes: Sizes) -> Callable[[], Measured]:
    """The timed part of ``scenario`` on ``target``; preparation happens before it is returned."""
    if scenario == "put_large":
        return lambda: Measured(
            *_time(lambda: loadgen.put_large(target, f"large-{rep}", sizes.large_mib))
        )
    if scenario == "get_large":
        return lambda: Measured(
            *_time(lambda: loadgen.get_large(target, f"large-{rep}", sizes.large_mib))
        )
    if scenario.startswith(("put_small", "get_small")):
        method = "PUT" if scenario.startswith("put") else "GET"
        one_by_one = scenario.endswith("_c1")
        count = sizes.latency_ops if one_by_one else sizes.small_ops
        keys = [f"small{'1' if one_by_one else ''}/{rep}/{i:06d}" for i in range(count)]
        requests = loadgen.small_requests(target, method, keys, b"s" * sizes.small_bytes)
        concurrency = 1 if one_by_one else sizes.concurrency

        def small() -> Measured:
            result = loadgen.run_small_ops(target, requests, concurrency)
            return Measured(result.seconds, len(result.latencies), result.latencies)

        return small
    if scenario == "list":

        def listing() -> Measured:
            started = time.perf_counter()
            count = loadgen.list_all(target, "list/")
            if count != sizes.list_keys:
                raise RuntimeError(f"{target.name} listed {count} keys, not {sizes.list_keys}")
            return Measured(time.perf_counter() - started, count)

        return listing
    if scenario == "multipart":
        return lambda: Measured(
            *_time(
                lambda: loadgen.multipart_upload(
                    target, f"mp-{rep}", sizes.multipart_mib, sizes.part_mib, sizes.part_parallel
                )
            )
        )
    raise ValueError(scenario)


def _time(action: Callable[[], int]) -> tuple[float, float]:
    started = time.perf_counter()
    amount = action()
    return time.perf_counter() - started, amount


def _cleanup(target: Target, scenario: str, rep: int) -> None:
    """Drop large objects once read (Ceph's memstore OSD holds everything in RAM)."""
    if scenario == "get_large":
        loadgen.delete(target, f"large-{rep}")
    elif scenario == "multipart":
        loadgen.delete(target, f"mp-{rep}")


def measure(
    target: Target,
    pid: int,
    scenario: str,
    rep: int,
    sizes: Sizes,
    admin_endpoint: str | None = None,
) -> dict[str, Any]:
    """One scenario against one target. ``admin_endpoint`` (the proxy's): the listing's upstream
    requests are counted from its /metrics, so the table can say what one page costs upstream."""
    run = _scenario(target, scenario, rep, sizes)
    counting = admin_endpoint is not None and scenario == "list"
    sent_before = upstream_requests(admin_endpoint) if counting and admin_endpoint else 0
    reset_peak_rss(pid)
    cpu_before, client_before = server_cpu_seconds(pid), time.process_time()
    measured = run()
    cpu = server_cpu_seconds(pid) - cpu_before
    client_cpu = time.process_time() - client_before
    record: dict[str, Any] = {
        "scenario": scenario,
        "target": target.name,
        "rep": rep,
        "seconds": measured.seconds,
        "amount": measured.amount,
        "server_cpu": cpu,
        "client_cpu": client_cpu,
        "peak_rss": peak_rss(pid),
    }
    if measured.latencies:
        ordered = sorted(measured.latencies)
        record["p50_ms"] = ordered[len(ordered) // 2] * 1000
        record["p99_ms"] = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    if counting and admin_endpoint:
        record["upstream_requests"] = upstream_requests(admin_endpoint) - sent_before
    _cleanup(target, scenario, rep)
    return record


def _populate_listing(target: Target, sizes: Sizes) -> None:
    keys = [f"list/dir{i % 50:02d}/file-{i:06d}.txt" for i in range(sizes.list_keys)]
    for start in range(0, len(keys), 2000):  # signatures stay fresh on slow targets
        requests = loadgen.small_requests(target, "PUT", keys[start : start + 2000], b"x")
        loadgen.run_small_ops(target, requests, sizes.concurrency)


def run_upstream(
    kind: str, sizes: Sizes, work: Path, access_log: bool, workers: str | None = None
) -> dict[str, Any]:
    """All scenarios × targets × reps against one upstream kind; the raw records."""
    with upstream(kind, work) as server:
        admin = s3_client(server.endpoint, server.access_key, server.secret_key)
        for bucket in ("bench-direct", "bench-rclone"):
            admin.create_bucket(Bucket=bucket)
        upstream_pid = server.pids["radosgw"] if kind == "ceph" else server.pid
        with (
            proxy_in_front_of(
                server,
                work,
                AK,
                SK,
                shards=sizes.shards,
                access_log=access_log,
                server_options={"workers": workers} if workers else None,
            ) as proxy,
            rclone_in_front_of(server, work, AK, SK, RCLONE_PROVIDER[kind]) as rclone,
        ):
            targets = {
                "direct": Target(
                    "direct", server.endpoint, server.access_key, server.secret_key, "bench-direct"
                ),
                "s3proxy": Target("s3proxy", proxy.endpoint, AK, SK, "bench"),
                "rclone": Target("rclone", rclone.endpoint, AK, SK, "bench-rclone"),
            }
            pids = {"direct": upstream_pid, "s3proxy": proxy.process.pid, "rclone": rclone.pid}
            status, _, body, _ = loadgen.blocking_request(targets["s3proxy"], "PUT", None)
            loadgen.expect(status, 200, "s3proxy CreateBucket", body)
            idle = {name: peak_rss(pid) for name, pid in pids.items()}
            for name in TARGETS:
                print(f"[{kind}] populating {sizes.list_keys} keys via {name}", flush=True)
                _populate_listing(targets[name], sizes)
            records = []
            for rep in range(sizes.reps):
                for scenario in SCENARIOS:
                    for name in TARGETS:
                        admin = proxy.process.admin_endpoint if name == "s3proxy" else None
                        record = measure(
                            targets[name], pids[name], scenario, rep, sizes, admin_endpoint=admin
                        )
                        record["upstream"] = kind
                        records.append(record)
                        print(
                            f"[{kind}] rep {rep} {scenario:10s} {name:8s}"
                            f" {record['seconds']:7.3f} s cpu {record['server_cpu']:6.2f} s"
                            f" rss {record['peak_rss'] / MiB:6.1f} MiB",
                            flush=True,
                        )
            return {"upstream": kind, "idle_rss": idle, "records": records}


def machine() -> dict[str, str]:
    import platform
    import subprocess

    model = ""
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    with open("/proc/meminfo") as meminfo:
        ram_kb = int(meminfo.readline().split()[1])
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "ram": f"{ram_kb / 1024**2:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstreams", default="seaweedfs,ceph")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (CI)")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--large-mib", type=int)
    parser.add_argument("--small-ops", type=int)
    parser.add_argument("--multipart-mib", type=int)
    parser.add_argument("--list-keys", type=int)
    parser.add_argument(
        "--no-access-log", action="store_true", help="turn the proxy's access log off"
    )
    parser.add_argument(
        "--workers", help="the proxy's server.workers (default: the shipped default, auto)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = TINY if args.tiny else Sizes()
    overrides = {
        name: getattr(args, name)
        for name in ("reps", "large_mib", "small_ops", "multipart_mib", "list_keys")
        if getattr(args, name) is not None
    }
    sizes = Sizes(**{**asdict(sizes), **overrides})
    run: dict[str, Any] = {
        "machine": machine(),
        "sizes": asdict(sizes),
        "access_log": not args.no_access_log,
        "workers": args.workers or f"auto ({usable_cpus()})",
        "upstreams": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in args.upstreams.split(","):
        with tempfile.TemporaryDirectory(prefix=f"s3proxy-compare-{kind}-") as tmp:
            run["upstreams"].append(
                run_upstream(
                    kind,
                    sizes,
                    Path(tmp),
                    access_log=not args.no_access_log,
                    workers=args.workers,
                )
            )
        # after each upstream, so that a later failure keeps what was measured
        (args.out / "results.json").write_text(json.dumps(run, indent=1))
    run["machine"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    (args.out / "results.json").write_text(json.dumps(run, indent=1))
    table = write_report(run, args.out)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
