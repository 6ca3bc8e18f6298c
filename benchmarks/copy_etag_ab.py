"""A/B of two proxy checkouts on CopyObject of a multipart object (wave 17 C2).

S3 gives the copy of a multipart object the MD5 of its bytes as ETag; SeaweedFS and Ceph RGW
keep the source's ``-N`` ETag on a server-side copy, so such a copy now passes through the
gateway (its PUT upstream gets the MD5). This measures what that costs: one SeaweedFS (or
``--kind ceph``, or ``--kind local``: a local store per proxy, where the copy stays a row and
its bytes are now read once for their MD5), two one-worker proxies that differ in their code
(``--a-tree``/``--b-tree``), in each one ``--size-mib`` source uploaded in 8 MiB parts; per
pair, A and B in turn (the order alternating), one plain CopyObject each. Reported: the
copy's seconds and the proxy's CPU seconds, as medians and in how many pairs B was lower, and
each tree's copy ETag. Usage:

    python -m benchmarks.copy_etag_ab --a-tree /tmp/base --b-tree . [--pairs 8] [--size-mib 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.ab_pairs import lower_in, turns  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    RunningProxy,
    free_port,
    proxy_in_front_of,
    proxy_settings,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from tests.support.processes import ProxyProcess, write_config  # noqa: E402

AK, SK = "AKCOPYETAGAB00000001", "copy-etag-ab-bench-secret-key-0123"
PART = 8 * 1024 * 1024


def _upload(client: Any, bucket: str, data: bytes) -> None:
    ids = {"Bucket": bucket, "Key": "src"}
    upload = client.create_multipart_upload(**ids)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), PART), start=1):
        body = data[start : start + PART]
        sent = client.upload_part(**ids, UploadId=upload, PartNumber=number, Body=body)
        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    client.complete_multipart_upload(**ids, UploadId=upload, MultipartUpload={"Parts": parts})


def _copy(client: Any, bucket: str, pid: int) -> tuple[float, float, str]:
    """(seconds, proxy CPU seconds, the copy's ETag) of one CopyObject of ``src``."""
    before, started = server_cpu_seconds(pid), time.perf_counter()
    answer = client.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}
    )
    seconds = time.perf_counter() - started
    return seconds, server_cpu_seconds(pid) - before, answer["CopyObjectResult"]["ETag"]


@contextmanager
def _local_proxy(work: Path, tree: Path) -> Iterator[RunningProxy]:
    """A one-worker proxy whose upstream ``up`` is a local store under ``work``."""
    port, admin_port = free_port(), free_port()
    server = argparse.Namespace(endpoint="", access_key="", secret_key="")
    settings = proxy_settings(server, port, admin_port, AK, SK)
    settings["upstreams"]["up"] = {"type": "local", "path": str(work / "store")}
    settings["server"]["workers"] = 1
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=tree
    )
    try:
        yield RunningProxy(f"http://127.0.0.1:{port}", process)
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, required=True)
    parser.add_argument("--kind", choices=("seaweedfs", "ceph", "local"), default="seaweedfs")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args(argv)
    data = os.urandom(args.size_mib * 1024 * 1024)
    wall: dict[str, list[float]] = {"A": [], "B": []}
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    etags: dict[str, str] = {}
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="s3proxy-copy-etag-ab-") as tmp:
        work = Path(tmp)
        with ExitStack() as stack:
            server = None
            if args.kind != "local":
                server = stack.enter_context(upstream(args.kind, work))
            clients, pids = {}, {}
            for name, tree in (("A", args.a_tree), ("B", args.b_tree)):
                (work / name).mkdir()
                proxy = stack.enter_context(
                    _local_proxy(work / name, tree)
                    if server is None
                    else proxy_in_front_of(
                        server, work / name, AK, SK, server_options={"workers": 1}, tree=tree
                    )
                )
                client = s3_client(proxy.endpoint, AK, SK)
                bucket = f"copyetag-{name.lower()}"
                client.create_bucket(Bucket=bucket)
                _upload(client, bucket, data)
                clients[name], pids[name] = (client, bucket), proxy.process.pid
                etags[name] = _copy(client, bucket, pids[name])[2]  # warm
            for pair in range(args.pairs):
                for name in turns(pair):
                    seconds, used, _ = _copy(*clients[name], pids[name])
                    wall[name].append(seconds)
                    cpu[name].append(used)
                print(
                    f"pair {pair}: A {wall['A'][-1]:.3f} s ({cpu['A'][-1]:.3f} CPU s), "
                    f"B {wall['B'][-1]:.3f} s ({cpu['B'][-1]:.3f} CPU s)",
                    flush=True,
                )
    print(f"copy ETags: A {etags['A']}, B {etags['B']}")
    print(lower_in(f"{args.size_mib} MiB CopyObject of a multipart object, wall", wall))
    print(lower_in(f"{args.size_mib} MiB CopyObject of a multipart object, proxy CPU", cpu))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
