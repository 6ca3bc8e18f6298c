"""Peak RSS of the proxy while one large object streams through it (PUT, then GET).

Starts SeaweedFS and the proxy on free loopback ports, sends SIZE bytes with a single PUT
(UNSIGNED-PAYLOAD, streamed from a generator: the client holds 1 MiB), reads it back, checks the
SHA-256 both ways, and reports the proxy's VmHWM (true peak RSS) before and after, plus
throughput. Usage:

    python -m benchmarks.stream_rss [--size-mib 1024] [--tree CHECKOUT]

``--tree`` runs the proxy from another checkout (before/after a change, as benchmarks.variants).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import proxy_in_front_of, s3_client  # noqa: E402
from tests.support.processes import SeaweedFS, peak_rss  # noqa: E402
from tests.support.s3http import sign  # noqa: E402

AK, SK = "AKBENCH0000000000001", "bench-secret-key-0123456789abcdef"
BLOCK = os.urandom(1024 * 1024)


def body(size_mib: int) -> Iterator[bytes]:
    for _ in range(size_mib):
        yield BLOCK


def put(endpoint: str, key: str, size_mib: int) -> float:
    url = f"{endpoint}/bench/{key}"
    headers = sign("PUT", url, AK, SK, payload_hash="UNSIGNED-PAYLOAD")
    headers["Content-Length"] = str(size_mib * len(BLOCK))
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    started = time.perf_counter()
    connection.request("PUT", f"/bench/{key}", body=body(size_mib), headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"PUT failed: {response.status}")
    return elapsed


def get(endpoint: str, key: str) -> tuple[float, str, int]:
    url = f"{endpoint}/bench/{key}"
    headers = sign("GET", url, AK, SK)
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    started = time.perf_counter()
    connection.request("GET", f"/bench/{key}", headers=headers)
    response = connection.getresponse()
    digest = hashlib.sha256()
    received = 0
    while chunk := response.read(1024 * 1024):
        digest.update(chunk)
        received += len(chunk)
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"GET failed: {response.status}")
    return elapsed, digest.hexdigest(), received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tree", type=Path, help="a checkout whose code the proxy runs")
    args = parser.parse_args()
    size = args.size_mib * len(BLOCK)
    expected = hashlib.sha256()
    for block in body(args.size_mib):
        expected.update(block)

    with tempfile.TemporaryDirectory(prefix="s3proxy-bench-") as tmp:
        work = Path(tmp)
        seaweed = SeaweedFS.start(work / "seaweed", "benchadmin", "benchadmin-secret-key")
        try:
            with proxy_in_front_of(seaweed, work, AK, SK, tree=args.tree) as proxy:
                endpoint = proxy.endpoint
                s3_client(endpoint, AK, SK).create_bucket(Bucket="bench")
                baseline = peak_rss(proxy.process.pid)
                put_seconds = put(endpoint, "object", args.size_mib)
                after_put = peak_rss(proxy.process.pid)
                get_seconds, digest, received = get(endpoint, "object")
                after_get = peak_rss(proxy.process.pid)
                if received != size or digest != expected.hexdigest():
                    raise SystemExit("GET returned different bytes")
                mib = 1024 * 1024
                print(f"object size           {args.size_mib} MiB (byte-identical round trip)")
                print(f"PUT                   {size / mib / put_seconds:8.1f} MiB/s")
                print(f"GET                   {size / mib / get_seconds:8.1f} MiB/s")
                print(f"proxy peak RSS idle   {baseline / mib:8.1f} MiB")
                for label, peak in (("PUT", after_put), ("GET", after_get)):
                    growth = (peak - baseline) / mib
                    print(f"proxy peak RSS {label}    {peak / mib:8.1f} MiB (+{growth:.1f})")
        finally:
            seaweed.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
