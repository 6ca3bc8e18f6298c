"""A blob file that cannot be removed after its last reference went (an I/O error, a read-only
directory) never turns a committed write into an error: the write is answered as done, the file
is left for the start-up sweep. Before, the OSError reached the client as 500 InternalError for
a PUT, DELETE or Complete that had been committed, and a client retrying the Complete got
NoSuchUpload for an upload that had become its object.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.model import CompletedPart, CompleteMultipartInput, CreateMultipartInput
from tests.unit.local_helpers import BUCKET, NO_ATTRIBUTES, blob_files, get, put, run, upload_part


def test_a_blob_that_cannot_be_removed_is_left_for_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_unlink = Path.unlink

    def failing_unlink(path: Path, missing_ok: bool = False) -> None:
        if "blobs" in path.parts:
            raise OSError(errno.EIO, "Input/output error", str(path))
        real_unlink(path, missing_ok=missing_ok)

    async def scenario(store: LocalStore) -> None:
        await put(store, "k", b"old body, freed by the Complete")
        await put(store, "gone", b"freed by the DELETE")
        upload = await store.create_multipart_upload(
            CreateMultipartInput(BUCKET, "k", NO_ATTRIBUTES)
        )
        etag = await upload_part(store, "k", upload, 1, b"new body")
        monkeypatch.setattr(Path, "unlink", failing_unlink)
        listed = [CompletedPart(1, etag)]
        await store.complete_multipart_upload(CompleteMultipartInput(BUCKET, "k", upload, listed))
        await store.delete_object(BUCKET, "gone")
        await put(store, "gone", b"")  # an overwrite freeing nothing, a new blob
        monkeypatch.undo()
        assert await get(store, "k") == b"new body"
        assert len(blob_files(tmp_path)) == 4  # two of them no longer referenced

    run(tmp_path, scenario)

    async def reopened(store: LocalStore) -> None:
        assert await get(store, "k") == b"new body"
        assert await get(store, "gone") == b""

    run(tmp_path, reopened)
    assert len(blob_files(tmp_path)) == 2
