"""Listing 10,000 keys: through the proxy (16 shards) vs the same keys listed directly upstream.

The figure behind the target "listing 10,000 keys ≤ 2× direct": the proxy lists a bucket whose
keys are spread over shards; direct lists the same keys in a plain upstream bucket (as in
``benchmarks.compare``). The upstream requests a proxy sends are counted from its /metrics
(no relay in between: it would slow the proxy's upstream round trips and not direct's).
Rounds are interleaved (direct, proxy, [baseline proxy], rotating), the ratio to direct is
taken inside each round and the median reported, with the CPU per key listed of the proxy and
of the upstream (psutil). ``--baseline``
also runs a second proxy against the same upstream bucket: a before/after comparison in one
run on a noisy machine. ``--baseline`` and ``--candidate`` (the proxy measured; default: this
checkout) are a git revision (its ``s3proxy`` package unpacked with ``git archive``, nothing
checked out) or a directory holding an ``s3proxy`` package. Each proxy lane has its own home
prefix and is populated through itself (lanes may use different key encodings). ``--odd``
uses keys with odd names (``..``, ``//``, ``\\``, trailing ``/``, controls, non-ASCII) that a
filesystem-backed upstream folds or refuses under the ``plain`` encoding; every proxy lane's
listing is checked once to be complete and in UTF-8 byte order, before the timed rounds.
``--key-encoding`` sets the candidate's ``layout.key_encoding``. Usage:

    python -m benchmarks.listing [--keys 10000] [--shards 16] [--upstream seaweedfs|ceph]
                                 [--rounds 5] [--baseline HEAD~1] [--candidate DIR|REV]
                                 [--odd] [--key-encoding plain|flat]
                                 [--rgw-option NAME=VALUE ...]

``--rgw-option`` sets a radosgw option of the Ceph run (repeatable), e.g.
``"rgw list bucket min readahead=100"``: RGW reads at least that many index entries per
listing request whatever ``max-keys`` asks (1000 by default), which is most of what the
16 small shard listings of a page cost it (BENCHMARKS.md "Wave 17 G").
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    UPSTREAM_BUCKET,
    proxy_settings,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.loadgen import Target  # noqa: E402
from tests.support.metrics_scrape import metric_sum, scrape  # noqa: E402
from tests.support.processes import ProxyProcess, free_port, write_config  # noqa: E402

AK, SK = "AKLIST00000000000001", "listing-bench-secret-key-01234"
DIRECT_BUCKET = "list-direct"


def upstream_requests(admin_endpoint: str) -> int:
    """Upstream requests the proxy has sent, from its Prometheus histogram's counts."""
    text = scrape(admin_endpoint)
    return int(metric_sum(text, "s3proxy_upstream_request_duration_seconds_count"))


@dataclass
class Lane:
    """One thing being listed: direct, or a proxy (its process and admin endpoint)."""

    target: Target
    pid: int | None = None
    admin: str | None = None
    seconds: list[float] = field(default_factory=list)
    cpu_us_per_key: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    upstream_us_per_key: list[float] = field(default_factory=list)

    def list_once(self, keys: int, upstream_pid: int) -> None:
        cpu = server_cpu_seconds(self.pid) if self.pid else 0.0
        upstream_cpu = server_cpu_seconds(upstream_pid)
        sent = upstream_requests(self.admin) if self.admin else 0
        started = time.perf_counter()
        count = loadgen.list_all(self.target, "")
        self.seconds.append(time.perf_counter() - started)
        if count != keys:
            raise RuntimeError(f"{self.target.name} listed {count} keys, not {keys}")
        self.upstream_us_per_key.append(
            (server_cpu_seconds(upstream_pid) - upstream_cpu) / keys * 1e6
        )
        if self.pid:
            self.cpu_us_per_key.append((server_cpu_seconds(self.pid) - cpu) / keys * 1e6)
        if self.admin:
            self.requests.append(upstream_requests(self.admin) - sent)


