"""Helpers shared by the local store's unit tests: drive a real LocalStore in a temp directory."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from s3proxy.backends.local import LocalStore
from s3proxy.model import (
    ByteRange,
    ObjectAttributes,
    PutObjectInput,
    ReadConditions,
    UploadPartInput,
    WriteConditions,
)

BUCKET = "data"
MiB = 1024 * 1024
NO_WRITE_CONDITIONS = WriteConditions()
NO_READ_CONDITIONS = ReadConditions()
NO_ATTRIBUTES = ObjectAttributes()


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def run(root: Path, scenario: Callable[[LocalStore], Awaitable[None]]) -> None:
    """Open a store at ``root``, run ``scenario`` against it, close it."""

    async def main() -> None:
        store = LocalStore("test", root)
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


async def put(
    store: LocalStore,
    key: str,
    data: bytes,
    *,
    bucket: str = BUCKET,
    conditions: WriteConditions = NO_WRITE_CONDITIONS,
    attributes: ObjectAttributes = NO_ATTRIBUTES,
    checksum: tuple[str, str] | None = None,
) -> str:
    result = await store.put_object(
        PutObjectInput(
            bucket=bucket,
            key=key,
            body=chunks(data),
            content_length=len(data),
            attributes=attributes,
            conditions=conditions,
            checksum=checksum,
        )
    )
    return result.etag


async def get(
    store: LocalStore,
    key: str,
    byte_range: ByteRange | None = None,
    conditions: ReadConditions = NO_READ_CONDITIONS,
    *,
    bucket: str = BUCKET,
    part_number: int | None = None,
) -> bytes:
    got = await store.get_object(bucket, key, byte_range, conditions, part_number=part_number)
    try:
        data = b"".join([chunk async for chunk in got.body])
    finally:
        await got.aclose()
    assert len(data) == got.content_length
    return data


async def upload_part(
    store: LocalStore, key: str, upload_id: str, number: int, data: bytes, bucket: str = BUCKET
) -> str:
    return await store.upload_part(
        UploadPartInput(
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_number=number,
            body=chunks(data),
            content_length=len(data),
        )
    )


def blob_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "blobs").glob("*/*/*") if path.is_file())


def stray_files(root: Path) -> list[Path]:
    """Files under ``root`` that are neither blobs, temp files nor the index and its lock."""
    allowed_top = {
        "index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm", "store.lock", "reserve"
    }  # fmt: skip
    found = []
    for path in root.rglob("*"):
        if path.is_dir():
            continue
        relative = path.relative_to(root)
        if relative.parts[0] in ("blobs", "tmp"):
            continue
        if len(relative.parts) == 1 and relative.parts[0] in allowed_top:
            continue
        found.append(path)
    return found


class WrappedConnection:
    """The store's SQLite connection, for a test to override ``execute`` (a failing COMMIT, a
    disk without room); every other attribute is the connection's own."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, *args: Any) -> Any:
        return self.connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def disk_full(connection: sqlite3.Connection) -> sqlite3.OperationalError:
    """Roll back ``connection``'s open transaction and return the error SQLite raises when the
    disk is full (SQLITE_FULL), for a test's COMMIT to raise."""
    connection.execute("ROLLBACK")
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13
    return error
