"""A CopyObject's checksum is the checksum of the bytes the copy stored (wave 15 C).

A copy through the proxy (between upstreams, a conditional destination, a new checksum asked
with ``x-amz-checksum-algorithm``) declared its checksum up front: a new one summed over a
first read of the source, the copy then read it again; a kept one as the source's HEAD had
reported it. Where the target keeps a checksum sent after the body (the local store; an S3
upstream for small bodies and where aws-chunked trailers reach it), the source is now read
once and summed as it passes: a source overwritten after its HEAD no longer leaves the copy
with the old bytes' checksum (the local store stored it unverified), and a new checksum costs
one read, not two. Elsewhere the second read stays pinned to the first's ETag (503 if it
changed), so the stored checksum still matches the stored bytes.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.copy_checksum import CopyChecksum
from s3proxy.backends.local import LocalStore
from s3proxy.backends.part_copy import copy_object_through
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CopyObjectInput, GetObjectOutput, ObjectAttributes, ReadConditions
from tests.unit.local_helpers import BUCKET, get, put, run

OLD = b"old bytes " * 10_000
NEW = b"new bytes!" * 12_000


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _copy(key: str) -> CopyObjectInput:
    return CopyObjectInput(BUCKET, "src", BUCKET, key, False, ObjectAttributes())


class _Reads:
    """A copy source that counts its GETs and may overwrite itself after the first one."""

    def __init__(self, store: LocalStore, overwrite_with: bytes | None = None) -> None:
        self.store, self.gets, self.overwrite_with = store, 0, overwrite_with

    async def get_object(self, *args: Any, **kwargs: Any) -> GetObjectOutput:
        self.gets += 1
        got = await self.store.get_object(*args, **kwargs)
        if self.overwrite_with is not None and self.gets == 1:
            await put(self.store, "src", self.overwrite_with)
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class _UpFrontOnly:
    """A target that takes a checksum only up front (no ``keeps_trailer_checksum``)."""

    def __init__(self, store: LocalStore) -> None:
        self.put_object, self.head_object = store.put_object, store.head_object


async def _stored(store: LocalStore, key: str) -> dict[str, str]:
    info = await store.head_object(BUCKET, key, ReadConditions(), checksum_mode=True)
    return {k: v for k, v in info.extra_headers.items() if k.startswith("x-amz-checksum-")}


def test_a_kept_checksum_is_the_copied_bytes(tmp_path: Path) -> None:
    """The source's HEAD saw OLD with its CRC32; by the copy's read it holds NEW."""

    async def scenario(store: LocalStore) -> None:
        await put(store, "src", NEW)
        seen = CopyChecksum(kept={"CRC32": _crc32(OLD)})
        result = await copy_object_through(store, store, _copy("dst"), seen)
        assert await get(store, "dst") == NEW
        assert await _stored(store, "dst") == {"x-amz-checksum-crc32": _crc32(NEW)}
        assert result.checksums == {"CRC32": _crc32(NEW)}

    run(tmp_path / "data", scenario)


def test_a_new_checksum_reads_the_source_once(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "src", OLD)
        source = _Reads(store, overwrite_with=NEW)  # overwritten right after the read
        asked = CopyChecksum(summed="SHA256")
        result = await copy_object_through(source, store, _copy("dst"), asked)
        assert source.gets == 1
        assert await get(store, "dst") == OLD
        assert await _stored(store, "dst") == {"x-amz-checksum-sha256": _sha256(OLD)}
        assert result.checksums == {"SHA256": _sha256(OLD)}

    run(tmp_path / "data", scenario)


@pytest.mark.parametrize("overwritten", [False, True], ids=["unchanged", "overwritten"])
def test_an_up_front_target_reads_twice_pinned(tmp_path: Path, overwritten: bool) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "src", OLD)
        source = _Reads(store, overwrite_with=NEW if overwritten else None)
        target = _UpFrontOnly(store)
        copy = copy_object_through(source, target, _copy("dst"), CopyChecksum(summed="SHA256"))
        if overwritten:  # the second read is pinned to the ETag summed: nothing stored
            with pytest.raises(S3Error) as refused:
                await copy
            assert refused.value.code is S3ErrorCode.ServiceUnavailable
            with pytest.raises(S3Error):
                await store.head_object(BUCKET, "dst", ReadConditions())
            return
        assert (await copy).checksums == {"SHA256": _sha256(OLD)}
        assert source.gets == 2
        assert await _stored(store, "dst") == {"x-amz-checksum-sha256": _sha256(OLD)}

    run(tmp_path / "data", scenario)


def test_an_up_front_target_never_stores_a_stale_kept_checksum(tmp_path: Path) -> None:
    """The HEAD's checksum declared up front, the source overwritten since: 503, not a copy
    whose checksum is another object's (the local store stored it unverified)."""

    async def scenario(store: LocalStore) -> None:
        await put(store, "src", NEW)
        seen = CopyChecksum(kept={"CRC32": _crc32(OLD)})
        with pytest.raises(S3Error) as refused:
            await copy_object_through(store, _UpFrontOnly(store), _copy("dst"), seen)
        assert refused.value.code is S3ErrorCode.ServiceUnavailable
        with pytest.raises(S3Error):
            await store.head_object(BUCKET, "dst", ReadConditions())
        kept = CopyChecksum(kept={"CRC32": _crc32(NEW)})  # unchanged: copied as declared
        await copy_object_through(store, _UpFrontOnly(store), _copy("dst"), kept)
        assert await _stored(store, "dst") == {"x-amz-checksum-crc32": _crc32(NEW)}

    run(tmp_path / "data", scenario)


class _CephLike(_UpFrontOnly):
    """A target that keeps no flexible checksum either way (Ceph RGW 16)."""

    ceph_rgw = True

    async def keeps_trailer_checksum(self, bucket: str, length: int) -> bool:
        return False


def test_a_target_that_keeps_none_reads_the_source_once(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await put(store, "src", OLD)
        source = _Reads(store)
        copy = copy_object_through(source, _CephLike(store), _copy("dst"), CopyChecksum("SHA256"))
        assert (await copy).checksums == {"SHA256": _sha256(OLD)}  # CopyObjectResult names it
        assert source.gets == 1

    run(tmp_path / "data", scenario)
