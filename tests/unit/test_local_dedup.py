"""LocalStore deduplication and hostile keys: identical bytes stored once, refcounts right, and
no key ever becomes a path."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from s3proxy.backends.local import LocalStore
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CopyObjectInput,
    CreateMultipartInput,
    ObjectAttributes,
    ReadConditions,
)
from tests.unit.local_helpers import MiB, blob_files, get, put, run, stray_files, upload_part

BODY = os.urandom(4 * MiB)


def refcounts(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / "index.sqlite3") as db:
        return dict(db.execute("SELECT sha256, refs FROM blobs").fetchall())


def actual_references(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / "index.sqlite3") as db:
        rows = db.execute(
            "SELECT blob, COUNT(*) FROM (SELECT blob FROM segments UNION ALL "
            "SELECT blob FROM parts) GROUP BY blob"
        ).fetchall()
    return dict(rows)


def bucket_of(i: int) -> str:
    return "data" if i < 20 or i % 2 else "other-tenant"


def test_hundred_identical_bodies_are_one_blob(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario(store: LocalStore) -> None:
        await asyncio.gather(*(put(store, f"copy/{i:03}", BODY) for i in range(20)))
        for i in range(20, 100):
            await put(store, f"copy/{i:03}", BODY, bucket=bucket_of(i))
        stats = await store.stats()
        assert (stats.objects, stats.blobs) == (100, 1)
        assert (stats.logical_bytes, stats.physical_bytes) == (400 * MiB, 4 * MiB)
        assert stats.ratio == 100.0
        assert len(blob_files(root)) == 1
        assert await get(store, "copy/042", bucket="other-tenant") == BODY

        # overwrite 99 of them with other bytes, then delete: the blob lives while one key has it
        for i in range(1, 100):
            await put(store, f"copy/{i:03}", b"other", bucket=bucket_of(i))
        assert refcounts(root) == actual_references(root)
        assert len(blob_files(root)) == 2
        await store.delete_object("other-tenant", "copy/000")  # another bucket's key: no effect
        assert len(blob_files(root)) == 2
        await store.delete_object("data", "copy/000")
        assert len(blob_files(root)) == 1
        assert (await store.stats()).physical_bytes == 5

    run(root, scenario)


def test_copy_and_multipart_share_blobs(tmp_path: Path) -> None:
    root = tmp_path / "data"
    part = os.urandom(5 * MiB)

    async def scenario(store: LocalStore) -> None:
        await put(store, "src", BODY)
        await store.copy_object(
            CopyObjectInput("data", "src", "data", "dst", False, ObjectAttributes())
        )
        assert len(blob_files(root)) == 1  # a copy adds no blob
        for key in ("mp1", "mp2"):
            upload = await store.create_multipart_upload(
                CreateMultipartInput("data", key, ObjectAttributes())
            )
            e1 = await upload_part(store, key, upload, 1, part)
            e2 = await upload_part(store, key, upload, 2, BODY)  # same bytes as "src"
            await store.complete_multipart_upload(
                CompleteMultipartInput(
                    "data", key, upload, [CompletedPart(1, e1), CompletedPart(2, e2)]
                )
            )
        assert len(blob_files(root)) == 2
        assert refcounts(root) == actual_references(root)
        assert await get(store, "mp2") == part + BODY
        for key in ("src", "dst", "mp1"):
            await store.delete_object("data", key)
        assert len(blob_files(root)) == 2
        await store.delete_object("data", "mp2")
        assert blob_files(root) == []
        assert refcounts(root) == {}

    run(root, scenario)


HOSTILE = [
    "..",
    ".",
    "../../etc/passwd",
    "/etc/x",
    "//double//slash",
    "a/../../b",
    "C:\\windows\\system32",
    "ctl\x01\x02\t\n\r\x1f\x7f",
    "k" * 1024,
    "é" * 512,
    "\U0001f600/\u202e/\ufeff",
    "e\u0301",
    "\u00e9",
    "%2F..%2F",
    "~",
    "blobs/00/00/fake",
    "tmp/x",
    "index.sqlite3",
]


def test_hostile_keys_stay_column_values(tmp_path: Path) -> None:
    root = tmp_path / "box" / "data"

    async def scenario(store: LocalStore) -> None:
        for index, key in enumerate(HOSTILE):
            await put(store, key, f"{index}:{key}".encode("utf-8", "surrogatepass"))
        for index, key in enumerate(HOSTILE):
            expected = f"{index}:{key}".encode("utf-8", "surrogatepass")
            assert await get(store, key) == expected, key
            info = await store.head_object("data", key, ReadConditions())
            assert info.size == len(expected)
        page = await store.list_objects("data", "", None, None, 1000)
        assert sorted(e.key for e in page.entries) == sorted(HOSTILE)
        # bucket names are column values too
        await put(store, "k", b"x", bucket="../../escape")
        assert await get(store, "k", bucket="../../escape") == b"x"

    run(root, scenario)
    outside = [p for p in tmp_path.rglob("*") if p != root and root not in p.parents]
    assert outside == [tmp_path / "box"]  # e.g. no box/etc/passwd from "../../etc/passwd"
    assert stray_files(root) == []
    for blob in blob_files(root):
        assert len(blob.name) == 64 and all(c in "0123456789abcdef" for c in blob.name)
