"""One tenant's connections, another tenant's GETs (wave 16 F).

Two one-worker proxies in turn, a baseline tree (A) and a candidate tree (B), each with tenants
a and b in front of one SeaweedFS. For each proxy, interleaved over ``--pairs`` rounds (the
order alternating): tenant b's 1 KiB GET latency (p50/p99, 4 connections, ``--seconds``) and
failures with a idle, then while a (in its own process) holds ``--count`` of one thing:

- ``idle``: keep-alive connections, one GET each, then left idle (run it with the connection
  bounds at ``--count``, as behind a TCP balancer: ``--bound``);
- ``slowread``: GETs of 8 MiB objects read at ``--rate`` bytes a second (receive buffer 4 KiB);
- ``slowput``: PUTs announcing 1,000,000 bytes, sending 100 bytes a second.

Also the worker's RSS in both phases and a's answers. No assertion: figures for BENCHMARKS.md
"Wave 16 F". Usage:

    python -m benchmarks.connection_fairness --a-tree /tmp/w16-base --b-tree . idle \\
        [--count 1000] [--bound 1000] [--engine uvicorn|hypercorn] [--pairs 2] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from benchmarks.fairness import KEYS, OBJECTS, SMALL, _answer, _latencies, _ms, settings_for
from benchmarks.harness import create_upstream_bucket, s3_client, upstream
from benchmarks.loadgen import Target, request_bytes
from tests.support.processes import ProxyProcess, free_port, write_config

BIG = 8 * 1024 * 1024


async def _slow_reader(
    a: Target, n: int, rate: float, stop: asyncio.Event, out: Counter[str]
) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, a.host_port)
        head, _ = request_bytes(a, "GET", f"big-{n % 4}")
        await loop.sock_sendall(sock, head)
        first = True
        while not stop.is_set():
            data = await loop.sock_recv(sock, 1024)
            if not data:
                out["closed"] += 1
                return
            if first:
                out[data[9:12].decode(errors="replace")] += 1
                first = False
            await asyncio.sleep(1024 / rate)
        out["held to the end"] += 1
    except ConnectionError:
        out["reset"] += 1
    finally:
        sock.close()


async def _slow_put(a: Target, n: int, stop: asyncio.Event, out: Counter[str]) -> None:
    _, writer = await asyncio.open_connection(*a.host_port)
    head, _ = request_bytes(a, "PUT", f"slow-{n}", (), 1_000_000)
    writer.write(head)
    try:
        while not stop.is_set():
            writer.write(b"x" * 100)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        out["held to the end"] += 1
    except ConnectionError:
        out["reset"] += 1
    finally:
        writer.close()


async def _idle(a: Target, stop: asyncio.Event, out: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection(*a.host_port)
        head, _ = request_bytes(a, "GET", "small")
        writer.write(head)
        status, _ = await _answer(reader)
        out[str(status)] += 1
        await stop.wait()
        writer.close()
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
        out[type(error).__name__] += 1


async def _attack(args: argparse.Namespace, a: Target, ready: Any, stop: Any) -> dict[str, int]:
    out: Counter[str] = Counter()
    ending = asyncio.Event()
    if args.kind == "slowread":
        work = [_slow_reader(a, n, args.rate, ending, out) for n in range(args.count)]
    elif args.kind == "slowput":
        work = [_slow_put(a, n, ending, out) for n in range(args.count)]
    else:
        work = [_idle(a, ending, out) for _ in range(args.count)]
    tasks = [asyncio.ensure_future(each) for each in work]
    await asyncio.sleep(2.0)
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.05)
    ending.set()
    await asyncio.wait(tasks, timeout=10)
    return dict(out)


def _attacker(args: argparse.Namespace, a: Target, ready: Any, stop: Any, pipe: Any) -> None:
    """Tenant a, in its own process: its load must not share b's event loop."""
    pipe.send(asyncio.run(_attack(args, a, ready, stop)))


