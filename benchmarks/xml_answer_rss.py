"""Memory of a one-worker proxy while many clients do not read its largest XML answers.

A listing page of 1,000 keys of ~1,000 '&' (each written ``&amp;``: 5 bytes a character), a
ListObjectVersions page, a ListMultipartUploads page of 1,000 such uploads and a non-quiet
DeleteObjects of 1,000 such keys are each ~5 MiB of XML. For each tree (A, B), interleaved over
``--pairs`` rounds: a fresh one-worker proxy (same config, same upstream, so both trees list
the same objects, seeded once), then ``--concurrency`` clients send the request at once on
sockets with a 4 KiB receive buffer and read nothing for ``--settle`` seconds; reported: the
worker's RSS at the end of that wait minus its RSS before (MiB held while the readers stall),
its VmHWM over the burst minus the same (peak); then every answer is read whole and counted
by (status, body length). No assertion: figures for BENCHMARKS.md. Usage:

    python -m benchmarks.xml_answer_rss --a-tree /tmp/w12-base --b-tree .
        [--upstream local|seaweedfs] [--kind list|versions|uploads|delete] [--pairs 3]
        [--concurrency 48] [--keys 1000] [--key-chars 1000] [--settle 4]
        [--engine uvicorn|hypercorn] [--key-encoding plain|flat]

On an S3 upstream the default key encoding (``flat``) writes '&' as 3 bytes, so keys of
more than ~330 '&' are KeyTooLongError there: ``--key-encoding plain`` for 1,000. ``--settle``
must outlast the answers' preparation: ListMultipartUploads and DeleteObjects hold
the tenant's expensive-operation slots (4 per worker), so 48 of them take several seconds.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import hashlib
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from benchmarks.harness import reset_peak_rss, s3_client, upstream
from tests.support.processes import ProxyProcess, free_port, write_config
from tests.support.s3http import sign

AK, SK = "AKXMLANSWERRSS00001", "xml-answer-rss-secret-0123456789abcdef"
MiB = 1024 * 1024
BUCKET = "answers"
RCVBUF = 4096


def _keys(count: int, chars: int) -> list[str]:
    return [f"{n:04d}" + "&" * (chars - 4) for n in range(count)]


def _delete_body(keys: list[str]) -> bytes:
    items = "".join(f"<Object><Key>{k.replace('&', '&amp;')}</Key></Object>" for k in keys)
    return f"<Delete><Quiet>false</Quiet>{items}</Delete>".encode()


def _request(kind: str, port: int, keys: list[str]) -> bytes:
    """The raw signed request of ``kind`` (a GET of a listing, or the DeleteObjects POST)."""
    target = {
        "list": f"/{BUCKET}?list-type=2",
        "versions": f"/{BUCKET}?versions",
        "uploads": f"/{BUCKET}?uploads",
        "delete": f"/{BUCKET}?delete",
    }[kind]
    url = f"http://127.0.0.1:{port}{target}"
    body = b""
    headers: dict[str, str] = {}
    method = "GET"
    if kind == "delete":
        method = "POST"
        body = _delete_body(keys)
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    signed = sign(method, url, AK, SK, headers, body)
    signed["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in signed.items())
    return (head + "\r\n").encode() + body


def _stalled(port: int, request: bytes, go: threading.Event) -> tuple[int, int]:
    """Send ``request``, read nothing until ``go``, then read the answer whole: (status,
    body length). A 4 KiB receive buffer keeps the kernel from taking the answer for us."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.settimeout(600)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        go.wait()
        data = bytearray()
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, len(_dechunk(head, body))
    finally:
        sock.close()


def _complete(data: bytearray) -> bool:
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return body.endswith(b"0\r\n\r\n")


def _dechunk(head: bytes, body: bytes) -> bytes:
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = bytearray()
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        body = rest[size + 2 :]


def _seed(endpoint: str, kind: str, keys: list[str]) -> None:
    client = s3_client(endpoint, AK, SK)
    with contextlib.suppress(Exception):
        client.create_bucket(Bucket=BUCKET)
    if kind == "delete":
        return
    if kind == "uploads":
        work = [lambda k=k: client.create_multipart_upload(Bucket=BUCKET, Key=k) for k in keys]
    else:
        work = [lambda k=k: client.put_object(Bucket=BUCKET, Key=k, Body=b"") for k in keys]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda call: call(), work))


def _worker(pid: int) -> int:
    children = psutil.Process(pid).children(recursive=True)
    return children[0].pid if children else pid


