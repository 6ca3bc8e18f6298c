"""One tenant's costly multipart requests, another tenant's GET latency (wave 15 F).

Two one-worker proxies, a baseline tree (A) and a candidate tree (B), each with two tenants,
``a`` and ``b``, in front of one SeaweedFS (both proxies) or a local store each. Tenant a has
an upload of ``--parts`` 1-byte parts. For each proxy, interleaved over ``--pairs`` rounds
(the order alternating): tenant b's 1 KiB GET latency (p50/p99, 4 connections, ``--seconds``)
with a idle, then while a runs ``--concurrency`` of one request back to back:

- ``list-parts``: ListParts of 1,000 parts;
- ``complete``: CompleteMultipartUpload naming every part (1-byte parts: 400 EntityTooSmall
  after the parts are listed and checked; the upload stays for the next one);
- ``complete-one``: CompleteMultipartUpload naming part 1 with a wrong ETag (400 InvalidPart
  after every stored part is listed).

Also the proxy's CPU per request of a's and a's answers (503 SlowDown: over its
``max_concurrent_expensive``). No assertion: figures for BENCHMARKS.md "Wave 15: one tenant's
costly requests". Usage:

    python -m benchmarks.costly_parts --a-tree /tmp/w15-base --b-tree . \\
        [--upstream local|seaweedfs] [--request list-parts] [--parts 1000] [--concurrency 16] \\
        [--pairs 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.ab_pairs import count_answers, latency_figures, loaded_by, rounds_in_turns, summary
from benchmarks.fairness import KEYS, OBJECTS, SMALL, _latencies, settings_for
from benchmarks.harness import (
    create_upstream_bucket,
    s3_client,
    server_cpu_seconds,
    upstream,
)
from benchmarks.loadgen import Target, blocking_request, request_bytes
from tests.support.processes import ProxyProcess, free_port, write_config

Call = tuple[str, str, list[tuple[str, str]], bytes | None]


def _complete_xml(etags: list[str]) -> bytes:
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{html.escape(etag)}</ETag></Part>"
        for n, etag in enumerate(etags, start=1)
    )
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


async def _upload_parts(a: Target, key: str, upload: str, count: int) -> list[str]:
    """``count`` 1-byte parts on 16 connections; their ETags in part order."""
    host, port = a.host_port
    etags: dict[int, str] = {}
    todo = list(range(count, 0, -1))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while todo:
            number = todo.pop()
            query = [("partNumber", str(number)), ("uploadId", upload)]
            head, _ = request_bytes(a, "PUT", key, query, 1)
            writer.write(head + b"x")
            answer = await reader.readuntil(b"\r\n\r\n")
            tag = re.search(rb"(?i)\r\netag:\s*([^\r]+)", answer)
            if answer[9:12] != b"200" or tag is None:
                raise RuntimeError(f"UploadPart {number}: {answer[:200]!r}")
            etags[number] = tag.group(1).decode()
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", answer)
            if length is not None and int(length.group(1)):
                await reader.readexactly(int(length.group(1)))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(16)))
    return [etags[n] for n in range(1, count + 1)]


def _calls(a: Target, request: str, parts: int) -> Call:
    status, _, body, _ = blocking_request(a, "POST", "big", [("uploads", "")])
    found = re.search(rb"<UploadId>([^<]+)</UploadId>", body)
    if status != 200 or found is None:
        raise RuntimeError(f"CreateMultipartUpload: HTTP {status} {body[:200]!r}")
    upload = html.unescape(found.group(1).decode())
    etags = asyncio.run(_upload_parts(a, "big", upload, parts))
    query = [("uploadId", upload)]
    if request == "list-parts":
        return ("GET", "big", [*query, ("max-parts", "1000")], None)
    if request == "complete":
        return ("POST", "big", query, _complete_xml(etags))
    return ("POST", "big", query, _complete_xml(['"0123456789abcdef0123456789abcdef"']))


def _load(a: Target, call: Call, concurrency: int, stop: Any, out: Any) -> None:
    """Tenant a's requests, ``concurrency`` at once until ``stop``; its answers to ``out``."""
    method, key, query, body = call

    def answer() -> str:
        status, _, text, _ = blocking_request(a, method, key, query, body=body)
        code = re.search(rb"<Code>([^<]+)</Code>", text)
        return f"{status} {code.group(1).decode() if code else ''}".strip()

    out.put(count_answers(answer, concurrency, stop))


@contextlib.contextmanager
def _proxy(tree: str, work: Path, server: Any) -> Iterator[tuple[Target, Target, int]]:
    """A one-worker proxy of ``tree`` with tenants a and b; b has OBJECTS 1 KiB objects."""
    port, admin_port = free_port(), free_port()
    if server is None:
        local = argparse.Namespace(endpoint="", access_key="", secret_key="")
        settings = settings_for(local, port, admin_port, {"workers": 1})
        settings["upstreams"]["up"] = {"type": "local", "path": str(work / "store")}
    else:
        settings = settings_for(server, port, admin_port, {"workers": 1})
    config = write_config(work / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=work / "proxy.log", cwd=Path(tree)
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        targets = {}
        for name, (key, secret) in KEYS.items():
            client = s3_client(endpoint, key, secret)
            with contextlib.suppress(client.exceptions.ClientError):  # the other proxy's
                client.create_bucket(Bucket=f"{work.name}-{name}")
            targets[name] = Target(name, endpoint, key, secret, f"{work.name}-{name}")
            if name == "b":
                for n in range(OBJECTS):
                    client.put_object(Bucket=targets[name].bucket, Key=f"obj-{n}", Body=SMALL)
        yield targets["a"], targets["b"], process.pid
    finally:
        process.stop()


def _round(a: Target, b: Target, pid: int, call: Call, args: argparse.Namespace) -> dict[str, Any]:
    idle, _ = asyncio.run(_latencies(b, 4, args.seconds))
    with loaded_by(_load, a, call, args.concurrency) as answers:
        cpu = server_cpu_seconds(pid)
        loaded, failures = asyncio.run(_latencies(b, 4, args.seconds))
    done = sum(answers.values())
    return {
        **latency_figures(idle, loaded, failures, answers),
        "cpu_ms_per_a_request": round(1000 * (server_cpu_seconds(pid) - cpu) / max(done, 1), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"A": args.a_tree, "B": args.b_tree}
    with (
        tempfile.TemporaryDirectory(prefix="s3proxy-costly-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        server = None
        if args.upstream != "local":
            server = stack.enter_context(upstream(args.upstream, Path(tmp) / "up"))
            create_upstream_bucket(server)
        proxies = {}
        for name, tree in trees.items():
            work = Path(tmp) / f"costly{name.lower()}"
            work.mkdir()
            a, b, pid = stack.enter_context(_proxy(tree, work, server))
            proxies[name] = (a, b, pid, _calls(a, args.request, args.parts))
        rounds = rounds_in_turns(args.pairs, lambda name: _round(*proxies[name], args))
    latencies = ("idle_p50_ms", "idle_p99_ms", "loaded_p50_ms", "loaded_p99_ms")
    return summary(rounds, latencies, ("loaded_p50_ms", "loaded_p99_ms"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tree", required=True)
    parser.add_argument("--b-tree", required=True)
    parser.add_argument("--upstream", default="local", choices=("local", "seaweedfs", "ceph"))
    parser.add_argument(
        "--request", default="list-parts", choices=("list-parts", "complete", "complete-one")
    )
    parser.add_argument("--parts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
