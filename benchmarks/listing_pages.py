"""Where a sharded listing page's wall time goes: the fan-out, the refills, the proxy's own CPU.

``benchmarks.listing`` says how long 10,000 keys take through the proxy against direct; this
says why, page by page. The proxy is started with a ``sitecustomize`` hook on its path (nothing
in ``s3proxy`` changes, no cost when the hook is absent) that wraps ``listing.merge_listing``
and ``listing._refill`` and writes one JSON line per client page: its wall time, when each
upstream shard request began and ended, how many refill rounds the page waited for, the
worker thread's CPU and its involuntary context switches (each one a time the proxy was
runnable but the CPU went to someone else, typically the upstream it had just woken with a
request). The report is the medians over pages:

- *fan-out*: from the page's start until the last shard of the first round answered; its
  *send spread* is how long after the first shard request the last one was sent (all are
  sent at once by one ``gather``: a spread means the proxy lost the CPU between them), and
  *slowest − median* how much later than the typical shard the slowest one answered;
- *refills*: rounds per page and their wall time (each a serial round trip);
- *after*: from the last answer to the page's return (the merge; the response is rendered
  after that, outside the wrapper).

Direct's page time (one 1,000-key request, same keys) is printed for reference. Usage:

    python -m benchmarks.listing_pages [--keys 10000] [--shards 16] [--rounds 3]
                                       [--upstream seaweedfs|ceph] [--workers 1]
                                       [--candidate DIR|REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import UPSTREAM_BUCKET, proxy_settings, s3_client, upstream  # noqa: E402
from benchmarks.listing import AK, DIRECT_BUCKET, SK, populate, source_of  # noqa: E402
from benchmarks.loadgen import Target  # noqa: E402
from tests.support.processes import ProxyProcess, free_port, write_config  # noqa: E402

HOOK = '''
"""benchmarks.listing_pages: one JSON line per merged listing page, to S3PROXY_PAGE_LOG."""
import functools, json, os, resource, time

def _install(path):
    from s3proxy import listing

    merge, refill = listing.merge_listing, listing._refill
    state = {}

    async def timed_refill(*args, **kwargs):
        started = time.perf_counter()
        await refill(*args, **kwargs)
        state["refills"].append((started - state["t0"], time.perf_counter() - state["t0"]))

    @functools.wraps(merge)
    async def timed_merge(roots, query, fetch, *args, **kwargs):
        fetches = []

        async def timed_fetch(*fetch_args):
            started = time.perf_counter()
            page = await fetch(*fetch_args)
            fetches.append((started - t0, time.perf_counter() - t0))
            return page

        usage = resource.getrusage(resource.RUSAGE_THREAD)
        t0 = time.perf_counter()
        state.update(t0=t0, refills=[])
        page = await merge(roots, query, timed_fetch, *args, **kwargs)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_THREAD)
        with open(f"{path}.{os.getpid()}", "a") as out:
            out.write(json.dumps({
                "shards": len(roots), "wall": wall, "fetches": fetches,
                "refills": state["refills"],
                "cpu": (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime),
                "preempted": after.ru_nivcsw - usage.ru_nivcsw,
            }) + "\\n")
        return page

    listing.merge_listing, listing._refill = timed_merge, timed_refill

if os.environ.get("S3PROXY_PAGE_LOG"):
    _install(os.environ["S3PROXY_PAGE_LOG"])
'''


def page_figures(record: dict[str, Any]) -> dict[str, float]:
    """One page's figures, in milliseconds (``preempted``: a count)."""
    shards = int(record["shards"])
    first = sorted(record["fetches"], key=lambda fetch: float(fetch[0]))[:shards]
    ends = sorted(float(end) for _, end in first)
    starts = [float(start) for start, _ in first]
    refills = record["refills"]
    last_answer = max(float(end) for _, end in record["fetches"])
    return {
        "wall": record["wall"] * 1e3,
        "fan-out": ends[-1] * 1e3,
        "send spread": (max(starts) - min(starts)) * 1e3,
        "slowest − median": (ends[-1] - statistics.median(ends)) * 1e3,
        "refill rounds": float(len(refills)),
        "refill wall": sum(float(end) - float(start) for start, end in refills) * 1e3,
        "after": (record["wall"] - last_answer) * 1e3,
        "cpu": record["cpu"] * 1e3,
        "preempted": float(record["preempted"]),
    }


