"""LocalStore objects: PUT/GET/HEAD, ranges, conditions, copy, delete, checksums, locking."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore, StoreStats
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    ByteRange,
    CopyObjectInput,
    ObjectAttributes,
    PutObjectInput,
    ReadConditions,
    WriteConditions,
)
from tests.unit.local_helpers import BUCKET, blob_files, chunks, get, put, run

PAST = "Mon, 01 Jan 2001 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


def test_put_get_head_round_trip_with_attributes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # spans several 1 MiB reads
    attributes = ObjectAttributes(
        headers={"content-type": "text/plain", "content-encoding": "aws-chunked,gzip"},
        metadata={"origin": "test", "x": "ü"},
    )

    async def scenario(store: LocalStore) -> None:
        etag = await put(store, "a/b.txt", data, attributes=attributes)
        assert etag == f'"{hashlib.md5(data).hexdigest()}"'
        assert await get(store, "a/b.txt") == data
        info = await store.head_object(BUCKET, "a/b.txt", ReadConditions())
        assert (info.size, info.etag) == (len(data), etag)
        assert info.last_modified.endswith(" GMT")
        assert info.attributes.headers == {"content-type": "text/plain", "content-encoding": "gzip"}
        assert info.attributes.metadata == {"origin": "test", "x": "ü"}
        with pytest.raises(S3Error) as missing:
            await store.head_object(BUCKET, "a/none", ReadConditions())
        assert missing.value.code is S3ErrorCode.NoSuchKey
        with pytest.raises(S3Error):
            await store.get_object("other-bucket", "a/b.txt", None, ReadConditions())

    run(tmp_path / "data", scenario)


def test_ranges(tmp_path: Path) -> None:
    data = b"0123456789"

    async def scenario(store: LocalStore) -> None:
        await put(store, "r", data)
        assert await get(store, "r", ByteRange(start=2, end=4)) == b"234"
        assert await get(store, "r", ByteRange(start=7)) == b"789"
        assert await get(store, "r", ByteRange(suffix=3)) == b"789"
        assert await get(store, "r", ByteRange(suffix=50)) == data
        assert await get(store, "r", ByteRange(start=8, end=100)) == b"89"
        got = await store.get_object(BUCKET, "r", ByteRange(start=8, end=100), ReadConditions())
        await got.aclose()
        assert got.content_range == (8, 9, 10)
        with pytest.raises(S3Error) as past_end:
            await store.get_object(BUCKET, "r", ByteRange(start=10), ReadConditions())
        assert past_end.value.code is S3ErrorCode.InvalidRange
        assert past_end.value.headers["Content-Range"] == "bytes */10"
        await put(store, "empty", b"")
        assert await get(store, "empty") == b""

    run(tmp_path / "data", scenario)


def test_read_conditions_follow_s3_precedence(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        etag = await put(store, "c", b"v1")

        async def outcome(conditions: ReadConditions) -> str:
            try:
                await store.head_object(BUCKET, "c", conditions)
            except S3Error as error:
                return error.code.name
            return "OK"

        assert await outcome(ReadConditions(if_match=etag)) == "OK"
        assert await outcome(ReadConditions(if_match=etag.strip('"'))) == "OK"
        assert await outcome(ReadConditions(if_match="*")) == "OK"
        assert await outcome(ReadConditions(if_match='"0000"')) == "PreconditionFailed"
        assert await outcome(ReadConditions(if_none_match=etag)) == "NotModified"
        assert await outcome(ReadConditions(if_none_match='"0000"')) == "OK"
        assert await outcome(ReadConditions(if_modified_since=FUTURE)) == "NotModified"
        assert await outcome(ReadConditions(if_modified_since=PAST)) == "OK"
        assert await outcome(ReadConditions(if_unmodified_since=PAST)) == "PreconditionFailed"
        assert await outcome(ReadConditions(if_unmodified_since="not a date")) == "OK"
        # If-Match true wins over a false If-Unmodified-Since; If-None-Match false wins
        # over a true If-Modified-Since (304 only by If-None-Match's verdict).
        assert await outcome(ReadConditions(if_match=etag, if_unmodified_since=PAST)) == "OK"
        assert (
            await outcome(ReadConditions(if_none_match='"0000"', if_modified_since=FUTURE)) == "OK"
        )
        with pytest.raises(S3Error) as not_modified:
            await store.get_object(BUCKET, "c", None, ReadConditions(if_none_match=etag))
        assert not_modified.value.headers["ETag"] == etag

    run(tmp_path / "data", scenario)


def test_conditional_puts(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        first = await put(store, "k", b"v1", conditions=WriteConditions(if_none_match="*"))
        with pytest.raises(S3Error) as exists:
            await put(store, "k", b"v2", conditions=WriteConditions(if_none_match="*"))
        assert exists.value.code is S3ErrorCode.PreconditionFailed
        with pytest.raises(S3Error) as wrong:
            await put(store, "k", b"v2", conditions=WriteConditions(if_match='"0000"'))
        assert wrong.value.code is S3ErrorCode.PreconditionFailed
        with pytest.raises(S3Error) as absent:
            await put(store, "new", b"v2", conditions=WriteConditions(if_match=first))
        assert absent.value.code is S3ErrorCode.NoSuchKey
        assert await get(store, "k") == b"v1"
        await put(store, "k", b"v3", conditions=WriteConditions(if_match=first))
        assert await get(store, "k") == b"v3"
        stats = await store.stats()
        # The refused bodies left no blob behind; v1's blob went with the overwrite.
        assert (stats.objects, stats.blobs, stats.physical_bytes) == (1, 1, 2)

    run(tmp_path / "data", scenario)
    assert len(blob_files(tmp_path / "data")) == 1


def test_failed_body_keeps_the_old_object(tmp_path: Path) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"partial"
        raise S3Error(S3ErrorCode.BadDigest)

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", b"old")
        with pytest.raises(S3Error):
            await store.put_object(PutObjectInput(BUCKET, "k", failing(), 100, ObjectAttributes()))
        assert await get(store, "k") == b"old"

    root = tmp_path / "data"
    run(root, scenario)
    assert list((root / "tmp").iterdir()) == []
    assert len(blob_files(root)) == 1


def test_checksums_stored_and_returned_in_checksum_mode(tmp_path: Path) -> None:
    data = b"checksummed"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()

    async def scenario(store: LocalStore) -> None:
        await put(store, "declared", data, checksum=("x-amz-checksum-crc32", crc))
        await store.put_object(
            PutObjectInput(
                BUCKET,
                "trailer",
                chunks(data),
                len(data),
                ObjectAttributes(),
                trailer_checksum=("x-amz-checksum-sha256", lambda: sha),
            )
        )
        info = await store.head_object(BUCKET, "declared", ReadConditions(), checksum_mode=True)
        assert info.extra_headers == {"x-amz-checksum-crc32": crc}
        info = await store.head_object(BUCKET, "trailer", ReadConditions(), checksum_mode=True)
        assert info.extra_headers == {"x-amz-checksum-sha256": sha}
        plain = await store.head_object(BUCKET, "declared", ReadConditions())
        assert plain.extra_headers == {}
        ranged = await store.get_object(
            BUCKET, "declared", ByteRange(start=1), ReadConditions(), checksum_mode=True
        )
        await ranged.aclose()
        assert ranged.info.extra_headers == {}  # a range's bytes do not match the object's sum

    run(tmp_path / "data", scenario)


def test_copy_is_metadata_only_with_conditions(tmp_path: Path) -> None:
    data = b"x" * 100_000

    async def scenario(store: LocalStore) -> None:
        etag = await put(store, "src", data, attributes=ObjectAttributes(metadata={"a": "1"}))

        def copy(**changes: object) -> CopyObjectInput:
            fields: dict[str, object] = {
                "source_bucket": BUCKET,
                "source_key": "src",
                "bucket": "other",
                "key": "dst",
                "replace_metadata": False,
                "attributes": ObjectAttributes(metadata={"b": "2"}),
            }
            fields.update(changes)
            return CopyObjectInput(**fields)  # type: ignore[arg-type]

        result = await store.copy_object(copy())
        assert result.etag == etag and result.last_modified.endswith("Z")
        assert await get(store, "dst", bucket="other") == data
        info = await store.head_object("other", "dst", ReadConditions())
        assert info.attributes.metadata == {"a": "1"}
        await store.copy_object(copy(replace_metadata=True))
        info = await store.head_object("other", "dst", ReadConditions())
        assert info.attributes.metadata == {"b": "2"}
        for bad in (
            copy(source_conditions=ReadConditions(if_match='"0000"')),
            copy(source_conditions=ReadConditions(if_none_match=etag)),
            copy(conditions=WriteConditions(if_none_match="*")),
        ):
            with pytest.raises(S3Error) as refused:
                await store.copy_object(bad)
            assert refused.value.code is S3ErrorCode.PreconditionFailed
        with pytest.raises(S3Error) as missing:
            await store.copy_object(copy(source_key="nope"))
        assert missing.value.code is S3ErrorCode.NoSuchKey
        stats = await store.stats()
        assert (stats.objects, stats.blobs) == (2, 1)

    run(tmp_path / "data", scenario)


def test_delete_and_multi_delete(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        for key in ("a", "b", "c"):
            await put(store, key, key.encode() * 10)
        await store.delete_object(BUCKET, "a")
        await store.delete_object(BUCKET, "a")  # missing: fine, as in S3
        results = await store.delete_objects(BUCKET, ["b", "c", "zzz"])
        assert [(r.key, r.error) for r in results] == [("b", None), ("c", None), ("zzz", None)]
        page = await store.list_objects(BUCKET, "", None, None, 1000)
        assert page.entries == []
        assert await store.stats() == StoreStats(0, 0, 0, 0)

    root = tmp_path / "data"
    run(root, scenario)
    assert blob_files(root) == []


def test_reader_survives_concurrent_delete(tmp_path: Path) -> None:
    data = b"r" * (3 * 1024 * 1024)

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", data)
        got = await store.get_object(BUCKET, "k", None, ReadConditions())
        first = await got.body.__anext__()
        await store.delete_object(BUCKET, "k")
        await put(store, "k", b"new")
        rest = b"".join([chunk async for chunk in got.body])
        await got.aclose()
        assert first + rest == data
        assert await get(store, "k") == b"new"

    root = tmp_path / "data"
    run(root, scenario)
    assert len(blob_files(root)) == 1  # the deleted blob went once its reader closed


def test_second_store_on_one_directory_is_refused(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        with pytest.raises(RuntimeError, match="in use"):
            LocalStore("second", tmp_path / "data")
        await store.check_ready("any-bucket-name")

    run(tmp_path / "data", scenario)
    run(tmp_path / "data", lambda store: store.check_ready("x"))  # released on close


def test_state_survives_reopen_and_read_stats(tmp_path: Path) -> None:
    from s3proxy.backends.local import read_stats

    root = tmp_path / "data"

    async def write(store: LocalStore) -> None:
        await put(store, "k1", b"same")
        await put(store, "k2", b"same")
        assert read_stats(root).objects == 2  # read-only, while the store is open

    async def check(store: LocalStore) -> None:
        assert await get(store, "k2") == b"same"

    run(root, write)
    run(root, check)
    stats = read_stats(root)
    assert (stats.objects, stats.logical_bytes, stats.blobs, stats.physical_bytes) == (2, 8, 1, 4)
    assert stats.ratio == 2.0


def test_concurrent_writers_to_one_key(tmp_path: Path) -> None:
    bodies = [bytes([i]) * (300_000 + i) for i in range(12)]

    async def attempt(store: LocalStore, body: bytes) -> str:
        try:
            await put(store, "race", body, conditions=WriteConditions(if_none_match="*"))
        except S3Error as error:
            return error.code.name
        return "stored"

    async def scenario(store: LocalStore) -> None:
        outcomes = await asyncio.gather(*(attempt(store, body) for body in bodies))
        assert sorted(outcomes) == ["PreconditionFailed"] * 11 + ["stored"]
        winner = bodies[outcomes.index("stored")]
        assert await get(store, "race") == winner
        # unconditional: the last writer wins, whole, and only its blob is left
        await asyncio.gather(*(put(store, "race", body) for body in bodies))
        final = await get(store, "race")
        assert final in bodies
        assert len(blob_files(tmp_path / "data")) == 1
        stats = await store.stats()
        assert (stats.objects, stats.blobs, stats.physical_bytes) == (1, 1, len(final))

    run(tmp_path / "data", scenario)


def test_get_cancelled_during_lookup_releases_its_blobs(tmp_path: Path) -> None:
    """A client gone while its GET is being looked up must not keep the blob file forever."""
    root = tmp_path / "data"

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", b"bytes")
        gate = threading.Event()
        busy = asyncio.ensure_future(store._run(gate.wait))  # hold the database thread
        reader = asyncio.ensure_future(store.get_object(BUCKET, "k", None, ReadConditions()))
        for _ in range(5):
            await asyncio.sleep(0)  # let the GET submit its lookup behind the held job
        reader.cancel()
        gate.set()
        await busy
        with pytest.raises(asyncio.CancelledError):
            await reader
        await store.delete_object(BUCKET, "k")
        await store.stats()  # one more job: the release queued by the cancelled lookup ran
        assert blob_files(root) == []

    run(root, scenario)


def test_store_files_are_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "data"

    async def scenario(store: LocalStore) -> None:
        await put(store, "private", b"tenant data")

    run(root, scenario)
    files = [path for path in root.rglob("*") if path.is_file()]
    assert any(path.name == "index.sqlite3" for path in files)
    assert {path.name: path.stat().st_mode & 0o077 for path in files} == {
        path.name: 0 for path in files
    }
