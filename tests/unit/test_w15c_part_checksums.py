"""A ``partNumber`` read of a multipart object claims only the part checksums S3 answers
(wave 15 C).

S3 answers a part's own checksum for a ``partNumber`` HEAD/GET of a COMPOSITE object (its
checksum is made of the parts'), and none for a FULL_OBJECT one of several parts (its checksum
is the whole object's; for a one-part object the two are equal). The local store answered
each part's own checksum for a FULL_OBJECT object too, with ``x-amz-checksum-type:
FULL_OBJECT``, a value S3 never shows for that part; and a part sent with a checksum into an
upload without one kept it for such reads, though the object has none.
"""

from __future__ import annotations

import base64
import zlib
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    ReadConditions,
    UploadPartInput,
)
from tests.unit.local_helpers import BUCKET, MiB, chunks, run

FIRST = b"a" * (5 * MiB)
LAST = b"tail"


def _crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def _multipart(
    store: LocalStore, key: str, kind: str | None, parts: tuple[bytes, ...]
) -> dict[str, str]:
    """A completed upload of ``parts``, each sent with its CRC32 (``kind`` None: an upload
    created without an algorithm) → the object's checksums as Complete answered them."""
    algorithm = "CRC32" if kind else None
    attributes = ObjectAttributes()
    create = CreateMultipartInput(BUCKET, key, attributes, algorithm, kind)
    upload = await store.create_multipart_upload(create)
    listed = []
    for number, data in enumerate(parts, 1):
        sent = ("x-amz-checksum-crc32", _crc(data))
        part = UploadPartInput(BUCKET, key, upload, number, chunks(data), len(data), checksum=sent)
        etag = await store.upload_part(part)
        listed.append(CompletedPart(number, etag, {"CRC32": _crc(data)} if kind else {}))
    done = await store.complete_multipart_upload(
        CompleteMultipartInput(BUCKET, key, upload, listed)
    )
    return dict(done.checksums)


async def _part_sums(store: LocalStore, key: str, number: int) -> dict[str, str]:
    read = ReadConditions()
    head = await store.head_object(BUCKET, key, read, checksum_mode=True, part_number=number)
    got = await store.get_object(BUCKET, key, None, read, checksum_mode=True, part_number=number)
    await got.aclose()
    assert got.info.extra_headers == head.extra_headers
    return {k: v for k, v in head.extra_headers.items() if k.startswith("x-amz-checksum-")}


@pytest.mark.parametrize(
    ("kind", "parts", "expected"),
    [
        ("FULL_OBJECT", (FIRST, LAST), [{}, {}]),
        ("FULL_OBJECT", (LAST,), [{"x-amz-checksum-crc32": _crc(LAST)}]),
        (
            "COMPOSITE",
            (FIRST, LAST),
            [
                {"x-amz-checksum-crc32": _crc(p), "x-amz-checksum-type": "COMPOSITE"}
                for p in (FIRST, LAST)
            ],
        ),
        (None, (FIRST, LAST), [{}, {}]),
    ],
    ids=["full-object", "full-object-one-part", "composite", "no-algorithm"],
)
def test_part_reads_claim_what_s3_claims(
    tmp_path: Path, kind: str | None, parts: tuple[bytes, ...], expected: list[dict[str, str]]
) -> None:
    async def scenario(store: LocalStore) -> None:
        whole = await _multipart(store, "obj", kind, parts)
        if kind == "FULL_OBJECT":
            assert whole == {"CRC32": _crc(b"".join(parts))}  # the object's own is kept
        for number, sums in enumerate(expected, 1):
            assert await _part_sums(store, "obj", number) == sums

    run(tmp_path / "data", scenario)