def report(records: list[dict[str, Any]], direct_pages: list[float]) -> None:
    figures = [page_figures(record) for record in records if record["fetches"]]
    print(f"{len(figures)} client pages through the proxy (medians; ms unless said)")
    for name in figures[0]:
        values = [figure[name] for figure in figures]
        print(f"  {name:18s} {statistics.median(values):8.1f}   (max {max(values):.1f})")
    print(f"direct: {statistics.median(direct_pages) * 1e3:.1f} ms a 1,000-key page (median)")


def upstream_ports(pid: int, endpoint: str) -> set[int]:
    """Local ports of the proxy's open connections to the upstream (its pool)."""
    port = urlsplit(endpoint).port
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {
        connection.laddr.port
        for process in processes
        for connection in process.net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == port and connection.status == "ESTABLISHED"
    }


def list_pages(target: Target) -> list[float]:
    """Seconds per ListObjectsV2 page of 1,000 keys, listing everything once."""
    times: list[float] = []
    token: str | None = None
    while True:
        query = [("list-type", "2"), ("max-keys", "1000")]
        if token is not None:
            query.append(("continuation-token", token))
        started = time.perf_counter()
        status, _, body, _ = loadgen.blocking_request(target, "GET", None, query)
        times.append(time.perf_counter() - started)
        loadgen.expect(status, 200, f"{target.name} ListObjectsV2", body)
        start = body.find(b"<NextContinuationToken>")
        if b"<IsTruncated>true</IsTruncated>" not in body or start < 0:
            return times
        end = body.find(b"</NextContinuationToken>", start)
        token = body[start + len(b"<NextContinuationToken>") : end].decode().replace("&amp;", "&")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--workers", type=int, default=1, help="the proxy's (default 1)")
    parser.add_argument("--candidate", help="git revision or directory measured (default: here)")
    args = parser.parse_args()
    keys = [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(args.keys)]
    with tempfile.TemporaryDirectory(prefix="s3proxy-pages-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        cwd = source_of(args.candidate, work / "cand") if args.candidate else REPO
        hook = work / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        server = stack.enter_context(upstream(args.upstream, work))
        admin = s3_client(server.endpoint, server.access_key, server.secret_key)
        admin.create_bucket(Bucket=UPSTREAM_BUCKET)
        admin.create_bucket(Bucket=DIRECT_BUCKET)
        port, admin_port = free_port(), free_port()
        settings = proxy_settings(server, port, admin_port, AK, SK, shards=args.shards)
        settings["server"]["workers"] = args.workers
        config = write_config(work / "s3proxy.yaml", settings)
        log = work / "pages"
        env = dict(os.environ, S3PROXY_PAGE_LOG=str(log))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
        process = ProxyProcess.start(
            config, admin_port=admin_port, log_path=work / "proxy.log", cwd=cwd, env=env
        )
        stack.callback(process.stop)
        proxied = Target("s3proxy", f"http://127.0.0.1:{port}", AK, SK, "many")
        direct = Target(
            "direct", server.endpoint, server.access_key, server.secret_key, DIRECT_BUCKET
        )
        status, _, body, _ = loadgen.blocking_request(proxied, "PUT", None)
        loadgen.expect(status, 200, "CreateBucket through the proxy", body)
        populate(proxied, keys)
        populate(direct, keys)
        direct_pages: list[float] = []
        pooled = upstream_ports(process.pid, server.endpoint)
        opened: set[int] = set()
        for _ in range(args.rounds):
            direct_pages += list_pages(direct)
            list_pages(proxied)
            opened |= upstream_ports(process.pid, server.endpoint) - pooled
        records = [
            json.loads(line)
            for path in work.glob("pages.*")
            for line in path.read_text().splitlines()
        ]
        print(f"upstream {args.upstream}, {args.keys} keys, {args.shards} shards, ", end="")
        print(f"{args.workers} worker(s), {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
        report(records, direct_pages)
        print(f"upstream connections pooled before listing: {len(pooled)}, ", end="")
        print(f"opened while listing and still open: {len(opened)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