def source_of(source: str, into: Path) -> Path:
    """A directory to start the proxy in: ``source`` itself when it holds an ``s3proxy``
    package, else the package as it was at git revision ``source``, unpacked under ``into``."""
    if (Path(source) / "s3proxy" / "__init__.py").is_file():
        return Path(source)
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", source, "s3proxy"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def odd_keys(count: int) -> list[str]:
    """``count`` distinct keys with the names filesystems misread, deterministic."""
    rng = random.Random(16)
    parts = ["..", ".", "", "a", "p", "p-q", "é", "e\u0301", "日本", "x y", "a\\b", "\x01", "~"]
    keys: set[str] = set()
    while len(keys) < count:
        name = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        keys.add(f"{name}{len(keys):05d}" + rng.choice(["", "/", "//", "."]))
    return sorted(keys)


def list_keys(target: Target) -> list[str]:
    """Every key, in the order listed (ListObjectsV2, encoding-type=url, 1000 a page)."""
    from urllib.parse import unquote

    keys: list[str] = []
    token: str | None = None
    while True:
        query = [("list-type", "2"), ("max-keys", "1000"), ("encoding-type", "url")]
        if token is not None:
            query.append(("continuation-token", token))
        status, _, body, _ = loadgen.blocking_request(target, "GET", None, query)
        loadgen.expect(status, 200, f"{target.name} ListObjectsV2", body)
        keys += [
            unquote(html.unescape(k.decode())) for k in re.findall(rb"<Key>([^<]*)</Key>", body)
        ]
        match = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if b"<IsTruncated>true</IsTruncated>" not in body or match is None:
            return keys
        token = html.unescape(match.group(1).decode())


def check_listing(target: Target, keys: list[str]) -> str:
    """'complete, byte-ordered' or what is wrong with the listing of ``keys``."""
    listed = list_keys(target)
    expected = sorted(keys, key=lambda key: key.encode())
    if listed == expected:
        return "complete, byte-ordered"
    missing = len(set(expected) - set(listed))
    extra = len(set(listed) - set(expected))
    order = "in byte order" if listed == sorted(listed, key=str.encode) else "out of byte order"
    return f"{len(listed)} listed: {missing} missing, {extra} not stored, {order}"


@contextmanager
def proxy(
    server: Any, work: Path, shards: int, cwd: Path, encoding: str | None = None
) -> Iterator[Lane]:
    """A proxy (the package found in ``cwd``) whose tenant's home is ``UPSTREAM_BUCKET``, under
    a prefix of its own (``work``'s name)."""
    work.mkdir(parents=True, exist_ok=True)
    port, admin_port = free_port(), free_port()
    settings = proxy_settings(server, port, admin_port, AK, SK, shards=shards)
    settings["tenants"]["bench"]["home"]["prefix"] = f"{work.name}/"
    if encoding is not None:
        settings["layout"]["key_encoding"] = encoding
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=cwd
    )
    try:
        target = Target(work.name, f"http://127.0.0.1:{port}", AK, SK, "many")
        yield Lane(target, process.pid, process.admin_endpoint)
    finally:
        process.stop()


def populate(target: Target, keys: list[str]) -> None:
    for start in range(0, len(keys), 2000):  # signatures stay fresh on slow targets
        requests = loadgen.small_requests(target, "PUT", keys[start : start + 2000], b"x")
        loadgen.run_small_ops(target, requests, 32)


