"""Start-up cost, A/B between two trees, interleaved: the wall and CPU time of
``python -c "import s3proxy.server"`` and the time and CPU from ``s3proxy serve`` (the quick
start: the local store in a fresh data directory, or ``--upstream URL``) to the first 200 on the
admin port's ``/healthz``.

Every worker and every proxy the test suite starts pays these (BENCHMARKS.md "Start-up").

    python -m benchmarks.startup --a-tree /tmp/base --b-tree . --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_time(tree: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh interpreter importing s3proxy.server."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import s3proxy.server"], env=_env(tree), check=True, cwd=tree
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process and its running children (Linux /proc):
    a multi-worker server's supervisor, admin process and workers."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total = 0
    for candidate in ticks:
        ancestor = candidate
        while ancestor not in (pid, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == pid:
            total += ticks[candidate]
    return total / os.sysconf("SC_CLK_TCK")


def importtime(tree: Path) -> float:
    """``python -X importtime``'s cumulative figure for s3proxy.server, in seconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import s3proxy.server"],
        env=_env(tree),
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    last = [line for line in done.stderr.splitlines() if line.endswith("| s3proxy.server")][-1]
    return int(last.split("|")[1]) / 1e6


def serve_to_health(tree: Path, upstream: str | None, timeout: float = 60.0) -> tuple[float, float]:
    """(seconds, CPU seconds of the serving processes) from starting ``s3proxy serve`` (quick
    start) to a 200 on /healthz."""
    port, admin = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="s3proxy-startup-") as data:
        command = [sys.executable, "-m", "s3proxy", "serve"]
        command += ["--port", str(port), "--admin-port", str(admin)]
        env = _env(tree)
        if upstream is not None:  # the S3-upstream quick start, as the tests' proxies
            command += ["--upstream", upstream, "--upstream-bucket", "data", "--state-dir", data]
            env.update(S3PROXY_UPSTREAM_ACCESS_KEY="ak", S3PROXY_UPSTREAM_SECRET_KEY="sk")
            env.update(S3PROXY_ACCESS_KEY="startup-ak", S3PROXY_SECRET_KEY="startup-sk-0123")
        else:
            command += ["--data-dir", data]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env,
            cwd=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - started < timeout:
                try:
                    url = f"http://127.0.0.1:{admin}/healthz"
                    with urllib.request.urlopen(url, timeout=1) as answer:
                        if answer.status == 200:
                            return time.perf_counter() - started, _process_cpu(process.pid)
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"s3proxy serve exited with {process.returncode}")
                time.sleep(0.01)  # polling the port, not timing: the figure is the first 200
            raise RuntimeError("no 200 on /healthz in time")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", type=Path, required=True)
    parser.add_argument("--b-tree", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--upstream",
        help="serve in front of this S3 endpoint (quick start; it need not answer: /healthz "
        "does not ask it) instead of the local store",
    )
    args = parser.parse_args()
    trees = {"A": args.a_tree.resolve(), "B": args.b_tree.resolve()}
    figures: dict[str, dict[str, list[float]]] = {
        name: {
            "import wall": [],
            "import cpu": [],
            "-X importtime": [],
            "serve to /healthz": [],
            "serve cpu": [],
        }
        for name in trees
    }
    for _ in range(args.runs):
        for name, tree in trees.items():
            wall, cpu = import_time(tree)
            figures[name]["import wall"].append(wall)
            figures[name]["import cpu"].append(cpu)
            figures[name]["-X importtime"].append(importtime(tree))
            seconds, cpu = serve_to_health(tree, args.upstream)
            figures[name]["serve to /healthz"].append(seconds)
            figures[name]["serve cpu"].append(cpu)
    for measure in figures["A"]:
        a = figures["A"][measure]
        b = figures["B"][measure]
        lower = sum(1 for x, y in zip(a, b, strict=True) if y < x)
        print(
            f"{measure:18} A median {statistics.median(a):.3f} s  "
            f"B median {statistics.median(b):.3f} s  B lower in {lower}/{len(a)}"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
