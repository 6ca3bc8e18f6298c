"""A COMMIT that fails (disk full, I/O error) leaves the local store as it was, and working.

SQLite may keep the transaction open after a failed COMMIT; the store must roll it back, or
every later write fails ("cannot start a transaction within a transaction") and its own
connection reads the uncommitted object as stored. The failure is injected at the connection
(a real full disk rolls back on its own on this platform: see
tests/integration/test_local_store_probe.py for that one).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.errors import S3Error
from tests.unit.local_helpers import BUCKET, WrappedConnection, get, put, run


class CommitFails(WrappedConnection):
    """The store's connection, except that the next COMMIT raises with the transaction open."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.armed = True

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.connection.execute(sql, *args)


def test_a_failed_commit_stores_nothing_and_the_store_keeps_working(tmp_path: Path) -> None:
    lost, kept = b"the write whose commit failed", b"a later write"

    async def scenario(store: LocalStore) -> None:
        await put(store, "before", b"stored before")
        real = store.index.db
        store.index.db = CommitFails(real)  # type: ignore[assignment]
        with pytest.raises(sqlite3.OperationalError):
            await put(store, "lost", lost)
        store.index.db = real
        with pytest.raises(S3Error):
            await get(store, "lost")
        await put(store, "kept", kept)
        assert await get(store, "kept") == kept
        assert await get(store, "before") == b"stored before"
        blobs = {path.name for path in (tmp_path / "blobs").glob("*/*/*")}
        assert hashlib.sha256(lost).hexdigest() not in blobs

    run(tmp_path, scenario)

    # Reopened, the store holds exactly the committed objects.
    async def reopened(store: LocalStore) -> None:
        page = await store.list_objects(BUCKET, "", None, None, 10)
        assert [entry.key for entry in page.entries] == ["before", "kept"]

    run(tmp_path, reopened)
