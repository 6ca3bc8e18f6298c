"""A/B of two proxy checkouts on CopyObject asking for a new checksum (wave 15 C).

``x-amz-checksum-algorithm`` on CopyObject makes the copy's bytes pass through the gateway,
summed as they go. The gateway read such a source twice (once to sum it, once into the PUT
that declared the sum); where the target keeps a checksum sent after the body it now reads
it once. One SeaweedFS, two one-worker proxies that differ in their code
(``--a-tree``/``--b-tree``), one ``--size-mib`` source in each; per pair, A and B in turn
(the order alternating), one copy each with SHA256. Reported: the copy's seconds and the
proxy's CPU seconds, as medians and in how many pairs B was lower. Usage:

    python -m benchmarks.copy_checksum_ab --a-tree /tmp/base --b-tree . [--pairs 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.ab_pairs import lower_in, turns  # noqa: E402
from benchmarks.harness import proxy_in_front_of, s3_client, server_cpu_seconds, upstream  # noqa: E402

AK, SK = "AKCOPYSUMAB000000001", "copy-sum-ab-bench-secret-key-0123"


def _copy(client: Any, bucket: str, pid: int) -> tuple[float, float]:
    """(seconds, proxy CPU seconds) of one CopyObject of ``src`` with a new SHA256."""
    before, started = server_cpu_seconds(pid), time.perf_counter()
    answer = client.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
        ChecksumAlgorithm="SHA256",
    )  # fmt: skip
    assert answer["CopyObjectResult"].get("ChecksumSHA256"), answer
    return time.perf_counter() - started, server_cpu_seconds(pid) - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args(argv)
    data = os.urandom(args.size_mib * 1024 * 1024)
    wall: dict[str, list[float]] = {"A": [], "B": []}
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="s3proxy-copy-sum-ab-") as tmp:
        work = Path(tmp)
        with upstream("seaweedfs", work) as server, ExitStack() as stack:
            clients, pids = {}, {}
            for name, tree in (("A", args.a_tree), ("B", args.b_tree)):
                (work / name).mkdir()
                proxy = stack.enter_context(
                    proxy_in_front_of(
                        server, work / name, AK, SK, server_options={"workers": 1}, tree=tree
                    )
                )
                client = s3_client(proxy.endpoint, AK, SK)
                bucket = f"copysum-{name.lower()}"
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="src", Body=data)
                clients[name], pids[name] = (client, bucket), proxy.process.pid
                _copy(client, bucket, pids[name])  # warm
            for pair in range(args.pairs):
                for name in turns(pair):
                    seconds, used = _copy(*clients[name], pids[name])
                    wall[name].append(seconds)
                    cpu[name].append(used)
                print(
                    f"pair {pair}: A {wall['A'][-1]:.3f} s ({cpu['A'][-1]:.3f} CPU s), "
                    f"B {wall['B'][-1]:.3f} s ({cpu['B'][-1]:.3f} CPU s)",
                    flush=True,
                )
    print(lower_in(f"{args.size_mib} MiB CopyObject with SHA256, wall", wall))
    print(lower_in(f"{args.size_mib} MiB CopyObject with SHA256, proxy CPU", cpu))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
