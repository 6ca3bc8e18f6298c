"""Fairness scenario (issue 15): a hostile tenant must not slow another one down.

Tenant A opens ``--stalls`` uploads announcing 1,000,000 bytes, sends one byte of each and
holds them, while ``--fast-puts`` connections of A send 1 KiB PUTs as fast as they are answered.
Tenant B meanwhile GETs 1 KiB objects with ``--concurrency`` connections. B's latency is
measured three times in one run: with A idle, under A's load, and idle again (the idle
figures are the two idle phases together: a noisy machine drifts). Both tenants' homes are on one
SeaweedFS (or Ceph RGW) behind the shipped quick-start defaults (``workers: auto``).

Reported: B's p50/p99 in both phases and their ratio, A's PUT answers by status (A is expected
to be told 503 SlowDown: its slots are full of its own stalled uploads), and how the stalled
uploads ended (400 RequestTimeout after ``server.body_idle_timeout``). Usage:

    python -m benchmarks.fairness [--stalls 300] [--fast-puts 64] [--seconds 10]
                                  [--workers auto|N] [--upstream seaweedfs|ceph] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    UPSTREAM_BUCKET,
    create_upstream_bucket,
    proxy_settings,
    s3_client,
    upstream,
)
from benchmarks.loadgen import Target, request_bytes
from tests.support.processes import ProxyProcess, free_port, write_config

KEYS = {
    "a": ("AKFAIRA000000000001", "fair-a-secret-key-aaaaaaaa"),
    "b": ("AKFAIRB000000000002", "fair-b-secret-key-bbbbbbbb"),
}
OBJECTS = 50
SMALL = b"x" * 1024


@dataclass
class Figures:
    b_idle_p50_ms: float
    b_idle_p99_ms: float
    """Both idle phases (before A starts and after it stopped) together."""
    b_loaded_p50_ms: float
    b_loaded_p99_ms: float
    b_loaded_requests: int
    b_failures: int
    a_put_answers: dict[str, int]
    stall_answers: dict[str, int]

    @property
    def p99_ratio(self) -> float:
        return self.b_loaded_p99_ms / self.b_idle_p99_ms


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, connection closes) of one response, its body read and dropped."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
    if match is not None and int(match.group(1)):
        await reader.readexactly(int(match.group(1)))
    return int(head[9:12]), b"\r\nconnection: close" in head


async def _latencies(target: Target, concurrency: int, seconds: float) -> tuple[list[float], int]:
    host, port = target.host_port
    end = time.monotonic() + seconds
    latencies: list[float] = []
    failures = 0

    async def worker(number: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        sent = number
        try:
            while time.monotonic() < end:
                head, _ = request_bytes(target, "GET", f"obj-{sent % OBJECTS}")
                sent += concurrency
                started = time.perf_counter()
                writer.write(head)
                status, close = await _answer(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failures += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies, failures


async def _fast_puts(target: Target, connections: int, stop: asyncio.Event) -> Counter[str]:
    host, port = target.host_port
    answers: Counter[str] = Counter()

    async def worker(number: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        sent = 0
        try:
            while not stop.is_set():
                head, _ = request_bytes(target, "PUT", f"put-{number}-{sent}", (), len(SMALL))
                sent += 1
                writer.write(head + SMALL)
                try:
                    status, close = await _answer(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    answers["reset"] += 1
                    status, close = 0, True
                answers[str(status)] += status != 0
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    return answers


async def _stall(target: Target, number: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*target.host_port)
    head, _ = request_bytes(target, "PUT", f"stalled-{number}", (), 1_000_000)
    writer.write(head + b"x")
    await writer.drain()
    return reader, writer


async def _stall_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    try:
        status, _ = await asyncio.wait_for(_answer(reader), 120)
        return str(status)
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        return "no answer"
    finally:
        writer.close()


def _ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


async def _attack(a: Target, stalls: int, fast_puts: int, ready: Any, stop: Any) -> dict[str, Any]:
    held = await asyncio.gather(*(_stall(a, n) for n in range(stalls)))
    stopping = asyncio.Event()
    puts = asyncio.create_task(_fast_puts(a, fast_puts, stopping))
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.05)
    stopping.set()
    answers = await puts
    ends = await asyncio.gather(*(_stall_answer(r, w) for r, w in held))
    return {"puts": dict(answers), "stalls": dict(Counter(ends))}


def _attacker(a: Target, stalls: int, fast_puts: int, ready: Any, stop: Any, out: Any) -> None:
    """Tenant A, in its own process: its load must not share B's event loop (or its core)."""
    out.send(asyncio.run(_attack(a, stalls, fast_puts, ready, stop)))


