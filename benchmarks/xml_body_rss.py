"""Peak RSS of a one-worker proxy while one tenant sends many large DeleteObjects at once.

XML request bodies are read whole (DeleteObjects up to 6 MiB since wave 11 A). Wave 11 K reads
a body declared over 1 MiB only while its request holds one of the tenant's
``max_concurrent_expensive`` slots (default 4 per worker); before, every request slot (64) could
hold one. For each tree (A, B), interleaved over ``--pairs`` rounds: a fresh one-worker proxy on
the embedded local store, a bucket, then ``--concurrency`` DeleteObjects at once, each a body of
``--keys`` keys of ``--key-chars`` '&' escaped as SDKs write them (``&amp;``: 5 bytes a
character), Quiet, sent slowly (all but the last KiB, then the rest together after
3 s; ``max_wait`` 300 s so none is refused); reported: the worker's VmHWM over the burst minus
its RSS before it (MiB), and the answers' statuses. No assertion: figures for BENCHMARKS.md. Usage:

    python -m benchmarks.xml_body_rss --a-tree /tmp/w11-base --b-tree . [--pairs 3]
        [--concurrency 32] [--keys 380] [--key-chars 1000]
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import http.client
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from benchmarks.harness import reset_peak_rss
from tests.support.processes import ProxyProcess, free_port, peak_rss, write_config
from tests.support.s3http import sign

AK, SK = "AKXMLBODYRSS0000001", "xml-body-rss-secret-0123456789abcdef"
MiB = 1024 * 1024
SETTLE = 3.0


def _body(keys: int, chars: int) -> bytes:
    entry = "<Object><Key>" + "&amp;" * chars + "{n}</Key></Object>"
    items = "".join(entry.format(n=n) for n in range(keys))
    return f"<Delete><Quiet>true</Quiet>{items}</Delete>".encode()


def _post(port: int, body: bytes, go: threading.Event) -> int:
    """One DeleteObjects from a slow client: all but its last KiB, then the rest once ``go``
    is set (so every request's body is in flight at once)."""
    url = f"http://127.0.0.1:{port}/docs?delete"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers = sign("POST", url, AK, SK, {"Content-MD5": md5}, body)
    headers["Content-Length"] = str(len(body))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.putrequest("POST", "/docs?delete", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body[:-1024])
        go.wait()
        connection.send(body[-1024:])
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _worker(pid: int) -> int:
    children = psutil.Process(pid).children(recursive=True)
    return children[0].pid if children else pid


def _round(tree: Path, body: bytes, concurrency: int) -> tuple[float, collections.Counter[int]]:
    with tempfile.TemporaryDirectory(prefix="w11k-rss-") as work:
        port, admin = free_port(), free_port()
        settings = {
            "server": {
                "port": port,
                "admin_port": admin,
                "secret": "x" * 32,
                "workers": 1,
                "limits": {"max_wait": 300},
            },
            "upstreams": {"store": {"type": "local", "path": str(Path(work) / "store")}},
            "tenants": {
                "bench": {
                    "keys": [{"access_key": AK, "secret_key": SK}],
                    "home": {"upstream": "store", "bucket": "home"},
                }
            },
            "logging": {"access_log": False},
        }
        config = write_config(Path(work) / "s3proxy.yaml", settings)
        proxy = ProxyProcess.start(
            config, admin_port=admin, log_path=Path(work) / "proxy.log", cwd=tree
        )
        try:
            url = f"http://127.0.0.1:{port}/docs"
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("PUT", "/docs", headers=sign("PUT", url, AK, SK))
            assert connection.getresponse().status == 200
            connection.close()
            ready = threading.Event()
            ready.set()
            _post(port, _body(1, 10), ready)  # warm: imports, first parse
            worker = _worker(proxy.pid)
            before = psutil.Process(worker).memory_info().rss
            reset_peak_rss(worker)
            go = threading.Event()
            with ThreadPoolExecutor(concurrency) as pool:
                answers = [pool.submit(_post, port, body, go) for _ in range(concurrency)]
                time.sleep(SETTLE)  # the proxy reads what it will of every body
                go.set()
                statuses = collections.Counter(answer.result() for answer in answers)
            return (peak_rss(worker) - before) / MiB, statuses
        finally:
            proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, default=Path("."))
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keys", type=int, default=380)
    parser.add_argument("--key-chars", type=int, default=1000)
    args = parser.parse_args()
    body = _body(args.keys, args.key_chars)
    print(f"body {len(body) / MiB:.2f} MiB x {args.concurrency} at once, one worker")
    growth: dict[str, list[float]] = {"A": [], "B": []}
    wins = 0
    for pair in range(args.pairs):
        order = [("A", args.a_tree), ("B", args.b_tree)]
        if pair % 2:
            order.reverse()
        result = {}
        for name, tree in order:
            mib, statuses = _round(tree.resolve(), body, args.concurrency)
            growth[name].append(mib)
            result[name] = mib
            print(f"pair {pair} {name}: peak RSS +{mib:.1f} MiB, answers {dict(statuses)}")
        wins += result["B"] < result["A"]
    for name, values in growth.items():
        print(f"{name}: median peak RSS growth {statistics.median(values):.1f} MiB")
    print(f"B lower in {wins} of {args.pairs} pairs")


if __name__ == "__main__":
    main()
