"""LocalStore multipart uploads: parts, copy parts, Complete's checks, part reads, listings."""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path

from s3proxy.backends.local import LocalStore
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    ByteRange,
    CompletedPart,
    CompleteMultipartInput,
    CreateMultipartInput,
    ObjectAttributes,
    ReadConditions,
    UploadPartCopyInput,
    UploadPartInput,
    WriteConditions,
)
from tests.unit.local_helpers import (
    BUCKET,
    NO_WRITE_CONDITIONS,
    MiB,
    blob_files,
    chunks,
    get,
    put,
    run,
    upload_part,
)

PART1 = b"1" * (5 * MiB)
PART2 = b"2" * (5 * MiB + 3)
PART3 = b"tail"


def crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def create(store: LocalStore, key: str, algorithm: str | None = None) -> str:
    return await store.create_multipart_upload(
        CreateMultipartInput(
            BUCKET, key, ObjectAttributes(metadata={"m": "v"}), checksum_algorithm=algorithm
        )
    )


async def complete(
    store: LocalStore,
    key: str,
    upload_id: str,
    parts: list[tuple[int, str]],
    conditions: WriteConditions = NO_WRITE_CONDITIONS,
) -> str:
    result = await store.complete_multipart_upload(
        CompleteMultipartInput(
            BUCKET, key, upload_id, [CompletedPart(n, e) for n, e in parts], conditions
        )
    )
    return result.etag


async def error_of(awaitable: object) -> S3ErrorCode:
    try:
        await awaitable  # type: ignore[misc]
    except S3Error as error:
        return error.code
    raise AssertionError("no error")


