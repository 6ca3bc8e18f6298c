"""Listing 10,000 keys through the proxy on Ceph RGW, with RGW's listing read-ahead at its
default and at a smaller value, switched between rounds on one cluster (paired, interleaved).

RGW 16 reads at least ``rgw_list_bucket_min_readahead`` (default 1000) entries of the bucket
index for every ordered listing request, whatever ``max-keys`` asks: a shard listing of ~75
keys reads up to 1,000 (to the end of the shard's prefix), so a 1,000-key client page over 16
shards makes RGW read up to 16,000 index entries where a direct listing reads ~1,000. This
benchmark measures what that costs: one cluster, one proxy (this checkout, or ``--tree``),
one direct bucket; each round lists the proxy and direct once at each read-ahead value
(``ceph daemon … config set``, which RGW reads per request), the order alternating. Reported:
wall time × direct, the proxy's and RGW + OSD's CPU per key listed, and in how many rounds
the smaller read-ahead was faster. Usage:

    python -m benchmarks.listing_rgw [--keys 10000] [--rounds 6] [--readahead 100]
                                     [--tree DIR] [--shards 16]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import UPSTREAM_BUCKET, s3_client, server_cpu_seconds, upstream  # noqa: E402
from benchmarks.listing import AK, DIRECT_BUCKET, SK, populate, proxy  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402

DEFAULT_READAHEAD = "1000"


def set_readahead(server: object, value: str) -> None:
    """RGW's listing read-ahead, set in the running radosgw through its admin socket."""
    work_dir = Path(server.work_dir)  # type: ignore[attr-defined]
    socket = work_dir / "run" / "client.rgw.a.asok"
    config = ["config", "set", "rgw_list_bucket_min_readahead", value]
    subprocess.run(
        ["ceph", "-c", str(work_dir / "ceph.conf"), "daemon", str(socket), *config],
        check=True,
        capture_output=True,
        timeout=30,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--readahead", default="100", help="the smaller read-ahead measured")
    parser.add_argument("--tree", type=Path, default=REPO, help="directory with s3proxy/")
    args = parser.parse_args()
    keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(args.keys)]
    values = [DEFAULT_READAHEAD, args.readahead]
    with tempfile.TemporaryDirectory(prefix="s3proxy-listing-rgw-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        server = stack.enter_context(upstream("ceph", work))
        pids = [server.pids["radosgw"], server.pids["osd"]]
        admin = s3_client(server.endpoint, server.access_key, server.secret_key)
        admin.create_bucket(Bucket=UPSTREAM_BUCKET)
        admin.create_bucket(Bucket=DIRECT_BUCKET)
        lane = stack.enter_context(proxy(server, work / "proxy", args.shards, args.tree))
        lane.target = Target("s3proxy", lane.target.endpoint, AK, SK, "many")
        status, _, body, _ = loadgen.blocking_request(lane.target, "PUT", None)
        loadgen.expect(status, 200, "CreateBucket through the proxy", body)
        populate(lane.target, keys)
        keys_of = (server.access_key, server.secret_key)
        direct = Target("direct", server.endpoint, *keys_of, DIRECT_BUCKET)
        populate(direct, keys)
        figures: dict[str, dict[str, list[float]]] = {
            value: {"wall": [], "ratio": [], "proxy": [], "rgw": [], "direct_rgw": []}
            for value in values
        }
        for round_ in range(args.rounds):
            for value in values if round_ % 2 == 0 else values[::-1]:
                set_readahead(server, value)
                seen = figures[value]
                up = sum(server_cpu_seconds(pid) for pid in pids)
                started = time.perf_counter()
                loadgen.list_all(direct, "")
                direct_wall = time.perf_counter() - started
                seen["direct_rgw"].append(
                    (sum(server_cpu_seconds(pid) for pid in pids) - up) / args.keys * 1e6
                )
                up = sum(server_cpu_seconds(pid) for pid in pids)
                cpu = server_cpu_seconds(lane.pid or 0)
                started = time.perf_counter()
                count = loadgen.list_all(lane.target, "")
                wall = time.perf_counter() - started
                if count != args.keys:
                    raise RuntimeError(f"the proxy listed {count} keys, not {args.keys}")
                seen["wall"].append(wall)
                seen["ratio"].append(wall / direct_wall)
                seen["proxy"].append((server_cpu_seconds(lane.pid or 0) - cpu) / args.keys * 1e6)
                seen["rgw"].append(
                    (sum(server_cpu_seconds(pid) for pid in pids) - up) / args.keys * 1e6
                )
        print(f"Ceph RGW, {args.keys} keys, {args.shards} shards, {args.rounds} rounds")
        print("read-ahead  proxy s  × direct (min–max)  proxy µs/key  RGW+OSD µs/key (direct's)")
        for value in values:
            median = {name: statistics.median(figure) for name, figure in figures[value].items()}
            ratios = figures[value]["ratio"]
            print(
                f"{value:>10s} {median['wall']:8.3f}"
                f" {median['ratio']:8.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
                f" {median['proxy']:12.1f} {median['rgw']:10.1f} ({median['direct_rgw']:.1f})"
            )
        stock, smaller = (figures[value]["wall"] for value in values)
        faster = sum(b < a for a, b in zip(stock, smaller, strict=True))
        print(f"read-ahead {args.readahead} faster in {faster} of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
