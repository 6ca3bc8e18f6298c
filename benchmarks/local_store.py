"""The local store against a plain file copy on the same disk: PUT and GET MB/s of big objects.

    python -m benchmarks.local_store [--size-mib 256] [--rounds 3] [--dir DIR]

A PUT through the proxy is an HTTP upload that the proxy verifies, hashes (MD5 for the ETag,
SHA-256 for the blob's name), writes to a temporary file, fsyncs and renames into the store;
the file-copy baseline is ``cp`` of the same bytes plus an fsync. A GET is an HTTP download
of the object into a file; its baseline is ``cp`` of the blob. Each round uses new random
bytes (so deduplication never skips a write) and runs proxy and baseline back to back, so
that the ratio of the two in one run is the figure to read. curl is the client (presigned
URLs: UNSIGNED-PAYLOAD, no client-side hashing), so the client is not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.harness import s3_client
from tests.support.processes import ProxyProcess, free_port, write_config

ACCESS_KEY, SECRET_KEY = "AKBENCHLOCAL00000001", "bench-local-secret-key-0123"
MiB = 1024 * 1024


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def fsynced_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def curl(*args: str) -> None:
    subprocess.run(["curl", "-sS", "--fail", *args], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="work directory on the disk to measure")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        print("curl is needed: apt-get install curl", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="s3proxy-local-bench-", dir=args.dir))
    size = args.size_mib * MiB
    port, admin_port = free_port(), free_port()
    config = write_config(
        work / "s3proxy.yaml",
        {
            "server": {"port": port, "admin_port": admin_port, "secret": "b" * 32},
            "upstreams": {"local": {"type": "local", "path": str(work / "store")}},
            "tenants": {
                "bench": {
                    "keys": [{"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}],
                    "home": {"upstream": "local", "bucket": "bench"},
                }
            },
        },
    )
    proxy = ProxyProcess.start(config, admin_port=admin_port, log_path=work / "proxy.log", cwd=work)
    figures: dict[str, list[float]] = {name: [] for name in ("put", "cp_in", "get", "cp_out")}
    try:
        s3 = s3_client(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY)
        s3.create_bucket(Bucket="bench")
        source = work / "source.bin"
        for round_number in range(args.rounds):
            with source.open("wb") as handle:
                for _ in range(args.size_mib):
                    handle.write(os.urandom(MiB))
            key = f"object-{round_number}"
            put = s3.generate_presigned_url(
                "put_object", Params={"Bucket": "bench", "Key": key}, ExpiresIn=600
            )
            get = s3.generate_presigned_url(
                "get_object", Params={"Bucket": "bench", "Key": key}, ExpiresIn=600
            )
            copy = work / f"copy-{round_number}.bin"
            out = work / "out.bin"
            figures["put"].append(timed(partial(curl, "-o", "/dev/null", "-T", str(source), put)))
            figures["cp_in"].append(timed(partial(fsynced_copy, source, copy)))
            figures["get"].append(timed(partial(curl, "-o", str(out), get)))
            figures["cp_out"].append(timed(partial(shutil.copyfile, copy, out)))
            copy.unlink()
    finally:
        proxy.stop()
        shutil.rmtree(work, ignore_errors=True)

    def rate(name: str) -> float:
        return size / MiB / statistics.median(figures[name])

    print(f"{args.size_mib} MiB objects, {args.rounds} rounds, medians (MiB/s):")
    print(
        f"  PUT through the proxy  {rate('put'):8.0f}   file copy + fsync {rate('cp_in'):8.0f}"
        f"   ratio {rate('put') / rate('cp_in'):.2f}"
    )
    print(
        f"  GET through the proxy  {rate('get'):8.0f}   file copy         {rate('cp_out'):8.0f}"
        f"   ratio {rate('get') / rate('cp_out'):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
