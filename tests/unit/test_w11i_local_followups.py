"""Local store follow-ups (wave 11, I): where the local store answered other than S3 does.

- If-Match on a write (PUT, CompleteMultipartUpload, CopyObject's destination) compares
  strongly, as it does on reads: ``W/"etag"`` is 412 (S3, SeaweedFS and Ceph RGW), not a match.
- A write cancelled while its commit still waits for the database thread (the shutdown timeout
  answers it 503) never commits, and its temp blob is removed: nothing of it is stored.
- GET/HEAD ``partNumber`` of an object completed from sparse part numbers (1 and 3) is 501
  where reading by position and by uploaded number differ (it served part 3's bytes as part 2).
- A DeleteObjects batch that the disk cannot delete whole, nor key by key for every key, answers
  per key (Deleted for the keys done, InternalError for the rest), never 500 for the batch.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CopyObjectInput,
    CreateMultipartInput,
    DeleteResult,
    ObjectAttributes,
    ReadConditions,
    WriteConditions,
)
from tests.unit.local_helpers import (
    BUCKET,
    MiB,
    WrappedConnection,
    disk_full,
    get,
    put,
    run,
    upload_part,
)


async def _refused_412(write: Any) -> None:
    with pytest.raises(S3Error) as refused:
        await write
    assert refused.value.code is S3ErrorCode.PreconditionFailed


def test_a_weak_etag_never_matches_if_match_on_a_write(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        etag = await put(store, "k", b"first")
        weak = WriteConditions(if_match=f"W/{etag}")
        await _refused_412(put(store, "k", b"second", conditions=weak))
        await put(store, "source", b"copied")
        copy = CopyObjectInput(
            source_bucket=BUCKET,
            source_key="source",
            bucket=BUCKET,
            key="k",
            source_conditions=ReadConditions(),
            conditions=weak,
            replace_metadata=False,
            attributes=ObjectAttributes(),
        )
        await _refused_412(store.copy_object(copy))
        upload = await store.create_multipart_upload(
            CreateMultipartInput(bucket=BUCKET, key="k", attributes=ObjectAttributes())
        )
        part = await upload_part(store, "k", upload, 1, b"part")
        complete = CompleteMultipartInput(
            bucket=BUCKET,
            key="k",
            upload_id=upload,
            parts=[CompletedPart(1, part)],
            conditions=weak,
        )
        await _refused_412(store.complete_multipart_upload(complete))
        assert await get(store, "k") == b"first"
        # The strong tag, alone or in a list beside a weak one, still matches.
        listed = WriteConditions(if_match=f'W/"0", {etag}')
        await put(store, "k", b"second", conditions=listed)
        assert await get(store, "k") == b"second"

    run(tmp_path, scenario)


class NoRoomFor(WrappedConnection):
    """The store's connection on a disk with room to delete one key, except ``stuck``."""

    def __init__(self, connection: sqlite3.Connection, stuck: bytes) -> None:
        super().__init__(connection)
        self.stuck = stuck
        self.keys: list[bytes] = []

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("BEGIN"):
            self.keys = []
        elif sql.startswith("DELETE FROM objects"):
            self.keys.append(args[0][1])
        elif sql == "COMMIT" and (len(self.keys) > 1 or self.stuck in self.keys):
            raise disk_full(self.connection)
        return self.connection.execute(sql, *args)


def test_a_delete_batch_that_fails_partway_answers_per_key(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        keys = ["k0", "k1", "k2", "k3"]
        for key in keys:
            await put(store, key, key.encode())
        store.index.db = NoRoomFor(store.index.db, b"k1")  # type: ignore[assignment]
        results = await store.delete_objects(BUCKET, keys)
        assert results == [
            DeleteResult("k0"),
            DeleteResult("k1", "InternalError"),
            DeleteResult("k2"),
            DeleteResult("k3"),
        ]
        page = await store.list_objects(BUCKET, "", None, None, 10)
        assert [entry.key for entry in page.entries] == ["k1"]

    run(tmp_path, scenario)


def test_a_write_cancelled_while_queued_is_never_stored(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "k", b"old")
        gate = threading.Event()
        blocker = asyncio.ensure_future(store._run(gate.wait))  # the database thread is busy
        writer = asyncio.ensure_future(put(store, "k", b"never stored"))
        try:
            for _ in range(500):  # until the writer's commit job waits in the queue
                if store._executor.waiting():
                    break
                await asyncio.sleep(0.01)
            assert store._executor.waiting() == 1
            writer.cancel()  # what the shutdown timeout does to a request still running
            with pytest.raises(asyncio.CancelledError):
                await writer
        finally:
            gate.set()
            await blocker
        assert await get(store, "k") == b"old"
        assert list((tmp_path / "tmp").iterdir()) == []

    run(tmp_path, scenario)


def test_part_reads_of_sparse_part_numbers_are_refused_where_ambiguous(tmp_path: Path) -> None:
    first, third = b"1" * (5 * MiB), b"third"

    async def scenario(store: LocalStore) -> None:
        upload = await store.create_multipart_upload(
            CreateMultipartInput(bucket=BUCKET, key="k", attributes=ObjectAttributes())
        )
        parts = [
            CompletedPart(1, await upload_part(store, "k", upload, 1, first)),
            CompletedPart(3, await upload_part(store, "k", upload, 3, third)),
        ]
        await store.complete_multipart_upload(
            CompleteMultipartInput(bucket=BUCKET, key="k", upload_id=upload, parts=parts)
        )
        assert await get(store, "k", part_number=1) == first  # both readings agree
        for number in (2, 3):
            with pytest.raises(S3Error) as refused:
                await get(store, "k", part_number=number)
            assert refused.value.code is S3ErrorCode.NotImplemented
            with pytest.raises(S3Error) as refused:
                await store.head_object(BUCKET, "k", ReadConditions(), part_number=number)
            assert refused.value.code is S3ErrorCode.NotImplemented
        with pytest.raises(S3Error) as refused:
            await get(store, "k", part_number=4)
        assert refused.value.code is S3ErrorCode.InvalidPartNumber
        assert await get(store, "k") == first + third

    run(tmp_path, scenario)
