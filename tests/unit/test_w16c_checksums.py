"""Multipart checksums as S3 keeps and compares them, in the local store and the whole-object
check every lane shares (wave 16 C).

- A part sent with a checksum into an upload created without an algorithm: S3 verifies the
  checksum and answers it, but keeps none for the part, so ListParts names none (versitygw,
  which mirrors S3 there; SeaweedFS 4.48 and Ceph RGW 16 list none). The local store listed it.
- A ``partNumber`` read of an object with a COMPOSITE checksum answers the part's own checksum
  with the object's type, COMPOSITE (LocalStack's S3 provider, checked against S3); the local
  store said FULL_OBJECT, the type a header without ``-N`` suggests.
- A whole-object checksum sent with Complete (:func:`check_declared`): a COMPOSITE one may come
  without its ``-N`` (the part count then), one with a count must have the right one, and a
  FULL_OBJECT one has none; else BadDigest. Only the digests were compared before.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.combined import check_declared
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    ReadConditions,
    UploadPartInput,
)
from tests.unit.local_helpers import BUCKET, chunks, run

BODY = b"one part, sent with its CRC32"
CRC = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
HEADER = "x-amz-checksum-crc32"


async def _upload(store: LocalStore, key: str, kind: str | None) -> str:
    algorithm = "CRC32" if kind else None
    create = CreateMultipartInput(BUCKET, key, ObjectAttributes(), algorithm, kind)
    upload = await store.create_multipart_upload(create)
    sent = UploadPartInput(BUCKET, key, upload, 1, chunks(BODY), len(BODY), checksum=(HEADER, CRC))
    await store.upload_part(sent)
    return upload


def test_a_part_checksum_is_listed_only_in_an_upload_with_its_algorithm(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        bare = await _upload(store, "bare", None)
        page = await store.list_parts(BUCKET, "bare", bare, 0, 10)
        assert [part.checksums for part in page.parts] == [{}]
        kept = await _upload(store, "kept", "COMPOSITE")
        page = await store.list_parts(BUCKET, "kept", kept, 0, 10)
        assert [part.checksums for part in page.parts] == [{"CRC32": CRC}]

    run(tmp_path / "data", scenario)


@pytest.mark.parametrize(
    ("kind", "answered_type"), [("COMPOSITE", "COMPOSITE"), ("FULL_OBJECT", None)]
)
def test_a_part_read_says_its_objects_checksum_type(
    tmp_path: Path, kind: str, answered_type: str | None
) -> None:
    """One part: its checksum is the object's FULL_OBJECT one, or its own in a COMPOSITE one
    (the handler derives FULL_OBJECT from a value without ``-N``: no type of the store's)."""

    async def scenario(store: LocalStore) -> None:
        upload = await _upload(store, "obj", kind)
        listed = [CompletedPart(1, '"' + _md5(BODY) + '"', {"CRC32": CRC})]
        await store.complete_multipart_upload(CompleteMultipartInput(BUCKET, "obj", upload, listed))
        read = ReadConditions()
        head = await store.head_object(BUCKET, "obj", read, checksum_mode=True, part_number=1)
        assert head.extra_headers.get(HEADER) == CRC
        assert head.extra_headers.get("x-amz-checksum-type") == answered_type
        plain = await store.head_object(BUCKET, "obj", read, checksum_mode=False, part_number=1)
        assert not any(name.startswith("x-amz-checksum-") for name in plain.extra_headers)

    run(tmp_path / "data", scenario)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


COMPOSITE = "AAAAAA==-2"


@pytest.mark.parametrize(
    ("sent", "ours", "forwarded"),
    [
        ("AAAAAA==-2", COMPOSITE, "AAAAAA==-2"),
        ("AAAAAA==", COMPOSITE, "AAAAAA==-2"),  # no count: the part count
        (" AAAAAA== ", COMPOSITE, "AAAAAA==-2"),
        ("AAAAAA==", "AAAAAA==", "AAAAAA=="),  # FULL_OBJECT
    ],
)
def test_a_whole_object_checksum_that_matches(sent: str, ours: str, forwarded: str) -> None:
    assert check_declared((HEADER, sent), {"CRC32": ours}) == (HEADER, forwarded)


@pytest.mark.parametrize(
    ("sent", "ours"),
    [
        ("AAAAAA==-3", COMPOSITE),  # the wrong count
        ("AAAAAA==-2", "AAAAAA=="),  # a count on a FULL_OBJECT checksum
        ("AQAAAA==", COMPOSITE),
        ("AQAAAA==", "AAAAAA=="),
    ],
)
def test_a_whole_object_checksum_that_does_not_is_bad_digest(sent: str, ours: str) -> None:
    with pytest.raises(S3Error) as refused:
        check_declared((HEADER, sent), {"CRC32": ours})
    assert (refused.value.code, refused.value.message) == (
        S3ErrorCode.BadDigest,
        "The CRC32 you specified did not match the calculated checksum.",
    )


def test_nothing_to_compare_passes_the_header_on() -> None:
    assert check_declared(None, {"CRC32": COMPOSITE}) is None
    assert check_declared((HEADER, "AAAAAA=="), {}) == (HEADER, "AAAAAA==")
