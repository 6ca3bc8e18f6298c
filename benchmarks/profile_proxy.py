"""Where the proxy spends its CPU in one scenario: py-spy samples it while the load runs.

Starts SeaweedFS (or Ceph RGW) and the proxy, then repeats one scenario of benchmarks.compare
against the proxy for SECONDS while ``py-spy record`` samples the proxy process (``--native``
off, idle frames off). Prints the functions with the most samples, inclusive and self, and keeps
the raw collapsed stacks (flamegraph input) in --out. Needs ``pip install py-spy``. Usage:

    python -m benchmarks.profile_proxy put_small [--seconds 20] [--upstream seaweedfs]
        [--presigned] [--server event_loop=asyncio]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.compare import (  # noqa: E402
    AK,
    SK,
    Sizes,
    _cleanup,
    _populate_listing,
    _scenario,
)
from benchmarks.harness import proxy_in_front_of, server_cpu_seconds, upstream  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402
from benchmarks.variants import parse_variant  # noqa: E402


def summarize(collapsed: Path, top: int) -> str:
    """Top functions by inclusive and by self samples from py-spy's raw (collapsed) output."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1][:-1]
            for frame in stack.split(";")
            if frame
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _presigned_round(target: Target, scenario: str, sizes: Sizes) -> int:
    """One round of a small scenario with query-string (presigned URL) signatures."""
    method = "PUT" if scenario.startswith("put") else "GET"
    keys = [f"small/0/{i:06d}" for i in range(sizes.small_ops)]
    payload = b"s" * sizes.small_bytes
    requests = loadgen.small_requests(target, method, keys, payload, presigned=True)
    loadgen.run_small_ops(target, requests, sizes.concurrency)
    return len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenario", choices=["put_small", "get_small", "put_large", "get_large", "list"]
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("/tmp"))
    parser.add_argument("--presigned", action="store_true", help="small scenarios: query auth")
    parser.add_argument(
        "--server", default="", help="server.* settings as name=value,... (event_loop=asyncio)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)  # py-spy fails on a missing directory
    options: dict[str, Any] = {"workers": 1}  # py-spy samples the one process serving
    options.update(parse_variant(args.server)[0])
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    sizes = Sizes(small_ops=2000, large_mib=256)
    with tempfile.TemporaryDirectory(prefix="s3proxy-profile-") as tmp:
        work = Path(tmp)
        with (
            upstream(args.upstream, work) as server,
            proxy_in_front_of(
                server,
                work,
                AK,
                SK,
                access_log=args.access_log,
                server_options=options,
            ) as proxy,
        ):
            target = Target("s3proxy", proxy.endpoint, AK, SK, "bench")
            status, _, body, _ = loadgen.blocking_request(target, "PUT", None)
            loadgen.expect(status, 200, "CreateBucket", body)
            if args.scenario == "list":
                _populate_listing(target, sizes)
            elif args.scenario.startswith("get"):  # something to read
                _scenario(target, args.scenario.replace("get", "put"), 0, sizes)()
            collapsed = args.out / f"profile-{args.scenario}.txt"
            recorder = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(proxy.process.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--output",
                    str(collapsed),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
            deadline = time.monotonic() + args.seconds
            cpu_before, amount = server_cpu_seconds(proxy.process.pid), 0.0
            while time.monotonic() < deadline:
                if args.presigned and args.scenario.endswith("small"):
                    amount += _presigned_round(target, args.scenario, sizes)
                    continue
                amount += _scenario(target, args.scenario, 0, sizes)().amount
                if args.scenario == "put_large":
                    _cleanup(target, "get_large", 0)
            cpu = server_cpu_seconds(proxy.process.pid) - cpu_before
            recorder.send_signal(2)
            recorder.wait(30)
            unit = amount / 1e9 if args.scenario.endswith("large") else amount / 1e6
            label = "s/GB" if args.scenario.endswith("large") else "µs/op (per key listed)"
            print(f"proxy CPU {cpu / unit:.2f} {label} (under py-spy)\n")
            print(summarize(collapsed, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
