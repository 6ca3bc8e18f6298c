"""A local store's listing page with a delimiter reads one row per common prefix (wave 15 F3).

The page seeks past each common prefix with a new query of up to the page's remaining keys,
and every row of that query was fetched though the page used only its first: a page of 1,000
common prefixes over 20 keys each was ~1.5 s of the store's one database thread (every other
tenant's lookups waited behind it), ~55x a plain page of 1,000 keys. Rows are now read as they
are taken. Counted in SQLite virtual-machine steps (a progress handler), never timed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.index import ObjectRecord, StoredPart

PREFIXES, KEYS = 40, 50


def _fill(store: LocalStore) -> None:
    """Database thread: PREFIXES x KEYS rows in one transaction (no blob needed to list)."""
    with store.index.transaction():
        for p in range(PREFIXES):
            for k in range(KEYS):
                store.index.put_object(
                    ObjectRecord(
                        bucket="data", key=f"p{p:03d}/k{k:03d}", size=1, etag='"e"',
                        modified_ms=0, parts_count=0, headers={}, metadata={}, checksums={},
                        segments=[StoredPart("0" * 64, 1)], storage_class="STANDARD", tags={},
                    )
                )  # fmt: skip


def test_a_delimiter_page_reads_about_one_row_per_common_prefix(tmp_path: Path) -> None:
    """The page of 40 common prefixes costs about what a plain page of 40 keys does plus one
    seek per prefix, not 40 reads of up to 1,000 rows (on 51f198f: ~750x the plain page)."""
    store = LocalStore("w15f3", tmp_path / "store")
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    async def cost(delimiter: str | None, max_keys: int) -> tuple[int, int]:
        steps[0] = 0
        store.index.db.set_progress_handler(count, 10)
        try:
            page = await store.list_objects("data", "", delimiter, None, max_keys)
        finally:
            store.index.db.set_progress_handler(None, 10)
        assert len(page.entries) + len(page.prefixes) == min(max_keys, PREFIXES)
        return steps[0], len(page.prefixes)

    async def scenario() -> tuple[tuple[int, int], tuple[int, int]]:
        await store._run(_fill, store)
        return await cost(None, PREFIXES), await cost("/", 1000)

    try:
        (plain, _), (grouped, prefixes) = asyncio.run(scenario())
    finally:
        asyncio.run(store.close())
    assert prefixes == PREFIXES
    assert grouped < 10 * plain, (plain, grouped)  # 1.5x here; 750x before
