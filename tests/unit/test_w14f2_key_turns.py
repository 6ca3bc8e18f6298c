"""A quota tenant's key lock is also a turn among the worker processes of one server, and its
delete counts only what it removed (wave 14 F2).

The supervisor opens one shared file before forking (s3proxy.backends.key_turns); a key held in
one process is waited for in another, and released when its holder ends or dies. A replica
elsewhere is not covered by that: a delete goes under If-Match (quota_writes.delete_counted).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from s3proxy.backends import key_turns
from s3proxy.backends.quota_writes import KeyLocks, UploadGates, delete_counted
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import ObjectAttributes, ObjectInfo, ReadConditions

KEY = ("up", "bucket", "key")


@pytest.fixture
def shared() -> Iterator[None]:
    key_turns.share_between_processes()
    try:
        yield
    finally:
        os.close(key_turns._shared.pop())


def held_in_child(key: object, part: bool = False) -> tuple[int, int]:
    """Fork a process that holds ``key`` through KeyLocks (``part``: as a part of the upload
    ``key`` through UploadGates) until killed: (pid, its pipe)."""
    ready, told = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.close(ready)

            async def hold() -> None:
                gates: UploadGates[object] = UploadGates()
                async with gates.part(key) if part else KeyLocks[object]().hold([key]):
                    os.write(told, b"1")
                    await asyncio.sleep(60)

            asyncio.run(hold())
        finally:
            os._exit(0)
    os.close(told)
    assert os.read(ready, 1) == b"1"
    return pid, ready


async def taken(locks: KeyLocks[object], key: object, within: float) -> bool:
    async def hold() -> None:
        async with locks.hold([key]):
            pass

    try:
        await asyncio.wait_for(hold(), within)
    except TimeoutError:
        return False
    return True


@pytest.mark.usefixtures("shared")
def test_a_key_held_by_another_worker_waits_until_it_is_given_back() -> None:
    pid, pipe = held_in_child(KEY)
    try:
        locks: KeyLocks[object] = KeyLocks()
        assert not asyncio.run(taken(locks, KEY, 0.2))  # the other process holds it
        assert len(locks) == 0  # the cancelled wait left nothing behind
        assert asyncio.run(taken(locks, ("up", "bucket", "other"), 1.0))  # other keys run
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe)
    assert asyncio.run(taken(KeyLocks(), KEY, 2.0))  # the kernel gave it back with its holder


async def closed(gates: UploadGates[object], key: object, within: float) -> bool:
    async def close() -> None:
        async with gates.closing(key):
            pass

    try:
        await asyncio.wait_for(close(), within)
    except TimeoutError:
        return False
    return True


async def parted(gates: UploadGates[object], key: object, within: float) -> bool:
    async def part() -> None:
        async with gates.part(key):
            pass

    try:
        await asyncio.wait_for(part(), within)
    except TimeoutError:
        return False
    return True


@pytest.mark.usefixtures("shared")
def test_a_complete_waits_for_another_workers_part_in_flight() -> None:
    upload = ("up", "bucket", "key", "upload-1")
    pid, pipe = held_in_child(upload, part=True)
    try:
        gates: UploadGates[object] = UploadGates()
        assert asyncio.run(parted(gates, upload, 1.0))  # parts run side by side
        assert not asyncio.run(closed(gates, upload, 0.2))  # a Complete waits for the part
        assert len(gates) == 0
        assert asyncio.run(closed(gates, ("up", "bucket", "key", "upload-2"), 1.0))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe)
    assert asyncio.run(closed(UploadGates(), upload, 2.0))


def test_a_single_process_server_takes_no_range() -> None:
    assert not key_turns._shared
    assert asyncio.run(key_turns.take(KEY)) is None
    assert asyncio.run(taken(KeyLocks(), KEY, 1.0))


class Replaced:
    """An upstream whose object ``x`` another replica replaces (``sizes``, one per HEAD) or
    deletes (None) between each HEAD and the delete, and which refuses a DELETE whose
    If-Match is not the object's ETag (412), as S3 and SeaweedFS do."""

    def __init__(self, sizes: list[int | None]) -> None:
        self.sizes = sizes
        self.current: int | None = None
        self.deletes: list[str | None] = []

    async def head_object(self, bucket: str, key: str, conditions: ReadConditions) -> ObjectInfo:
        self.current = self.sizes.pop(0)
        if self.current is None:
            raise S3Error(S3ErrorCode.NoSuchKey)
        info = ObjectInfo(self.current, f'"{self.current}"', "", ObjectAttributes())
        self.current = self.sizes[0] if self.sizes else self.current  # the other replica's turn
        return info

    async def delete_object(self, bucket: str, key: str) -> None:
        self.deletes.append(None)

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        self.deletes.append(etag)
        if self.current is None or etag != f'"{self.current}"':
            raise S3Error(S3ErrorCode.PreconditionFailed)


LOCATION = UpstreamLocation("up", "homes", "t/x")


def test_a_delete_counts_what_it_removed_not_what_another_replica_did() -> None:
    # Replaced by a 20-byte object after the first HEAD: the delete of the 10 is refused, the
    # key read again, and the 20 bytes are what this delete frees.
    upstream = Replaced([10, 20, 20])
    assert asyncio.run(delete_counted(upstream, LOCATION)) == 20  # type: ignore[arg-type]
    assert upstream.deletes == ['"10"', '"20"']
    # Deleted by the other replica after the HEAD: refused (SeaweedFS: 412), then nothing.
    upstream = Replaced([10, None])
    assert asyncio.run(delete_counted(upstream, LOCATION)) is None  # type: ignore[arg-type]
    assert upstream.deletes == ['"10"', None]  # S3's 204 for a missing key, as before


def test_the_last_try_deletes_without_a_condition() -> None:
    upstream = Replaced([1, 2, 3, 4])
    assert asyncio.run(delete_counted(upstream, LOCATION)) == 3  # type: ignore[arg-type]
    assert upstream.deletes == ['"1"', '"2"', None]
