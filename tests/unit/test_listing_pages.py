"""benchmarks.listing_pages: its hook records what a merged page did, its figures read it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmarks.listing_pages import HOOK, page_figures
from s3proxy import listing
from s3proxy.listing import ListQuery
from tests.unit.test_listing import CountingUpstream, shard


def test_hook_writes_one_line_per_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed (as the proxy's ``sitecustomize`` would), the hook wraps the merge: one JSON
    line per client page, one (start, end) per upstream request, the first 16 the fan-out."""
    monkeypatch.setattr(listing, "merge_listing", listing.merge_listing)  # restored after
    monkeypatch.setattr(listing, "_refill", listing._refill)
    namespace: dict[str, object] = {"__name__": "hook"}
    exec(HOOK, namespace)  # the module's own constant, run as the proxy's sitecustomize runs it
    install = namespace["_install"]
    assert callable(install)
    install(str(tmp_path / "pages"))
    keys = [f"k{i:04d}" for i in range(2000)]
    root = "home/t/bkt/"
    upstream = CountingUpstream([root + shard(k, 1) + k for k in keys])
    roots = [root + format(i, "x") + "/" for i in range(16)]
    page = asyncio.run(
        listing.merge_listing(roots, ListQuery("", None, None, 1000), upstream.fetch)
    )
    assert [entry.key for entry in page.entries] == keys[:1000]
    (written,) = list(tmp_path.glob("pages.*"))
    (record,) = [json.loads(line) for line in written.read_text().splitlines()]
    assert record["shards"] == 16
    assert len(record["fetches"]) == upstream.calls
    assert all(0 <= start <= end <= record["wall"] for start, end in record["fetches"])
    figures = page_figures(record)
    assert figures["refill rounds"] == len(record["refills"])
    assert figures["fan-out"] <= figures["wall"]


def test_figures_of_a_page() -> None:
    """Two shards: the fan-out ends with the slower answer, then one refill round."""
    record = {
        "shards": 2,
        "wall": 0.050,
        "fetches": [[0.000, 0.010], [0.002, 0.030], [0.031, 0.045]],
        "refills": [[0.031, 0.046]],
        "cpu": 0.004,
        "preempted": 3,
    }
    figures = page_figures(record)
    assert figures == pytest.approx(
        {
            "wall": 50.0,
            "fan-out": 30.0,
            "send spread": 2.0,
            "slowest − median": 10.0,
            "refill rounds": 1.0,
            "refill wall": 15.0,
            "after": 5.0,
            "cpu": 4.0,
            "preempted": 3.0,
        }
    )