def _settings(
    port: int, admin: int, up: Any, store: Path, engine: str, encoding: str | None
) -> dict[str, Any]:
    if up is None:
        upstreams: dict[str, Any] = {"store": {"type": "local", "path": str(store)}}
    else:
        upstreams = {
            "store": {
                "endpoint": up.endpoint,
                "access_key": up.access_key,
                "secret_key": up.secret_key,
            }
        }
    return {
        "server": {
            "port": port,
            "admin_port": admin,
            "secret": "x" * 32,
            "workers": 1,
            "engine": engine,
            "limits": {"max_wait": 300, "max_concurrent_requests": 256},
        },
        "upstreams": upstreams,
        "tenants": {
            "bench": {
                "keys": [{"access_key": AK, "secret_key": SK}],
                "home": {"upstream": "store", "bucket": "home-answers"},
            }
        },
        "logging": {"access_log": False},
        "layout": {"key_encoding": encoding},
    }


@contextlib.contextmanager
def _proxy(
    tree: Path, work: Path, up: Any, args: argparse.Namespace
) -> Iterator[tuple[int, ProxyProcess]]:
    port, admin = free_port(), free_port()
    settings = _settings(port, admin, up, work / "store", args.engine, args.key_encoding)
    config = write_config(work / "s3proxy.yaml", settings)
    proxy = ProxyProcess.start(config, admin_port=admin, log_path=work / "proxy.log", cwd=tree)
    try:
        yield port, proxy
    finally:
        proxy.stop()


def _round(
    tree: Path, work: Path, up: Any, args: argparse.Namespace, keys: list[str]
) -> tuple[float, float, collections.Counter[tuple[int, int]]]:
    with _proxy(tree, work, up, args) as (port, proxy):
        request = _request(args.kind, port, keys)
        ready = threading.Event()
        ready.set()
        _stalled(port, request, ready)  # warm: imports, first answer
        worker = _worker(proxy.pid)
        before = psutil.Process(worker).memory_info().rss
        reset_peak_rss(worker)
        go = threading.Event()
        with ThreadPoolExecutor(args.concurrency) as pool:
            answers = [pool.submit(_stalled, port, request, go) for _ in range(args.concurrency)]
            time.sleep(args.settle)  # the proxy answers what it can into the stalled sockets
            held = psutil.Process(worker).memory_info().rss
            peak = _peak(worker)
            go.set()
            results = collections.Counter(answer.result() for answer in answers)
        return (held - before) / MiB, (peak - before) / MiB, results


def _peak(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, default=Path("."))
    parser.add_argument("--upstream", choices=("local", "seaweedfs"), default="local")
    parser.add_argument("--kind", choices=("list", "versions", "uploads", "delete"), default="list")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--key-chars", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--engine", choices=("uvicorn", "hypercorn"), default="uvicorn")
    parser.add_argument("--key-encoding", choices=("plain", "flat"), default=None)
    args = parser.parse_args()
    keys = _keys(args.keys, args.key_chars)
    held: dict[str, list[float]] = {"A": [], "B": []}
    peaks: dict[str, list[float]] = {"A": [], "B": []}
    wins = 0
    with tempfile.TemporaryDirectory(prefix="w12d-rss-") as tmp:
        work = Path(tmp)
        with contextlib.ExitStack() as stack:
            up = None
            if args.upstream == "seaweedfs":
                up = stack.enter_context(upstream("seaweedfs", work))
            with _proxy(args.b_tree.resolve(), work, up, args) as (port, _):
                _seed(f"http://127.0.0.1:{port}", args.kind, keys)
            print(
                f"{args.kind} on {args.upstream} ({args.engine}): {args.concurrency} stalled "
                f"readers, {args.keys} keys of {args.key_chars} chars ({quote(keys[0][:8])}...)"
            )
            for pair in range(args.pairs):
                order = [("A", args.a_tree), ("B", args.b_tree)]
                if pair % 2:
                    order.reverse()
                result = {}
                for name, tree in order:
                    mib, peak, answers = _round(tree.resolve(), work, up, args, keys)
                    held[name].append(mib)
                    peaks[name].append(peak)
                    result[name] = peak
                    print(
                        f"pair {pair} {name}: held +{mib:.1f} MiB, peak +{peak:.1f} MiB, "
                        f"answers (status, bytes) {dict(answers)}"
                    )
                wins += result["B"] < result["A"]
    for name in ("A", "B"):
        print(
            f"{name}: median held +{statistics.median(held[name]):.1f} MiB, "
            f"median peak +{statistics.median(peaks[name]):.1f} MiB"
        )
    print(f"B's peak lower in {wins} of {args.pairs} pairs")


if __name__ == "__main__":
    main()
