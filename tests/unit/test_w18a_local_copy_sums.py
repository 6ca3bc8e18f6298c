"""The local store's copy of a multipart object offers every MD5 pass it makes to a commit
(wave 18 A; s3proxy.backends.local.copy_digest).

A copy whose multipart source is overwritten while its bytes are summed sums them again, at
most ``TRIES`` (3) times, then answers 503. The third pass was made and thrown away: the loop
ended after it without a commit, so a source overwritten during the first two passes only,
then left alone, was 503 all the same, after reading its bytes a third time for nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local import store as store_module
from s3proxy.backends.local.blobs import BlobFiles, Segment
from s3proxy.backends.local.copy_digest import TRIES
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.local_helpers import get, run
from tests.unit.test_w17c2_local_copy_etag import COPY, md5, multipart


def overwritten_while_summed(
    monkeypatch: pytest.MonkeyPatch, store: LocalStore, times: int
) -> list[str]:
    """The source is overwritten by a new multipart object during each of the first ``times``
    sums; the returned list grows with each sum made (its MD5 ETag)."""
    summed = store_module.md5_etag
    sums: list[str] = []

    async def racing(files: BlobFiles, segments: list[Segment]) -> str:
        etag = await summed(files, segments)
        sums.append(etag)
        if len(sums) <= times:
            await multipart(store, "src", b"settled" if len(sums) == times else os.urandom(8))
        return etag

    monkeypatch.setattr(store_module, "md5_etag", racing)
    return sums


def test_the_last_sum_is_committed_when_the_source_settled_during_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overwritten during the first two of the three passes, the source stays as the second
    overwrite left it: the third pass sums exactly that, and the copy is made with it."""

    async def scenario(store: LocalStore) -> None:
        await multipart(store, "src", b"first")
        sums = overwritten_while_summed(monkeypatch, store, TRIES - 1)
        assert (await store.copy_object(COPY)).etag == md5(b"settled")
        assert await get(store, "dst") == b"settled"
        assert len(sums) == TRIES

    run(tmp_path / "data", scenario)


def test_a_source_that_keeps_changing_is_503_after_three_sums_each_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(store: LocalStore) -> None:
        await multipart(store, "src", b"first")
        sums = overwritten_while_summed(monkeypatch, store, TRIES)
        with pytest.raises(S3Error) as changed:
            await store.copy_object(COPY)
        assert changed.value.code is S3ErrorCode.ServiceUnavailable
        assert len(sums) == TRIES  # and no fourth pass

    run(tmp_path / "data", scenario)
