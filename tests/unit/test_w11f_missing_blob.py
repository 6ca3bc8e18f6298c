"""A GET whose blob file is gone from the disk (a damaged disk, a hand-edited directory) is
500 InternalError before any byte of the answer, not a 200 head cut short at byte 0.

The first file a read needs is opened before the head goes out; the others as the body
reaches them (a file that vanishes later still cuts the transfer, which a client sees as an
incomplete body, never a clean short one).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ByteRange
from tests.unit.local_helpers import BUCKET, NO_READ_CONDITIONS, get, put, run


def test_a_missing_blob_is_500_before_the_head(tmp_path: Path) -> None:
    body = b"0123456789" * 1000
    blob = tmp_path / "blobs"

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", body)
        await put(store, "empty", b"")
        sha = hashlib.sha256(body).hexdigest()
        path = blob / sha[:2] / sha[2:4] / sha
        assert await get(store, "k", ByteRange(5, 14)) == b"5678901234"
        path.unlink()
        with pytest.raises(S3Error) as caught:
            await store.get_object(BUCKET, "k", None, NO_READ_CONDITIONS)
        assert caught.value.code is S3ErrorCode.InternalError
        assert await get(store, "empty") == b""  # no file to open: still served
        await store.delete_object(BUCKET, "k")  # the failed GET released its pin
        assert store._pins == {}

    run(tmp_path, scenario)
