"""Opening the local store: its start-up check of reference counts mends only what differs.

Why it matters: the check used to delete and rewrite the whole ``blobs`` table at every start,
so a store of many blobs needed that many pages of free disk to start at all, which a full disk
(:mod:`s3proxy.backends.local.reserve`) does not have. Counts are exact after any stop (they
change in the transaction that changes their rows), so a start now writes no page of them.
And a first start makes the directories it creates durable (their parents fsynced).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore, blobs
from s3proxy.model import CreateMultipartInput
from tests.unit.local_helpers import BUCKET, NO_ATTRIBUTES, get, put, run, upload_part


def log_frames(store: LocalStore) -> int:
    """Pages written to the write-ahead log since the store opened its index."""
    busy, frames, _ = store.index.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    return int(frames)


def counts(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(the blobs table's counts, the counts the rows give)."""
    with sqlite3.connect(root / "index.sqlite3") as db:
        stored = dict(db.execute("SELECT sha256, refs FROM blobs").fetchall())
        named = dict(
            db.execute(
                "SELECT blob, COUNT(*) FROM (SELECT blob FROM segments UNION ALL "
                "SELECT blob FROM parts) GROUP BY blob"
            ).fetchall()
        )
    db.close()
    return stored, named


def test_a_clean_start_writes_no_page_and_a_wrong_count_is_mended(tmp_path: Path) -> None:
    async def fill(store: LocalStore) -> None:
        for n in range(20):  # 15 distinct bodies: blobs named once and twice
            await put(store, f"k{n}", f"body {n % 15}".encode())
        created = CreateMultipartInput(BUCKET, "mp", NO_ATTRIBUTES)
        upload = await store.create_multipart_upload(created)
        await upload_part(store, "mp", upload, 1, b"body 3")  # a part sharing a blob

    run(tmp_path, fill)

    async def clean_start(store: LocalStore) -> None:
        assert log_frames(store) == 0

    run(tmp_path, clean_start)

    # Counts a damaged disk or a hand edit could leave: wrong, missing and naming nothing.
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        (wrong,) = db.execute("SELECT MIN(sha256) FROM blobs").fetchone()
        db.execute("UPDATE blobs SET refs = 7, size = 1 WHERE sha256 = ?", (wrong,))
        db.execute("DELETE FROM blobs WHERE sha256 = (SELECT MAX(sha256) FROM blobs)")
        db.execute("INSERT INTO blobs VALUES (?, 5, 1)", ("0" * 64,))
    db.close()
    stored, named = counts(tmp_path)
    assert stored != named

    async def mended(store: LocalStore) -> None:
        assert log_frames(store) > 0
        assert await get(store, "k3") == b"body 3"
        assert await get(store, "k18") == b"body 3"

    run(tmp_path, mended)
    stored, named = counts(tmp_path)
    assert stored == named
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        sizes = db.execute(
            "SELECT COUNT(*) FROM blobs JOIN segments ON segments.blob = blobs.sha256 "
            "WHERE segments.size != blobs.size"
        ).fetchone()
    db.close()
    assert sizes == (0,)


def test_a_new_store_makes_its_directories_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each directory a first start creates (the data directory and its parents, ``blobs/``,
    ``tmp/``) has its parent fsynced: only then does a power cut after the first PUT's 200
    keep the directory that 200 was about."""
    synced: list[Path] = []
    real = blobs._fsync_dir

    def recording(path: Path) -> None:
        synced.append(Path(path))
        real(path)

    monkeypatch.setattr(blobs, "_fsync_dir", recording)
    root = tmp_path / "new" / "store"

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", b"the first object")

    run(root, scenario)
    assert {tmp_path, tmp_path / "new", root} <= set(synced)
    synced.clear()
    run(root, scenario)
    assert root.parent not in synced  # a directory that exists is left alone