def scenario(a: Target, b: Target, args: argparse.Namespace) -> Figures:
    idle, _ = asyncio.run(_latencies(b, args.concurrency, args.seconds))
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    attacker = context.Process(
        target=_attacker, args=(a, args.stalls, args.fast_puts, ready, stop, sending)
    )
    attacker.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("tenant A's load did not start")
        time.sleep(1.0)  # let the stalls and the PUT load take their slots
        loaded, failures = asyncio.run(_latencies(b, args.concurrency, args.seconds))
        stop.set()
        attack = receiving.recv()
    finally:
        stop.set()
        attacker.join(180)
    after, _ = asyncio.run(_latencies(b, args.concurrency, args.seconds))
    idle += after
    return Figures(
        b_idle_p50_ms=round(1000 * statistics.median(idle), 2),
        b_idle_p99_ms=_ms(idle, 0.99),
        b_loaded_p50_ms=round(1000 * statistics.median(loaded), 2),
        b_loaded_p99_ms=_ms(loaded, 0.99),
        b_loaded_requests=len(loaded),
        b_failures=failures,
        a_put_answers=attack["puts"],
        stall_answers=attack["stalls"],
    )


def settings_for(
    server: Any, port: int, admin_port: int, options: dict[str, Any]
) -> dict[str, Any]:
    settings = proxy_settings(server, port, admin_port, *KEYS["a"])
    settings["server"].update(options)
    settings["tenants"] = {
        name: {
            "keys": [{"access_key": key, "secret_key": secret}],
            "home": {"upstream": "up", "bucket": UPSTREAM_BUCKET},
        }
        for name, (key, secret) in KEYS.items()
    }
    return settings


def run(args: argparse.Namespace) -> Figures:
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-fairness-") as tmp,
        upstream(args.upstream, Path(tmp)) as server,
    ):
        create_upstream_bucket(server)
        port, admin_port = free_port(), free_port()
        options: dict[str, Any] = {
            "body_idle_timeout": args.body_idle_timeout,
            "workers": args.workers,
        }
        config = write_config(
            Path(tmp) / "s3proxy.yaml", settings_for(server, port, admin_port, options)
        )
        process = ProxyProcess.start(
            config, admin_port=admin_port, log_path=Path(tmp) / "proxy.log"
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            targets = {}
            for name, (key, secret) in KEYS.items():
                client = s3_client(endpoint, key, secret)
                client.create_bucket(Bucket=f"fair-{name}")
                targets[name] = Target(name, endpoint, key, secret, f"fair-{name}")
            b_client = s3_client(endpoint, *KEYS["b"])
            for n in range(OBJECTS):
                b_client.put_object(Bucket="fair-b", Key=f"obj-{n}", Body=SMALL)
            return scenario(targets["a"], targets["b"], args)
        finally:
            process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stalls", type=int, default=300)
    parser.add_argument("--fast-puts", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4, help="B's GET connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--body-idle-timeout", type=float, default=20.0)
    parser.add_argument("--workers", default="auto", help="server.workers (default: auto)")
    parser.add_argument("--upstream", choices=("seaweedfs", "ceph"), default="seaweedfs")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.workers != "auto":
        args.workers = int(args.workers)
    if args.seconds + 1.0 >= args.body_idle_timeout:
        parser.error("--seconds + 1 must be shorter than --body-idle-timeout: stalls must last")
    figures = run(args)
    result = {**asdict(figures), "p99_ratio": round(figures.p99_ratio, 2)}
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