def _rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    every = [process, *process.children(recursive=True)]
    return round(sum(each.memory_info().rss for each in every) / 2**20, 1)


def _round(args: argparse.Namespace, targets: dict[str, Target], pid: int) -> dict[str, Any]:
    idle, _ = asyncio.run(_latencies(targets["b"], 4, args.seconds))
    rss_idle = _rss_mib(pid)
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    attacker = context.Process(target=_attacker, args=(args, targets["a"], ready, stop, sending))
    attacker.start()
    try:
        ready.wait(60)
        time.sleep(1.0)
        loaded, failures = asyncio.run(_latencies(targets["b"], 4, args.seconds))
        rss_loaded = _rss_mib(pid)
        stop.set()
        answers = receiving.recv()
    finally:
        stop.set()
        attacker.join(60)
    return {
        "idle_p50_ms": round(1000 * statistics.median(idle), 2),
        "idle_p99_ms": _ms(idle, 0.99),
        "loaded_p50_ms": round(1000 * statistics.median(loaded), 2),
        "loaded_p99_ms": _ms(loaded, 0.99),
        "b_requests": len(loaded),
        "b_failures": failures,
        "rss_mib": [rss_idle, rss_loaded],
        "a_answers": answers,
    }


@contextlib.contextmanager
def _proxy(args: argparse.Namespace, tree: str, work: Path, server: Any) -> Any:
    port, admin_port = free_port(), free_port()
    options: dict[str, Any] = {"workers": 1, "engine": args.engine}
    if args.bound:
        options.update(max_client_connections=args.bound, max_connections_per_client=args.bound)
    config = write_config(work / "s3proxy.yaml", settings_for(server, port, admin_port, options))
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=Path(tree)
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        targets = {}
        for name, (key, secret) in KEYS.items():
            client = s3_client(endpoint, key, secret)
            with contextlib.suppress(client.exceptions.ClientError):  # the other proxy's
                client.create_bucket(Bucket=f"conn-{name}")
            targets[name] = Target(name, endpoint, key, secret, f"conn-{name}")
        b = s3_client(endpoint, *KEYS["b"])
        for n in range(OBJECTS):
            b.put_object(Bucket="conn-b", Key=f"obj-{n}", Body=SMALL)
        a = s3_client(endpoint, *KEYS["a"])
        a.put_object(Bucket="conn-a", Key="small", Body=SMALL)
        if args.kind == "slowread":
            for n in range(4):
                a.put_object(Bucket="conn-a", Key=f"big-{n}", Body=b"y" * BIG)
        yield targets, process.pid
    finally:
        process.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-connfair-") as tmp,
        upstream("seaweedfs", Path(tmp)) as server,
    ):
        create_upstream_bucket(server)
        for pair in range(args.pairs):
            order = ("A", "B") if pair % 2 == 0 else ("B", "A")
            for name in order:
                tree = args.a_tree if name == "A" else args.b_tree
                work = Path(tmp) / f"{name}{pair}"
                work.mkdir()
                with _proxy(args, tree, work, server) as (targets, pid):
                    figures = _round(args, targets, pid)
                print(name, json.dumps(figures), flush=True)
                rounds[name].append(figures)
    return {
        name: {
            figure: statistics.median(r[figure] for r in results)
            for figure in ("idle_p50_ms", "loaded_p50_ms", "loaded_p99_ms", "b_failures")
        }
        for name, results in rounds.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--a-tree", required=True)
    parser.add_argument("--b-tree", required=True)
    parser.add_argument("kind", choices=("idle", "slowread", "slowput"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--bound", type=int, default=0, help="both connection bounds (0: defaults)")
    parser.add_argument("--rate", type=float, default=1024.0, help="slowread: bytes a second")
    parser.add_argument("--engine", choices=("uvicorn", "hypercorn"), default="uvicorn")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
