"""Listing 10,000 keys: through the proxy (16 shards) vs the same listing directly upstream.

Starts an upstream (SeaweedFS, or Ceph RGW with --upstream ceph), a TCP relay that counts the
HTTP requests the proxy sends upstream, and the proxy behind it. Uploads N keys through the
proxy, then lists them all with boto3's ListObjectsV2 paginator (1000 per page) through the
proxy and, directly on the upstream, under the bucket's upstream root. Usage:

    python -m benchmarks.listing [--keys 10000] [--shards 16] [--upstream seaweedfs|ceph]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import UPSTREAM_BUCKET, proxy_in_front_of, s3_client  # noqa: E402
from tests.support.processes import SeaweedFS, free_port  # noqa: E402

AK, SK = "AKLIST00000000000001", "listing-bench-secret-key-01234"


class CountingRelay:
    """127.0.0.1:port → upstream, counting request lines sent upstream (GETs have no body)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port)
        )
        del server
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count:
                        self.requests += data.count(b" HTTP/1.1\r\n")
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(
            pipe(reader, up_writer, True), pipe(up_reader, writer, False), return_exceptions=True
        )


def list_all(client: Any, bucket: str, prefix: str = "") -> tuple[int, float, int]:
    started = time.perf_counter()
    count = pages = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        count += page.get("KeyCount", 0)
        pages += 1
    return count, time.perf_counter() - started, pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3proxy-listing-") as tmp:
        work = Path(tmp)
        server: Any
        if args.upstream == "ceph":
            from conformance.ceph_rgw import CephRGW, ensure_installed

            ensure_installed()
            server = CephRGW.start(work / "ceph")
        else:
            server = SeaweedFS.start(work / "seaweed", "benchadmin", "benchadmin-secret-key")
        try:
            upstream = s3_client(server.endpoint, server.access_key, server.secret_key)
            relay = CountingRelay(int(server.endpoint.rsplit(":", 1)[1]))
            relayed = f"http://127.0.0.1:{relay.port}"
            with proxy_in_front_of(
                server, work, AK, SK, shards=args.shards, endpoint=relayed
            ) as proxy:
                client = s3_client(proxy.endpoint, AK, SK)
                client.create_bucket(Bucket="many")
                keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(args.keys)]
                with ThreadPoolExecutor(16) as pool:
                    list(
                        pool.map(lambda k: client.put_object(Bucket="many", Key=k, Body=b"x"), keys)
                    )
                proxy_times, direct_times, requests = [], [], []
                for _ in range(args.rounds):
                    before = relay.requests
                    count, seconds, pages = list_all(client, "many")
                    requests.append(relay.requests - before)
                    proxy_times.append(seconds)
                    assert count == args.keys, count
                    count, seconds, direct_pages = list_all(
                        upstream, UPSTREAM_BUCKET, "bench/many/"
                    )
                    direct_times.append(seconds)
                    assert count == args.keys, count
                p, d = statistics.median(proxy_times), statistics.median(direct_times)
                sent = statistics.median(requests)
                print(f"upstream               {args.upstream}, {args.keys} keys")
                print(f"shards                 {args.shards}")
                print(f"through the proxy      {p:.3f} s median of {args.rounds}, {pages} pages,")
                print(f"                       {sent:.0f} upstream requests")
                print(f"directly upstream      {d:.3f} s median, {direct_pages} requests")
                print(f"ratio proxy / direct   {p / d:.2f}x time")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
