"""Two processes deciding a new home's key encoding at once must agree
(s3proxy.backends.key_encoding): keys written in two encodings under one root would each be
listed, and read, by only the processes that chose theirs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.backends.local import LocalStore
from s3proxy.backends.mapped import MappedStorage
from tests.unit.test_key_encoding import HOME, TENANT, listed, put


class ListsLate:
    """The store as a second process sees it: its listing is answered only once ``go`` is set."""

    def __init__(self, store: LocalStore, go: asyncio.Event) -> None:
        self._store, self._go = store, go
        self.listing = asyncio.Event()

    async def list_objects(self, *args: Any, **kwargs: Any) -> Any:
        self.listing.set()
        await self._go.wait()
        return await self._store.list_objects(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_two_processes_deciding_a_new_home_at_once_agree(tmp_path: Path) -> None:
    """B finds no marker, A records ``flat`` and writes a key, then B's listing sees that key:
    B must not take the home for an old ``plain`` one (keys would be written in both encodings,
    and each process would list only part of them, with a 200)."""

    async def main() -> None:
        store = LocalStore("up", tmp_path / "store")
        go = asyncio.Event()
        try:
            a = MappedStorage(
                TENANT,
                {"up": store},
                1,
                encodings=KeyEncodings({"up": store}, None, {"up": "flat"}),
            )
            late = ListsLate(store, go)
            b_encodings = KeyEncodings({"up": late}, None, {"up": "flat"})  # type: ignore[dict-item]
            b_decides = asyncio.create_task(b_encodings.of(HOME, True))
            await late.listing.wait()  # B read the (missing) marker and is listing the home
            await a.buckets.create("bkt")
            await put(a, "bkt", "x/y")
            go.set()
            assert await b_decides == "flat"
            b = MappedStorage(TENANT, {"up": store}, 1, encodings=b_encodings)
            assert await listed(b, "bkt") == ["x/y"]
        finally:
            await store.close()

    asyncio.run(main())
