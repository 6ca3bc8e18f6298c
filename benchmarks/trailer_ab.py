"""A/B of two proxy checkouts on PutObject with a trailer checksum, as SDKs send it over TLS.

boto3 ≥ 1.36 sends every PutObject over https as ``aws-chunked`` with an unsigned CRC32
trailer. What the gateway does with that trailer upstream (wave 14 A: a header for a small
body, an aws-chunked trailer for a large one, where it was a plain body before) changes what
each such PUT costs. One SeaweedFS, two one-worker proxies that differ in their code
(``--a-tree``/``--b-tree``), then per pair, A and B in turn (the order alternating): ``--small``
sequential 1 KiB trailer PUTs on one kept-alive connection, then one ``--size-mib`` trailer
PUT. Reported: the proxy's CPU per 1 KiB PUT (µs, all its processes) and its median latency,
the large PUT's MB/s and CPU s/GB, each as medians and in how many pairs B was lower. The box
is shared: compare pair by pair. Usage:

    python -m benchmarks.trailer_ab --a-tree /tmp/base --b-tree . [--pairs 6] [--size-mib 64]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import http.client
import os
import statistics
import sys
import tempfile
import time
import zlib
from base64 import b64encode
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import proxy_in_front_of, server_cpu_seconds, upstream  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402

AK, SK = "AKTRAILERAB000000001", "trailer-ab-bench-secret-key-0123"
MODE = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
TRAILER = "x-amz-checksum-crc32"
CHUNK = 64 * 1024


def _head(target: Target, key: str, length: int, encoded: int) -> bytes:
    """Request line and SigV4 headers of an aws-chunked PUT with an unsigned trailer."""
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = target.endpoint.split("//", 1)[1]
    path = f"/{target.bucket}/{key}"
    signed = {
        "content-encoding": "aws-chunked",
        "host": host,
        "x-amz-content-sha256": MODE,
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(length),
        "x-amz-trailer": TRAILER,
    }
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        ("PUT", path, "", "".join(f"{n}:{signed[n]}\n" for n in sorted(signed)), names, MODE)
    )
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    secret = f"AWS4{target.secret_key}".encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        secret = hmac.new(secret, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(secret, to_sign.encode(), hashlib.sha256).hexdigest()
    lines = [f"PUT {path} HTTP/1.1", *(f"{n}: {v}" for n, v in signed.items())]
    lines.append(
        f"Authorization: AWS4-HMAC-SHA256 Credential={target.access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    lines.append(f"Content-Length: {encoded}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _body(data: bytes) -> bytes:
    framed = b"".join(
        b"%x\r\n" % len(data[at : at + CHUNK]) + data[at : at + CHUNK] + b"\r\n"
        for at in range(0, len(data), CHUNK)
    )
    value = b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    return framed + f"0\r\n{TRAILER}:{value}\r\n\r\n".encode()


def _put(connection: http.client.HTTPConnection, target: Target, key: str, data: bytes) -> None:
    body = _body(data)
    assert connection.sock is not None
    connection.sock.sendall(_head(target, key, len(data), len(body)) + body)
    response = http.client.HTTPResponse(connection.sock, method="PUT")
    response.begin()
    answer = response.read()
    loadgen.expect(response.status, 200, f"{target.name} PUT {key}", answer)


def _small_round(target: Target, pid: int, count: int) -> tuple[float, float]:
    """(proxy CPU µs per PUT, median latency ms) of ``count`` sequential 1 KiB trailer PUTs."""
    host, port = target.host_port
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.connect()
    data = os.urandom(1024)
    latencies = []
    before = server_cpu_seconds(pid)
    try:
        for index in range(count):
            started = time.perf_counter()
            _put(connection, target, f"small/{index % 64}", data)
            latencies.append(time.perf_counter() - started)
    finally:
        connection.close()
    cpu = server_cpu_seconds(pid) - before
    return cpu / count * 1e6, statistics.median(latencies) * 1e3


def _large_round(target: Target, pid: int, data: bytes) -> tuple[float, float]:
    """(MB/s, proxy CPU s/GB) of one large trailer PUT."""
    host, port = target.host_port
    connection = http.client.HTTPConnection(host, port, timeout=300)
    connection.connect()
    before = server_cpu_seconds(pid)
    started = time.perf_counter()
    try:
        _put(connection, target, "large", data)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    cpu = server_cpu_seconds(pid) - before
    return len(data) / seconds / 1e6, cpu / (len(data) / 1e9)


def _summary(label: str, unit: str, results: dict[str, list[float]], lower_is_better: bool) -> str:
    a, b = results["A"], results["B"]
    won = sum((y < x) == lower_is_better and y != x for x, y in zip(a, b, strict=True))
    ratio = statistics.median(y / x for x, y in zip(a, b, strict=True) if x > 0)
    return (
        f"{label}: A {statistics.median(a):.1f} {unit}, B {statistics.median(b):.1f} {unit}, "
        f"B/A per pair {ratio:.3f} (B better in {won} of {len(a)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--small", type=int, default=400, help="1 KiB PUTs per round")
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args(argv)
    large = os.urandom(args.size_mib * 1024 * 1024)
    cpu_small: dict[str, list[float]] = {"A": [], "B": []}
    latency: dict[str, list[float]] = {"A": [], "B": []}
    rate: dict[str, list[float]] = {"A": [], "B": []}
    cpu_large: dict[str, list[float]] = {"A": [], "B": []}
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="s3proxy-trailer-ab-") as tmp:
        work = Path(tmp)
        with upstream("seaweedfs", work) as server, ExitStack() as stack:
            targets, pids = {}, {}
            for name, tree in (("A", args.a_tree), ("B", args.b_tree)):
                (work / name).mkdir()
                proxy = stack.enter_context(
                    proxy_in_front_of(
                        server, work / name, AK, SK, access_log=True,
                        server_options={"workers": 1}, tree=tree,
                    )
                )  # fmt: skip
                targets[name] = Target(name, proxy.endpoint, AK, SK, f"trailer-{name.lower()}")
                status, _, body, _ = loadgen.blocking_request(targets[name], "PUT", None)
                loadgen.expect(status, 200, f"{name} CreateBucket", body)
                pids[name] = proxy.process.pid
                _small_round(targets[name], pids[name], 50)  # warm: imports, connections
            for pair in range(args.pairs):
                order = ("A", "B") if pair % 2 == 0 else ("B", "A")
                for name in order:
                    cpu, ms = _small_round(targets[name], pids[name], args.small)
                    cpu_small[name].append(cpu)
                    latency[name].append(ms)
                for name in order:
                    mbps, per_gb = _large_round(targets[name], pids[name], large)
                    rate[name].append(mbps)
                    cpu_large[name].append(per_gb)
                print(
                    f"pair {pair}: 1 KiB CPU A {cpu_small['A'][-1]:.0f} B {cpu_small['B'][-1]:.0f}"
                    f" µs, p50 A {latency['A'][-1]:.2f} B {latency['B'][-1]:.2f} ms; "
                    f"{args.size_mib} MiB A {rate['A'][-1]:.0f} B {rate['B'][-1]:.0f} MB/s, "
                    f"CPU A {cpu_large['A'][-1]:.2f} B {cpu_large['B'][-1]:.2f} s/GB",
                    flush=True,
                )
    print(_summary("1 KiB trailer PUT proxy CPU", "µs", cpu_small, True))
    print(_summary("1 KiB trailer PUT p50", "ms", latency, True))
    print(_summary(f"{args.size_mib} MiB trailer PUT rate", "MB/s", rate, False))
    print(_summary(f"{args.size_mib} MiB trailer PUT proxy CPU", "s/GB", cpu_large, True))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
