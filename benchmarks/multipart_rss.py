"""Peak RSS of the proxy while a large multipart upload runs through it, parts in parallel.

Starts SeaweedFS and the proxy on free loopback ports, creates an upload, sends SIZE bytes as
PART-sized parts with CONCURRENCY parts in flight at once (each PUT UNSIGNED-PAYLOAD, streamed
from a generator: a client thread holds 1 MiB), completes it, checks the ETag (MD5 of the part
MD5s) and the bytes read back (SHA-256, streamed), and reports the proxy's VmHWM (true peak RSS)
before and after, plus throughput. Usage:

    python -m benchmarks.multipart_rss [--size-mib 1024] [--part-mib 8] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import proxy_in_front_of  # noqa: E402
from tests.support.processes import SeaweedFS, peak_rss  # noqa: E402
from tests.support.s3http import sign  # noqa: E402

AK, SK = "AKBENCH0000000000001", "bench-secret-key-0123456789abcdef"
BLOCK_SIZE = 1024 * 1024
MiB = 1024 * 1024


def block(part: int, index: int) -> bytes:
    """Deterministic, incompressible-enough content, different for every MiB of every part."""
    seed = hashlib.sha256(f"{part}/{index}".encode()).digest()
    return seed * (BLOCK_SIZE // len(seed))


def part_body(part: int, part_mib: int) -> Iterator[bytes]:
    for index in range(part_mib):
        yield block(part, index)


def request(
    endpoint: str, method: str, path: str, query: str = "", body: object = None, length: int = 0
) -> tuple[int, dict[str, str], bytes]:
    url = f"{endpoint}{path}" + (f"?{query}" if query else "")
    headers = sign(method, url, AK, SK, payload_hash="UNSIGNED-PAYLOAD")
    if method in ("PUT", "POST"):
        headers["Content-Length"] = str(length)
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    try:
        connection.request(
            method, path + (f"?{query}" if query else ""), body=body, headers=headers
        )  # type: ignore[arg-type]
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def upload_part(endpoint: str, key: str, upload_id: str, number: int, part_mib: int) -> str:
    status, headers, body = request(
        endpoint,
        "PUT",
        f"/bench/{key}",
        f"partNumber={number}&uploadId={quote(upload_id, safe='')}",
        part_body(number, part_mib),
        part_mib * BLOCK_SIZE,
    )
    if status != 200:
        raise SystemExit(f"UploadPart {number} failed: {status} {body[:300]!r}")
    return headers["ETag"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    parts = args.size_mib // args.part_mib
    size = parts * args.part_mib * MiB
    expected_sha = hashlib.sha256()
    part_md5s = []
    for number in range(1, parts + 1):
        md5 = hashlib.md5()
        for chunk in part_body(number, args.part_mib):
            md5.update(chunk)
            expected_sha.update(chunk)
        part_md5s.append(md5.digest())
    expected_etag = f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{parts}"'

    with tempfile.TemporaryDirectory(prefix="s3proxy-bench-") as tmp:
        work = Path(tmp)
        seaweed = SeaweedFS.start(work / "seaweed", "benchadmin", "benchadmin-secret-key")
        try:
            with proxy_in_front_of(seaweed, work, AK, SK) as proxy:
                endpoint = proxy.endpoint
                status, _, body = request(endpoint, "PUT", "/bench")
                if status != 200:
                    raise SystemExit(f"CreateBucket failed: {status} {body[:300]!r}")
                baseline = peak_rss(proxy.process.pid)

                started = time.perf_counter()
                status, _, body = request(endpoint, "POST", "/bench/object", "uploads")
                match = re.search(rb"<UploadId>([^<]+)</UploadId>", body)
                if status != 200 or match is None:
                    raise SystemExit(f"CreateMultipartUpload failed: {status} {body[:300]!r}")
                upload_id = match.group(1).decode()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    etags = list(
                        pool.map(
                            lambda n: upload_part(endpoint, "object", upload_id, n, args.part_mib),
                            range(1, parts + 1),
                        )
                    )
                upload_seconds = time.perf_counter() - started
                after_parts = peak_rss(proxy.process.pid)
                listing = "".join(
                    f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                    for n, etag in enumerate(etags, start=1)
                )
                xml = f"<CompleteMultipartUpload>{listing}</CompleteMultipartUpload>".encode()
                status, _, body = request(
                    endpoint,
                    "POST",
                    "/bench/object",
                    f"uploadId={quote(upload_id, safe='')}",
                    xml,
                    len(xml),
                )
                if status != 200 or expected_etag.encode() not in body.replace(b"&#34;", b'"'):
                    raise SystemExit(f"CompleteMultipartUpload failed: {status} {body[:300]!r}")
                total_seconds = time.perf_counter() - started
                after_complete = peak_rss(proxy.process.pid)

                url = f"{endpoint}/bench/object"
                headers = sign("GET", url, AK, SK)
                connection = http.client.HTTPConnection(
                    "127.0.0.1", int(endpoint.rsplit(":", 1)[1]), timeout=600
                )
                connection.request("GET", "/bench/object", headers=headers)
                response = connection.getresponse()
                digest, received = hashlib.sha256(), 0
                while chunk := response.read(MiB):
                    digest.update(chunk)
                    received += len(chunk)
                connection.close()
                if received != size or digest.hexdigest() != expected_sha.hexdigest():
                    raise SystemExit("GET returned different bytes")

                mib = float(MiB)
                print(
                    f"object size           {args.size_mib} MiB as {parts} parts of "
                    f"{args.part_mib} MiB, {args.concurrency} in flight (ETag and bytes verified)"
                )
                print(f"upload (parts)        {size / mib / upload_seconds:8.1f} MiB/s")
                print(f"upload (+ complete)   {size / mib / total_seconds:8.1f} MiB/s")
                print(f"proxy peak RSS idle   {baseline / mib:8.1f} MiB")
                for label, peak in (("parts", after_parts), ("complete", after_complete)):
                    growth = (peak - baseline) / mib
                    print(f"proxy peak RSS {label:9s}{peak / mib:8.1f} MiB (+{growth:.1f})")
        finally:
            seaweed.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