def print_warnings(log: Path) -> None:
    """The proxy's warnings and errors (a worker that exited, a failed request), for a run that
    stopped while populating: its log is removed with the run's temporary directory."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = [line for line in text.splitlines() if _worth_showing(line)]
    print(f"{log}: {len(found)} warnings, errors and failed requests", file=sys.stderr)
    for line in found[-40:]:
        print(f"  {line[:400]}", file=sys.stderr)


def _worth_showing(line: str) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return bool(line.strip())  # a traceback
    if not isinstance(entry, dict):
        return True
    if "status" in entry:  # an access-log line
        return not 200 <= int(entry["status"]) < 300
    return entry.get("level") not in ("debug", "info")


def report(lanes: dict[str, Lane], args: argparse.Namespace) -> None:
    names = "odd names" if args.odd else "plain names"
    print(f"upstream {args.upstream}, {args.keys} keys ({names}), {args.shards} shards, ", end="")
    print(f"{args.rounds} rounds")
    print("lane           median s  × direct (min–max)  proxy µs/key  upstream µs/key  requests")
    for name, lane in lanes.items():
        line = f"{name:14s} {statistics.median(lane.seconds):8.3f}"
        if lane.ratios:
            spread = f"({min(lane.ratios):.2f}–{max(lane.ratios):.2f})"
            line += f" {statistics.median(lane.ratios):8.2f}× {spread:11s}"
            line += f" {statistics.median(lane.cpu_us_per_key):12.1f}"
        else:
            line += " " * 34
        line += f" {statistics.median(lane.upstream_us_per_key):16.1f}"
        if lane.requests:
            line += f" {statistics.median(lane.requests):9.0f}"
        print(line)
    print("(µs/key: CPU seconds of the process during the listing, per key listed)")
    if "baseline" in lanes:
        candidate, baseline = lanes["s3proxy"], lanes["baseline"]
        faster = sum(c < b for c, b in zip(candidate.seconds, baseline.seconds, strict=True))
        cheaper = sum(
            c < b for c, b in zip(candidate.cpu_us_per_key, baseline.cpu_us_per_key, strict=True)
        )
        print(f"s3proxy faster than baseline in {faster} of {args.rounds} rounds, ", end="")
        print(f"less CPU per key in {cheaper} of {args.rounds}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--upstream", choices=["seaweedfs", "ceph"], default="seaweedfs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="git revision or directory to compare with")
    parser.add_argument("--candidate", help="git revision or directory measured (default: here)")
    parser.add_argument("--odd", action="store_true", help="keys with odd names")
    parser.add_argument("--key-encoding", choices=["plain", "flat"], help="the candidate's")
    parser.add_argument(
        "--rgw-option", action="append", default=[], help="NAME=VALUE, a radosgw setting"
    )
    args = parser.parse_args()
    rgw_options = dict(option.split("=", 1) for option in args.rgw_option)
    keys = (
        odd_keys(args.keys)
        if args.odd
        else [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(args.keys)]
    )
    with tempfile.TemporaryDirectory(prefix="s3proxy-listing-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        server = stack.enter_context(upstream(args.upstream, work, rgw_options))
        admin = s3_client(server.endpoint, server.access_key, server.secret_key)
        admin.create_bucket(Bucket=UPSTREAM_BUCKET)
        admin.create_bucket(Bucket=DIRECT_BUCKET)
        upstream_pid = server.pids["radosgw"] if args.upstream == "ceph" else server.pid
        direct = Target(
            "direct", server.endpoint, server.access_key, server.secret_key, DIRECT_BUCKET
        )
        lanes = {"direct": Lane(direct)}
        sources = {"s3proxy": source_of(args.candidate, work / "cand") if args.candidate else REPO}
        if args.baseline:
            sources["baseline"] = source_of(args.baseline, work / "baseline")
        for name, cwd in sources.items():
            encoding = args.key_encoding if name == "s3proxy" else None
            lane = stack.enter_context(
                proxy(server, work / f"proxy-{len(lanes)}", args.shards, cwd, encoding)
            )
            lane.target = Target(name, lane.target.endpoint, AK, SK, "many")
            lanes[name] = lane
            status, _, body, _ = loadgen.blocking_request(lane.target, "PUT", None)
            loadgen.expect(status, 200, f"CreateBucket through {name}", body)
            try:
                populate(lane.target, keys)
            except Exception:  # the log goes with the temporary directory: say what it held
                print_warnings(work / f"proxy-{len(lanes) - 1}" / "proxy.log")
                raise
        # Direct is the speed reference: SeaweedFS folds or refuses odd names, so it lists
        # as many plain ones.
        populate(direct, [f"dir{i % 50:02d}/file-{i:06d}.txt" for i in range(args.keys)])
        for name in sources:  # printed now: a round that fails below ends the run
            print(f"{name}: {check_listing(lanes[name].target, keys)}", flush=True)
        order = list(lanes)
        for round_ in range(args.rounds):
            turn = order[round_ % len(order) :] + order[: round_ % len(order)]
            for name in turn:
                lanes[name].list_once(args.keys, upstream_pid)
            for name, lane in lanes.items():
                if name != "direct":
                    lane.ratios.append(lane.seconds[-1] / lanes["direct"].seconds[-1])
        report(lanes, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
