"""The local store on a full disk: writes refused with S3's InternalError, deletes still free
space, and the store opens again after a restart (s3proxy.backends.local.reserve).

Before the reserve, a DELETE on a disk filled to its last block failed ("database or disk is
full": SQLite's log had no room for the delete's pages) and a restart could not open the index
("disk I/O error": no room for its shared-memory file), so no client could ever free space.
A real full disk needs a small tmpfs (root, or CAP_SYS_ADMIN; skipped elsewhere); the
injected failure (:func:`test_a_delete_that_finds_no_room_runs_again_without_the_reserve`)
runs everywhere.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.reserve import RESERVE_BYTES, Reserve
from s3proxy.errors import S3Error, S3ErrorCode
from tests.support.full_disk import fill, tmpfs
from tests.unit.local_helpers import (
    BUCKET,
    MiB,
    WrappedConnection,
    blob_files,
    disk_full,
    get,
    put,
    run,
)

DISK_BYTES = RESERVE_BYTES + 6 * MiB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_BYTES at ``tmp_path/disk``, unmounted afterwards."""
    with tmpfs(tmp_path / "disk", DISK_BYTES) as mount:
        yield mount


async def refused(store: LocalStore, key: str, data: bytes) -> None:
    with pytest.raises(S3Error) as caught:
        await put(store, key, data)
    assert caught.value.code is S3ErrorCode.InternalError
    assert "storage is full" in caught.value.message


def test_a_full_disk_refuses_writes_and_deletes_free_space(small_disk: Path) -> None:
    root = small_disk / "store"
    bodies = {f"k{n}": os.urandom(MiB) for n in range(4)}

    async def scenario(store: LocalStore) -> None:
        for key, body in bodies.items():
            await put(store, key, body)
        fill(small_disk)
        await refused(store, "new", b"no room for this")
        assert list((root / "tmp").iterdir()) == []
        await store.delete_object(BUCKET, "k0")
        await store.delete_objects(BUCKET, ["k1"])
        await put(store, "new", b"room again")  # the reserve is back in place first
        assert (root / "reserve").stat().st_size == RESERVE_BYTES
        assert await get(store, "new") == b"room again"
        assert await get(store, "k2") == bodies["k2"]

    run(root, scenario)

    async def reopened(store: LocalStore) -> None:
        page = await store.list_objects(BUCKET, "", None, None, 10)
        assert [entry.key for entry in page.entries] == ["k2", "k3", "new"]

    run(root, reopened)


def test_the_store_opens_on_a_full_disk_and_a_delete_makes_room(small_disk: Path) -> None:
    root = small_disk / "store"
    bodies = {f"k{n}": os.urandom(MiB) for n in range(4)}

    async def written(store: LocalStore) -> None:
        for key, body in bodies.items():
            await put(store, key, body)

    run(root, written)
    fill(small_disk)

    async def after_restart(store: LocalStore) -> None:
        assert await get(store, "k3") == bodies["k3"]
        await refused(store, "new", b"no room yet")
        await store.delete_object(BUCKET, "k0")
        await store.delete_object(BUCKET, "k1")
        await store.delete_object(BUCKET, "k2")
        await put(store, "new", b"room again")
        assert await get(store, "new") == b"room again"

    run(root, after_restart)


class FullOnce(WrappedConnection):
    """The store's connection, except that its next COMMIT fails as on a full disk; a later
    COMMIT notes whether the reserve could be put back meanwhile (``restorable``)."""

    def __init__(self, connection: sqlite3.Connection, reserve: Reserve) -> None:
        super().__init__(connection)
        self.reserve = reserve
        self.armed = True
        self.restorable: list[bool] = []

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and not self.armed:
            lock = self.reserve._lock
            free = lock.acquire(blocking=False)
            if free:
                lock.release()
            self.restorable.append(free)
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise disk_full(self.connection)
        return self.connection.execute(sql, *args)


def test_a_delete_that_finds_no_room_runs_again_without_the_reserve(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "gone", b"deleted on a full disk")
        assert (tmp_path / "reserve").stat().st_size == RESERVE_BYTES
        real = store.index.db
        full = FullOnce(real, store.reserve)
        store.index.db = full  # type: ignore[assignment]
        await store.delete_object(BUCKET, "gone")
        assert not (tmp_path / "reserve").exists()
        assert full.restorable == [False]  # no write took the room back before the rerun
        with pytest.raises(S3Error):
            await get(store, "gone")
        # A write puts the reserve back first; its own commit finding no room is refused
        # (500 InternalError) and never run again on the reserve.
        store.index.db = FullOnce(real, store.reserve)  # type: ignore[assignment]
        await refused(store, "refused", b"no room to commit")
        assert (tmp_path / "reserve").stat().st_size == RESERVE_BYTES
        store.index.db = real
        with pytest.raises(S3Error):
            await get(store, "refused")

    run(tmp_path, scenario)


class NoRoomForBatches(WrappedConnection):
    """The store's connection on a disk with room for one key's delete, not for a batch's."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.deleted = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("BEGIN"):
            self.deleted = 0
        elif sql.startswith("DELETE FROM objects"):
            self.deleted += 1
        elif sql == "COMMIT" and self.deleted > 1:
            raise disk_full(self.connection)
        return self.connection.execute(sql, *args)


def test_a_delete_batch_without_room_is_deleted_key_by_key(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        keys = [f"k{n}" for n in range(5)]
        for key in keys:
            await put(store, key, key.encode())
        store.index.db = NoRoomForBatches(store.index.db)  # type: ignore[assignment]
        results = await store.delete_objects(BUCKET, keys[:4])
        assert [result.key for result in results] == keys[:4]
        page = await store.list_objects(BUCKET, "", None, None, 10)
        assert [entry.key for entry in page.entries] == ["k4"]
        assert len(blob_files(tmp_path)) == 1

    run(tmp_path, scenario)


def test_the_reserve_is_written_where_the_file_system_cannot_allocate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    reserve = Reserve("test", tmp_path)
    assert not reserve.held
    assert reserve.restore()
    assert (tmp_path / "reserve").stat().st_blocks * 512 >= RESERVE_BYTES
    assert Reserve("test", tmp_path).held


def test_a_reserve_that_cannot_be_kept_never_stops_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file-size limit below the reserve, or a store directory that refuses new files while
    ``blobs/`` and ``tmp/`` take them: no reserve, but writes go on (not refused for ever)."""

    def too_big(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(os, "posix_fallocate", too_big)

    async def scenario(store: LocalStore) -> None:
        assert not (tmp_path / "reserve").exists()
        await put(store, "k", b"written without a reserve")
        assert await get(store, "k") == b"written without a reserve"

    run(tmp_path, scenario)
