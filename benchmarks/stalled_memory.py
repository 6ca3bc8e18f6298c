"""What stalled downloads hold in one worker (wave 17 A): tenants × their request slots of
large GETs read slowly, against a one-worker proxy on SeaweedFS.

``--tenants`` tenants each start ``--per-tenant`` GETs of 8 MiB objects (64: a tenant's
``max_concurrent_requests`` per worker as shipped) and read each at ``--rate`` bytes a second
through a 4 KiB receive buffer: slow enough to stall the answer, fast enough (4 KiB/s = 80 KiB
per 20 s) that ``body_idle_timeout`` never ends it. After ``--settle`` seconds: the worker's RSS
and the kernel memory of its sockets (``ss -tm``: what is queued to send to the clients, read
from the upstream and not yet taken), and how the readers' answers went. Run once per tree
(``--tree``) and step: no assertion, figures for BENCHMARKS.md "Wave 17 A". Usage:

    python -m benchmarks.stalled_memory --tree . --steps 1,2,4 [--engine uvicorn|hypercorn]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import (
    UPSTREAM_BUCKET,
    create_upstream_bucket,
    proxy_settings,
    s3_client,
    upstream,
)
from benchmarks.loadgen import Target, request_bytes
from tests.support.processes import ProxyProcess, free_port, write_config

BIG = 8 * 1024 * 1024
MiB = 2**20
_SKMEM = re.compile(r"skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f(\d+),w(\d+)")


def _keys(n: int) -> tuple[str, str]:
    return f"AKSTALL{n:013d}", f"stall-secret-{n:04d}-xxxxxxxxxxxxxxxx"


async def _reader(target: Target, key: str, rate: float, out: Counter[str]) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, target.host_port)
        head, _ = request_bytes(target, "GET", key)
        await loop.sock_sendall(sock, head)
        first = True
        while True:
            data = await loop.sock_recv(sock, 1024)
            if not data:
                out["closed"] += 1
                return
            if first:
                out[data[9:12].decode(errors="replace")] += 1
                first = False
            await asyncio.sleep(len(data) / rate)
    except ConnectionError:
        out["reset"] += 1
    finally:
        sock.close()


def _socket_kib(pid: int) -> dict[str, float]:
    """Kernel memory of ``pid``'s TCP sockets (KiB): queued to send, received and unread."""
    lines = subprocess.run(
        ["ss", "-tmnpH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    send = received = 0
    mine = False
    for line in lines.split("\n"):
        match = _SKMEM.search(line)
        if match is None:  # a socket's line; its skmem follows on the next one
            mine = f"pid={pid}," in line
            continue
        if mine:
            r, _t, _f, w = (int(x) for x in match.groups())
            send += w
            received += r
    return {"send_kib": round(send / 1024), "received_kib": round(received / 1024)}


def _tcp_mib() -> dict[str, float]:
    """The box's TCP sockets' memory and orphans (/proc/net/sockstat: every process's, and the
    orphaned sockets a plain close leaves with their unsent bytes)."""
    fields = Path("/proc/net/sockstat").read_text().split("TCP:")[1].split("\n")[0].split()
    named = dict(zip(fields[::2], fields[1::2], strict=False))
    return {"tcp_mem_mib": round(int(named["mem"]) * 4096 / MiB), "orphans": int(named["orphan"])}


def _worker(pid: int) -> int:
    """The one worker serving the S3 port (the process with the most memory below ``pid``)."""
    children = psutil.Process(pid).children(recursive=True)
    return max(children, key=lambda p: p.memory_info().rss).pid if children else pid


async def _hold(
    targets: list[Target], per: int, rate: float, ramp: float, settle: float
) -> tuple[dict[str, int], list[asyncio.Future[None]]]:
    """Start the readers (evenly over ``ramp`` seconds), wait ``settle`` seconds more."""
    out: Counter[str] = Counter()
    tasks = []
    work = [(t, n) for n in range(per) for t in targets]
    for t, n in work:
        tasks.append(asyncio.ensure_future(_reader(t, f"big-{n % 4}", rate, out)))
        if ramp:
            await asyncio.sleep(ramp / len(work))
    await asyncio.sleep(settle)
    return dict(out), tasks


def run(args: argparse.Namespace) -> None:
    steps = [int(s) for s in args.steps.split(",")]
    tenants = max(steps)
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-stalled-") as tmp,
        upstream("seaweedfs", Path(tmp)) as server,
    ):
        create_upstream_bucket(server)
        port, admin_port = free_port(), free_port()
        settings = proxy_settings(server, port, admin_port, *_keys(0))
        settings["server"].update(workers=1, engine=args.engine)
        settings["logging"]["access_log"] = False
        settings["tenants"] = {
            f"t{n}": {
                "keys": [{"access_key": _keys(n)[0], "secret_key": _keys(n)[1]}],
                "home": {"upstream": "up", "bucket": UPSTREAM_BUCKET},
            }
            for n in range(tenants)
        }
        config = write_config(Path(tmp) / "s3proxy.yaml", settings)
        process = ProxyProcess.start(
            config, admin_port=admin_port, log_path=Path(tmp) / "proxy.log", cwd=Path(args.tree)
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            targets = []
            for n in range(tenants):
                client = s3_client(endpoint, *_keys(n))
                client.create_bucket(Bucket=f"stall-{n}")
                for k in range(4):
                    client.put_object(Bucket=f"stall-{n}", Key=f"big-{k}", Body=b"y" * BIG)
                targets.append(Target(f"t{n}", endpoint, *_keys(n), f"stall-{n}"))
            worker = _worker(process.pid)
            time.sleep(1.0)
            idle = psutil.Process(worker).memory_info().rss / MiB
            for step in steps:

                async def one(step: int = step) -> dict[str, Any]:
                    answers, tasks = await _hold(
                        targets[:step], args.per_tenant, args.rate, args.ramp, args.settle
                    )
                    rss = psutil.Process(worker).memory_info().rss / MiB
                    kernel = {**_socket_kib(worker), **_tcp_mib()}
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    return {"answers": answers, "rss_mib": round(rss, 1), **kernel}

                figures = asyncio.run(one())
                stalled = step * args.per_tenant
                figures.update(
                    tenants=step,
                    stalled=stalled,
                    idle_rss_mib=round(idle, 1),
                    rss_per_stalled_mib=round((figures["rss_mib"] - idle) / stalled, 2),
                    kernel_send_per_stalled_kib=round(figures["send_kib"] / stalled),
                )
                print(json.dumps(figures), flush=True)
                time.sleep(3.0)  # the aborted answers' connections close
        finally:
            process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tree", default=".")
    parser.add_argument("--steps", default="1,2,4")
    parser.add_argument("--per-tenant", type=int, default=64)
    parser.add_argument("--rate", type=float, default=4096.0)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds to start them over")
    parser.add_argument("--engine", choices=("uvicorn", "hypercorn"), default="uvicorn")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
