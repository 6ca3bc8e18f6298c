"""A local store's Complete of a large upload is checked in read-only steps first (wave 16 F).

A Complete was one job of the store's database thread whatever it answered: reading and
checking 10,000 parts held it 90-180 ms, and a Complete that fails (parts too small, a wrong
ETag, a failed condition) leaves the upload as it was, so a tenant could send it again and
again while every other tenant's job waited for each. Now an upload of more than
``CHECK_STEP`` parts is read in jobs of that many and checked (s3proxy.backends.local.
complete_steps); a refusal is answered from there, and only a Complete that passes takes the
long job. Counted (rows read per job), never timed; ``CHECK_STEP`` is 3 here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends.local import LocalStore, complete_steps, multipart
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    WriteConditions,
)
from tests.unit.local_helpers import BUCKET, put, run, upload_part

STEP = 3


@pytest.fixture(autouse=True)
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(complete_steps, "CHECK_STEP", STEP)
    monkeypatch.setattr(multipart, "CHECK_STEP", STEP)


def reads(store: LocalStore) -> list[int]:
    """Rows each read of the upload's parts returned, recorded as the store reads them."""
    seen: list[int] = []
    original = store.index.parts

    def parts(upload_id: str, after: int = 0, limit: int = -1) -> Any:
        rows = original(upload_id, after, limit)
        seen.append(len(rows))
        return rows

    store.index.parts = parts  # type: ignore[method-assign]
    return seen


async def upload_of(store: LocalStore, count: int) -> tuple[str, list[CompletedPart]]:
    upload = await store.create_multipart_upload(
        CreateMultipartInput(BUCKET, "big", ObjectAttributes())
    )
    etags = [await upload_part(store, "big", upload, n, b"x") for n in range(1, count + 1)]
    return upload, [CompletedPart(n, etag) for n, etag in enumerate(etags, start=1)]


def refusal(store: LocalStore, request: CompleteMultipartInput) -> Any:
    async def complete() -> S3Error:
        with pytest.raises(S3Error) as raised:
            await store.complete_multipart_upload(request)
        return raised.value

    return complete()


def test_a_refused_complete_of_a_large_upload_never_reads_it_in_one_job(tmp_path: Path) -> None:
    """1-byte parts: EntityTooSmall, as before, with the same fields; no job read more than a
    step's parts (on 49dfff4 one job read all 7), and the upload is kept."""

    async def scenario(store: LocalStore) -> None:
        upload, parts = await upload_of(store, 7)
        seen = reads(store)
        error = await refusal(store, CompleteMultipartInput(BUCKET, "big", upload, parts))
        assert error.code is S3ErrorCode.EntityTooSmall
        assert error.fields["PartNumber"] == "1" and error.fields["ProposedSize"] == "1"
        assert seen == [3, 3, 1]
        listed = await store.list_parts(BUCKET, "big", upload, 0, 1000)
        assert len(listed.parts) == 7

    run(tmp_path / "store", scenario)


def test_a_wrong_etag_or_a_failed_condition_is_answered_from_the_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InvalidPart naming the first wrong part; with every part right, If-None-Match: * over
    an object is PreconditionFailed; neither read more than a step in one job."""
    monkeypatch.setattr(multipart, "MIN_PART_SIZE", 1)

    async def scenario(store: LocalStore) -> None:
        upload, parts = await upload_of(store, 7)
        await put(store, "big", b"already here")
        seen = reads(store)
        wrong = [*parts[:4], CompletedPart(5, '"0123456789abcdef0123456789abcdef"'), *parts[5:]]
        error = await refusal(store, CompleteMultipartInput(BUCKET, "big", upload, wrong))
        assert (error.code, error.fields["PartNumber"]) == (S3ErrorCode.InvalidPart, "5")
        absent = WriteConditions(if_none_match="*")
        request = CompleteMultipartInput(BUCKET, "big", upload, parts, conditions=absent)
        error = await refusal(store, request)
        assert error.code is S3ErrorCode.PreconditionFailed
        assert max(seen) <= STEP

    run(tmp_path / "store", scenario)


def test_a_complete_that_passes_is_committed_by_one_job_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps, then the commit's own read of every part in its transaction."""
    monkeypatch.setattr(multipart, "MIN_PART_SIZE", 1)

    async def scenario(store: LocalStore) -> None:
        upload, parts = await upload_of(store, 7)
        seen = reads(store)
        done = await store.complete_multipart_upload(
            CompleteMultipartInput(BUCKET, "big", upload, parts)
        )
        assert done.etag.endswith('-7"')
        assert seen == [3, 3, 1, 7]
        with pytest.raises(S3Error) as gone:
            await store.list_parts(BUCKET, "big", upload, 0, 1000)
        assert gone.value.code is S3ErrorCode.NoSuchUpload

    run(tmp_path / "store", scenario)


def test_an_upload_of_at_most_a_step_is_one_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multipart, "MIN_PART_SIZE", 1)

    async def scenario(store: LocalStore) -> None:
        upload, parts = await upload_of(store, 3)
        seen = reads(store)
        await store.complete_multipart_upload(CompleteMultipartInput(BUCKET, "big", upload, parts))
        assert seen == [3]

    run(tmp_path / "store", scenario)
