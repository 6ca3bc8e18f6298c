"""The local store's copy of a multipart object: S3's MD5 ETag, summed from the stored bytes
(wave 17 C2).

The copy stays a row naming the source's blobs, but it is a single object, as S3 makes it: its
ETag is the MD5 of its bytes (it kept the source's ``-N``) and it has no parts (a ``partNumber``
read answered the source's parts count). The bytes are summed before the copy's transaction;
a source overwritten meanwhile is summed again, and one that keeps changing is 503.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local import store as store_module
from s3proxy.backends.local.blobs import BlobFiles, Segment
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CopyObjectInput,
    CreateMultipartInput,
    ObjectAttributes,
    ReadConditions,
)
from tests.unit.local_helpers import BUCKET, MiB, blob_files, get, run, upload_part
from tests.unit.test_local_dedup import actual_references, refcounts

COPY = CopyObjectInput(BUCKET, "src", BUCKET, "dst", False, ObjectAttributes())


async def multipart(store: LocalStore, key: str, *parts: bytes) -> str:
    upload = await store.create_multipart_upload(
        CreateMultipartInput(BUCKET, key, ObjectAttributes())
    )
    etags = [await upload_part(store, key, upload, n, p) for n, p in enumerate(parts, start=1)]
    done = await store.complete_multipart_upload(
        CompleteMultipartInput(
            BUCKET, key, upload, [CompletedPart(n, e) for n, e in enumerate(etags, start=1)]
        )
    )
    return done.etag


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_a_copy_of_a_multipart_object_is_one_object_with_its_md5(tmp_path: Path) -> None:
    root = tmp_path / "data"
    first, last = os.urandom(5 * MiB), b"tail"

    async def scenario(store: LocalStore) -> None:
        assert (await multipart(store, "src", first, last)).endswith('-2"')
        copied = await store.copy_object(COPY)
        assert copied.etag == md5(first + last)
        assert len(blob_files(root)) == 2  # no byte copied: the row shares the source's blobs
        info = await store.head_object(BUCKET, "dst", ReadConditions(), part_number=1)
        assert (info.etag, info.part_range, info.extra_headers) == (md5(first + last), None, {})
        with pytest.raises(S3Error) as past:
            await store.head_object(BUCKET, "dst", ReadConditions(), part_number=2)
        assert past.value.code is S3ErrorCode.InvalidPartNumber
        assert await get(store, "dst") == first + last
        assert refcounts(root) == actual_references(root)

    run(root, scenario)


def _summing(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], Awaitable[object]], times: int
) -> None:
    """Make the copy's sum run ``meanwhile`` (another write of the source) its first ``times``
    times, after the bytes were summed."""
    summed = store_module.md5_etag
    calls = []

    async def racing(files: BlobFiles, segments: list[Segment]) -> str:
        etag = await summed(files, segments)
        calls.append(etag)
        if len(calls) <= times:
            await meanwhile()
        return etag

    monkeypatch.setattr(store_module, "md5_etag", racing)


def test_a_source_overwritten_while_summed_is_summed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    old, new = os.urandom(64 * 1024), os.urandom(64 * 1024)

    async def scenario(store: LocalStore) -> None:
        await multipart(store, "src", old)
        _summing(monkeypatch, lambda: multipart(store, "src", new), 1)
        assert (await store.copy_object(COPY)).etag == md5(new)
        assert await get(store, "dst") == new
        assert refcounts(root) == actual_references(root)
        for key in ("src", "dst"):
            await store.delete_object(BUCKET, key)
        assert blob_files(root) == []  # the pins of the sums were released

    run(root, scenario)


def test_a_source_that_keeps_changing_is_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"

    async def scenario(store: LocalStore) -> None:
        await multipart(store, "src", b"0")
        _summing(monkeypatch, lambda: multipart(store, "src", os.urandom(8)), 3)
        with pytest.raises(S3Error) as changed:
            await store.copy_object(COPY)
        assert changed.value.code is S3ErrorCode.ServiceUnavailable
        with pytest.raises(S3Error) as none:
            await store.head_object(BUCKET, "dst", ReadConditions())
        assert none.value.code is S3ErrorCode.NoSuchKey

    run(root, scenario)
