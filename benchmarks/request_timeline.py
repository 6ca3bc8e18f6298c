"""Where one small request's time goes inside the proxy: a timeline of each request at c=1.

Why: the added latency at c=1 (issue 18: PUT +0.85 / +1.20 ms against +0.7) is the proxy's
own work on the request's path plus one more loopback hop, and on a shared box the end-to-end
p50 moves by more than any one piece of it. This starts an upstream (SeaweedFS, or Ceph RGW
with ``--upstream ceph``) and one proxy worker in front of it with the probe of
``benchmarks/timeline_probe`` loaded, sends 1 KiB PUTs and GETs one at a time, directly and
through the proxy, interleaved, and prints for each method the client's p50 both ways and the
median of each phase inside the proxy, in µs:

- ``engine``: the request's first bytes read → the application runs (HTTP parsing, the task);
- ``auth``: → the handler runs (routing, SigV4, header policy, limits);
- ``handler``: → the tenant's storage is called (the operation's own checks and body set-up);
- ``storage``: → the upstream backend is called (layout, bucket checks, classes);
- ``backend``: → the request is signed and handed to the connection pool;
- ``pool``: → the request is written to the upstream socket;
- ``upstream``: → the upstream's first answer bytes are read (the upstream and the hop);
- ``resume``: → the waiting request runs again with the answer's head;
- ``unwind``: → the handler returns (the backend's and the storage's work after the answer);
- ``answer``: → the answer is written to the client socket;
- ``after``: → the request is done (access log, metrics).

``inside the proxy`` is the median of first bytes → answer written, less ``upstream``.
``next waiting`` is the share of requests after whose ``after`` the client's next request was
already in the socket: then that work was on the next request's path too. Usage:

    python -m benchmarks.request_timeline [--upstream ceph] [--ops 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import UPSTREAM_BUCKET, proxy_in_front_of, upstream  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402

AK, SK = "AKTIMELINE0000000001", "timeline-bench-secret-key-0123"
PROBE = Path(__file__).resolve().parent / "timeline_probe"
PHASES = (
    ("engine", "app"),
    ("auth", "handler"),
    ("handler", "storage"),
    ("storage", "backend"),
    ("backend", "signed"),
    ("pool", "upstream_write"),
    ("upstream", "upstream_bytes"),
    ("resume", "upstream_head"),
    ("unwind", "handler_end"),
    ("answer", "answered"),
    ("after", "done"),
)


def parse(path: Path) -> list[dict[str, str]]:
    records = []
    for line in path.read_text().splitlines():
        records.append(dict(field.split("=", 1) for field in line.split()))
    return records


def phases(records: list[dict[str, str]], method: str) -> dict[str, float]:
    """Median µs of each phase over the requests of ``method`` that passed every point."""
    points = ["arrived", *(point for _, point in PHASES)]
    chosen = [r for r in records if r["method"] == method and all(p in r for p in points[1:])]
    result: dict[str, float] = {"requests": len(chosen)}
    if not chosen:
        return result
    for (name, point), before in zip(PHASES, points, strict=False):
        result[name] = statistics.median(
            int(r[point]) - (0 if before == "arrived" else int(r[before])) for r in chosen
        )
    result["inside"] = statistics.median(
        int(r["answered"]) - int(r["upstream_bytes"]) + int(r["upstream_write"]) for r in chosen
    )
    result["next waiting"] = sum(int(r["next_waiting"]) for r in chosen) / len(chosen)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--ops", type=int, default=300, help="requests per method and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    latencies: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="s3proxy-timeline-") as tmp:
        work = Path(tmp)
        out = work / "timeline.txt"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")])),
            "S3PROXY_TIMELINE_OUT": str(out),
        }
        with upstream(args.upstream, work) as server:
            (work / "proxy").mkdir()
            with proxy_in_front_of(
                server,
                work / "proxy",
                AK,
                SK,
                access_log=True,
                server_options={"workers": 1},
                env=env,
            ) as proxy:
                targets = {
                    "direct": Target(
                        "direct",
                        server.endpoint,
                        server.access_key,
                        server.secret_key,
                        UPSTREAM_BUCKET,
                    ),
                    "proxy": Target("proxy", proxy.endpoint, AK, SK, "timeline"),
                }
                status, _, body, _ = loadgen.blocking_request(targets["proxy"], "PUT", None)
                loadgen.expect(status, 200, "CreateBucket", body)
                for rnd in range(args.rounds):
                    keys = [f"timeline/{rnd}/{i:05d}" for i in range(args.ops)]
                    for method in ("PUT", "GET"):
                        order = ("direct", "proxy") if rnd % 2 == 0 else ("proxy", "direct")
                        for name in order:
                            target = targets[name]
                            requests = loadgen.small_requests(target, method, keys, b"s" * 1024)
                            result = loadgen.run_small_ops(target, requests, 1)
                            latencies.setdefault((method, name), []).append(result.p50 * 1000)
        if not out.exists():
            raise SystemExit("the probe wrote nothing: see its docstring (PYTHONPATH, names)")
        records = parse(out)
    print(
        f"{args.upstream}, {args.rounds} rounds × {args.ops} requests, one worker; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    for method in ("PUT", "GET"):
        direct = statistics.median(latencies[(method, "direct")])
        proxied = statistics.median(latencies[(method, "proxy")])
        found = phases(records, method)
        print(
            f"{method}: client p50 direct {direct:.3f} ms, through the proxy {proxied:.3f} ms "
            f"(+{proxied - direct:.3f}); {found['requests']:.0f} requests traced"
        )
        print(
            "  "
            + "  ".join(f"{name} {found.get(name, 0):.0f}" for name, _ in PHASES)
            + f"  | inside the proxy {found.get('inside', 0):.0f} µs, next waiting "
            f"{found.get('next waiting', 0):.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