def test_upload_complete_read_parts_and_ranges(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        upload = await create(store, "big")
        e1 = await upload_part(store, "big", upload, 1, b"first version" * 1000)
        e1 = await upload_part(store, "big", upload, 1, PART1)  # re-upload replaces
        e2 = await upload_part(store, "big", upload, 2, PART2)
        e3 = await upload_part(store, "big", upload, 3, PART3)
        page = await store.list_parts(BUCKET, "big", upload, 0, 2)
        assert [p.part_number for p in page.parts] == [1, 2] and page.next_marker == 2
        assert page.parts[0].etag == e1 and page.parts[0].size == len(PART1)
        rest = await store.list_parts(BUCKET, "big", upload, 2, 2)
        assert [p.part_number for p in rest.parts] == [3] and rest.next_marker is None
        etag = await complete(store, "big", upload, [(1, e1), (2, e2), (3, e3)])
        digests = b"".join(hashlib.md5(p).digest() for p in (PART1, PART2, PART3))
        assert etag == f'"{hashlib.md5(digests).hexdigest()}-3"'
        whole = PART1 + PART2 + PART3
        assert await get(store, "big") == whole
        span = ByteRange(start=len(PART1) - 2, end=len(PART1) + 1)
        assert await get(store, "big", span) == b"1122"
        assert await get(store, "big", ByteRange(suffix=6)) == b"22tail"
        assert await get(store, "big", part_number=2) == PART2
        info = await store.head_object(BUCKET, "big", ReadConditions(), part_number=3)
        first = len(PART1) + len(PART2)
        assert info.part_range == (first, first + 3, len(whole))
        assert info.extra_headers["x-amz-mp-parts-count"] == "3"
        assert info.attributes.metadata == {"m": "v"}
        assert (
            await error_of(store.head_object(BUCKET, "big", ReadConditions(), part_number=4))
            is S3ErrorCode.InvalidPartNumber
        )
        # the upload is gone; a plain object is its own part 1
        assert await error_of(store.list_parts(BUCKET, "big", upload, 0, 10)) is (
            S3ErrorCode.NoSuchUpload
        )
        await put(store, "plain", b"abc")
        assert await get(store, "plain", part_number=1) == b"abc"
        assert (
            await error_of(store.get_object(BUCKET, "plain", None, ReadConditions(), part_number=2))
            is S3ErrorCode.InvalidPartNumber
        )

    root = tmp_path / "data"
    run(root, scenario)
    assert len(blob_files(root)) == 4  # the replaced part 1 was freed


def test_complete_validates_parts_like_s3(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        upload = await create(store, "k")
        e1 = await upload_part(store, "k", upload, 1, b"small")
        e2 = await upload_part(store, "k", upload, 2, b"small too")
        assert await error_of(complete(store, "k", upload, [(1, e1), (2, '"00"')])) is (
            S3ErrorCode.InvalidPart
        )
        assert await error_of(complete(store, "k", upload, [(1, e1), (7, e2)])) is (
            S3ErrorCode.InvalidPart
        )
        assert await error_of(complete(store, "k", upload, [(2, e2), (1, e1)])) is (
            S3ErrorCode.InvalidPartOrder
        )
        assert await error_of(complete(store, "k", upload, [(1, e1), (2, e2)])) is (
            S3ErrorCode.EntityTooSmall
        )
        assert await error_of(complete(store, "k", "no-such-upload", [(1, e1)])) is (
            S3ErrorCode.NoSuchUpload
        )
        assert await error_of(upload_part(store, "other-key", upload, 1, b"x")) is (
            S3ErrorCode.NoSuchUpload
        )
        await put(store, "k", b"existing")
        assert (
            await error_of(
                complete(store, "k", upload, [(2, e2)], WriteConditions(if_none_match="*"))
            )
            is S3ErrorCode.PreconditionFailed
        )
        # failures changed nothing: the upload still completes, with a part subset
        assert await get(store, "k") == b"existing"
        await complete(store, "k", upload, [(2, e2)])
        assert await get(store, "k") == b"small too"

    root = tmp_path / "data"
    run(root, scenario)
    assert len(blob_files(root)) == 1  # the unlisted part and the overwritten object went


def test_abort_and_unknown_uploads(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        upload = await create(store, "k")
        await upload_part(store, "k", upload, 1, b"part")
        assert await store.has_uploads(BUCKET, "")
        assert not await store.has_uploads(BUCKET, "x")
        await store.abort_multipart_upload(BUCKET, "k", upload)
        assert not await store.has_uploads(BUCKET, "")
        for call in (
            store.abort_multipart_upload(BUCKET, "k", upload),
            upload_part(store, "k", upload, 1, b"late"),
            store.list_parts(BUCKET, "k", upload, 0, 10),
        ):
            assert await error_of(call) is S3ErrorCode.NoSuchUpload

    root = tmp_path / "data"
    run(root, scenario)
    assert blob_files(root) == []
    assert list((root / "tmp").iterdir()) == []


def test_upload_part_copy(tmp_path: Path) -> None:
    source = bytes(range(256)) * 40_000  # ~10 MiB

    async def scenario(store: LocalStore) -> None:
        source_etag = await put(store, "src", source)
        upload = await create(store, "dst", "CRC32")

        def copy(number: int, span: tuple[int, int] | None, **kw: object) -> UploadPartCopyInput:
            return UploadPartCopyInput(
                BUCKET,
                "src",
                BUCKET,
                "dst",
                upload,
                number,
                span,
                **kw,  # type: ignore[arg-type]
            )

        c1 = await store.upload_part_copy(copy(1, (0, 5 * MiB - 1)))
        c2 = await store.upload_part_copy(copy(2, (5 * MiB, len(source) - 1)))
        assert c1.etag == f'"{hashlib.md5(source[: 5 * MiB]).hexdigest()}"'
        assert await error_of(store.upload_part_copy(copy(3, (0, len(source))))) is (
            S3ErrorCode.InvalidRange
        )
        refused = copy(3, None, source_conditions=ReadConditions(if_none_match=source_etag))
        assert await error_of(store.upload_part_copy(refused)) is S3ErrorCode.PreconditionFailed
        page = await store.list_parts(BUCKET, "dst", upload, 0, 10)
        halves = (source[: 5 * MiB], source[5 * MiB :])
        # copied parts carry the upload's checksum, as uploaded ones do
        assert [p.checksums for p in page.parts] == [{"CRC32": crc(half)} for half in halves]
        await complete(store, "dst", upload, [(1, c1.etag), (2, c2.etag)])
        assert await get(store, "dst") == source
        info = await store.head_object(BUCKET, "dst", ReadConditions(), checksum_mode=True)
        digests = b"".join(base64.b64decode(crc(half)) for half in halves)
        assert info.extra_headers["x-amz-checksum-crc32"] == f"{crc(digests)}-2"

    run(tmp_path / "data", scenario)


def test_composite_checksum_of_parts(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        upload = await create(store, "sums", "CRC32")
        etags = []
        for number, data in ((1, PART1), (2, PART3)):
            etags.append(
                await store.upload_part(
                    UploadPartInput(
                        BUCKET,
                        "sums",
                        upload,
                        number,
                        chunks(data),
                        len(data),
                        checksum=("x-amz-checksum-crc32", crc(data)),
                    )
                )
            )
        page = await store.list_parts(BUCKET, "sums", upload, 0, 10)
        assert page.checksum_algorithm == "CRC32"
        assert page.parts[1].checksums == {"CRC32": crc(PART3)}
        result = await store.complete_multipart_upload(
            CompleteMultipartInput(
                BUCKET,
                "sums",
                upload,
                [CompletedPart(1, etags[0], {"CRC32": crc(PART1)}), CompletedPart(2, etags[1])],
            )
        )
        digests = base64.b64decode(crc(PART1)) + base64.b64decode(crc(PART3))
        expected = f"{crc(digests)}-2"
        assert result.checksums == {"CRC32": expected}
        info = await store.head_object(BUCKET, "sums", ReadConditions(), checksum_mode=True)
        assert info.extra_headers["x-amz-checksum-crc32"] == expected

    run(tmp_path / "data", scenario)


def test_list_multipart_uploads(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        ids: dict[str, list[str]] = {}
        for key in ("b", "a", "a/x", "a/y", "b", "c"):
            ids.setdefault(key, []).append(await create(store, key))
        everything = await store.list_multipart_uploads(BUCKET, "", None, None, None, 100)
        listed = [(u.key, u.upload_id) for u in everything.uploads]
        assert [key for key, _ in listed] == ["a", "a/x", "a/y", "b", "b", "c"]
        assert [uid for key, uid in listed if key == "b"] == ids["b"]  # initiation order
        assert everything.next_marker is None
        # paging by (key, upload id) markers walks the same sequence
        walked: list[tuple[str, str]] = []
        marker: tuple[str | None, str | None] = (None, None)
        while True:
            page = await store.list_multipart_uploads(BUCKET, "", None, *marker, 2)
            walked += [(u.key, u.upload_id) for u in page.uploads]
            if page.next_marker is None:
                break
            marker = page.next_marker
        assert walked == listed
        rolled = await store.list_multipart_uploads(BUCKET, "", "/", None, None, 100)
        assert [u.key for u in rolled.uploads] == ["a", "b", "b", "c"]
        assert rolled.prefixes == ["a/"]
        after = await store.list_multipart_uploads(BUCKET, "", None, "b", None, 100)
        assert [u.key for u in after.uploads] == ["c"]
        under = await store.list_multipart_uploads(BUCKET, "a/", None, None, None, 100)
        assert [u.key for u in under.uploads] == ["a/x", "a/y"]

    run(tmp_path / "data", scenario)


def test_full_object_checksum_and_declared_object_checksum(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        upload = await store.create_multipart_upload(
            CreateMultipartInput(
                BUCKET, "full", ObjectAttributes(), checksum_algorithm="CRC32",
                checksum_type="FULL_OBJECT",
            )
        )  # fmt: skip
        parts = []
        for number, data in ((1, PART1), (2, PART2), (3, PART3)):
            etag = await store.upload_part(
                UploadPartInput(
                    BUCKET,
                    "full",
                    upload,
                    number,
                    chunks(data),
                    len(data),
                    checksum=("x-amz-checksum-crc32", crc(data)),
                )
            )
            parts.append(CompletedPart(number, etag))
        wrong = CompleteMultipartInput(
            BUCKET, "full", upload, parts, checksum=("x-amz-checksum-crc32", crc(b"other"))
        )
        assert await error_of(store.complete_multipart_upload(wrong)) is S3ErrorCode.BadDigest
        whole = PART1 + PART2 + PART3
        right = CompleteMultipartInput(
            BUCKET, "full", upload, parts, checksum=("x-amz-checksum-crc32", crc(whole))
        )
        result = await store.complete_multipart_upload(right)
        assert result.checksums == {"CRC32": crc(whole)}  # the whole object's CRC, no "-N"
        info = await store.head_object(BUCKET, "full", ReadConditions(), checksum_mode=True)
        assert info.extra_headers["x-amz-checksum-crc32"] == crc(whole)

    run(tmp_path / "data", scenario)


def test_listed_uploads_carry_their_class_and_checksum(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await store.create_multipart_upload(
            CreateMultipartInput(
                BUCKET, "cold", ObjectAttributes(), checksum_algorithm="CRC32",
                checksum_type="FULL_OBJECT", storage_class="GLACIER",
            )
        )  # fmt: skip
        await create(store, "plain")
        page = await store.list_multipart_uploads(BUCKET, "", None, None, None, 100)
        listed = [
            (u.key, u.storage_class, u.checksum_algorithm, u.checksum_type) for u in page.uploads
        ]
        assert listed == [
            ("cold", "GLACIER", "CRC32", "FULL_OBJECT"),
            ("plain", "STANDARD", None, None),
        ]

    run(tmp_path / "data", scenario)
