"""The proxy's own CPU per listed key, in-process: no sockets, no upstream, no box noise.

``benchmarks.listing`` times the whole path (HTTP in, 16 upstream requests, HTTP out) and its
CPU figure moves with the load of a shared box. This one times only what the listing modules
do with upstream answers: 10,000 ``flat``-encoded keys spread over 16 shards are served as
SeaweedFS-shaped ListObjectsV2 pages (built once, then replayed), and each round lists them all
through ``upstream_xml.parse_list_v2`` and ``listing.merge_listing`` in 1,000-key client pages,
each rendered by ``xmlcodec.list_objects_xml`` (encoding-type=url, as aws-cli and boto3 ask).
``--baseline`` runs a second tree (a directory holding an ``s3proxy`` package, or a git
revision, as in ``benchmarks.listing``) in its own process, rounds alternating, and reports
the pairs where this tree was cheaper. ``--profile`` prints cProfile's top functions. Usage:

    python -m benchmarks.listing_cpu [--keys 10000] [--rounds 7] [--baseline REV|DIR]
                                     [--candidate REV|DIR] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ROOT = "home/bucket/"
FIELDS: list[tuple[str, str | None]] = [("Name", "bucket"), ("IsTruncated", "true")]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _page(names: list[str], prefix: str, start: int, max_keys: int) -> bytes:
    """One upstream ListObjectsV2 page as SeaweedFS 3.x writes it (encoding-type=url; children
    in its order, captured from a live one; an ETag per key)."""
    chunk = names[start : start + max_keys]
    truncated = start + max_keys < len(names)
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{NS}">'
        f"<Name>home</Name><Prefix>{prefix}</Prefix><MaxKeys>{max_keys}</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
    ]
    parts.extend(
        f"<Contents><Key>{quote(prefix + name, safe='/~')}</Key>"
        f"<ETag>&#34;{zlib.crc32(name.encode()):08x}8c8034f5c8564e155c67a6&#34;</ETag>"
        "<Size>1</Size><StorageClass>STANDARD</StorageClass>"
        "<LastModified>2026-12-03T10:00:00Z</LastModified></Contents>"
        for name in chunk
    )
    if truncated:
        parts.append(f"<NextContinuationToken>{start + max_keys}</NextContinuationToken>")
    parts.append(f"<EncodingType>url</EncodingType><KeyCount>{len(chunk)}</KeyCount>")
    parts.append("</ListBucketResult>")
    return "".join(parts).encode()


def measure(keys: int, rounds: int, profile: bool) -> dict[str, Any]:
    """Rounds of a full listing in this process (the ``s3proxy`` on sys.path)."""
    from s3proxy import keycodec
    from s3proxy.layout import shard_of
    from s3proxy.listing import ListQuery, merge_listing
    from s3proxy.model import ListPage
    from s3proxy.upstream_xml import parse_list_v2
    from s3proxy.xmlcodec import list_objects_xml

    shards: dict[str, list[str]] = {}
    for i in range(keys):
        key = f"dir{i % 50:02d}/file-{i:06d}.txt"
        shards.setdefault(f"{ROOT}{shard_of(key, 1)}/", []).append(keycodec.encode(key))
    for names in shards.values():
        names.sort()
    pages: dict[tuple[str, str | None, int, str | None], bytes] = {}
    sent = [0]

    async def fetch(prefix: str, after: str | None, max_keys: int, token: str | None) -> ListPage:
        asked = (prefix, after, max_keys, token)
        if asked not in pages:
            names = shards[prefix]
            start = int(token) if token else 0
            if token is None and after:
                start = bisect.bisect_right(names, after[len(prefix) :])
            pages[asked] = _page(names, prefix, start, max_keys)
        sent[0] += 1
        return parse_list_v2(pages[asked], True)

    async def list_all() -> int:
        after, listed = None, 0
        while True:
            query = ListQuery("", None, after, 1000)
            page = await merge_listing(sorted(shards), query, fetch, "flat")
            list_objects_xml(FIELDS, page.entries, page.prefixes, encode=True, owner=None)
            listed += len(page.entries)
            if not page.is_truncated:
                return listed
            after = page.last

    if asyncio.run(list_all()) != keys:  # builds the pages: not timed
        raise RuntimeError("the listing lost keys")
    per_key: list[float] = []
    for _ in range(rounds):
        sent[0] = 0
        started = _cpu()
        asyncio.run(list_all())
        per_key.append((_cpu() - started) / keys * 1e6)
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, list_all())
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return {"us_per_key": per_key, "requests_per_1000": sent[0] / keys * 1000}


def _run_tree(tree: Path, keys: int, rounds: int) -> dict[str, Any]:
    """``measure`` in a fresh process whose ``s3proxy`` is the one in ``tree``."""
    code = (
        f"import sys, json, importlib.util; sys.path.insert(0, {str(tree)!r})\n"
        f"spec = importlib.util.spec_from_file_location('listing_cpu', {__file__!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"print(json.dumps(module.measure({keys}, {rounds}, False)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tree
    ).stdout
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


def main() -> int:
    from benchmarks.listing import source_of

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", help="git revision or directory to compare with")
    parser.add_argument("--candidate", help="git revision or directory measured (default: here)")
    parser.add_argument("--profile", action="store_true", help="cProfile top list (here only)")
    args = parser.parse_args()
    if args.profile:
        sys.path.insert(0, str(REPO))
        result = measure(args.keys, args.rounds, True)
        print(f"µs/key median {statistics.median(result['us_per_key']):.2f}")
        return 0
    with tempfile.TemporaryDirectory(prefix="s3proxy-listing-cpu-") as tmp:
        trees = {"candidate": REPO}
        if args.candidate:
            trees["candidate"] = source_of(args.candidate, Path(tmp) / "candidate")
        if args.baseline:
            trees["baseline"] = source_of(args.baseline, Path(tmp) / "baseline")
        figures: dict[str, list[float]] = {name: [] for name in trees}
        requests: dict[str, float] = {}
        for round_ in range(args.rounds):  # one process per tree and round, order alternating
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                result = _run_tree(trees[name], args.keys, 3)
                figures[name].append(min(result["us_per_key"]))
                requests[name] = result["requests_per_1000"]
    print(f"{args.keys} keys, 16 shards, flat, in-process; {args.rounds} rounds (best of 3 each)")
    for name, values in figures.items():
        print(
            f"{name:10s} median {statistics.median(values):6.2f} µs/key "
            f"(min {min(values):.2f}, max {max(values):.2f}), "
            f"{requests[name]:.1f} upstream requests per 1,000 keys"
        )
    if "baseline" in figures:
        lower = sum(c < b for c, b in zip(figures["candidate"], figures["baseline"], strict=True))
        print(f"candidate lower in {lower} of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
