"""Checksum records of multipart uploads (s3proxy.backends.upload_records) over an in-memory
upstream, and the UploadId that says whether an upload has them (s3proxy.handlers.multipart)."""

from __future__ import annotations

import asyncio
import base64
import zlib
from types import SimpleNamespace
from typing import Any

import pytest

from s3proxy.backends.upload_records import (
    RecordedCompletion,
    UploadChecksum,
    UploadRecords,
    etag_digest,
    part_with,
    upload_digest,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.upload_ids import issue_upload_id, verified_marks
from s3proxy.layout import UpstreamRoot
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    DeleteResult,
    ListEntry,
    ListPage,
    PartInfo,
    PutObjectInput,
)

HOME = UpstreamRoot("up", "homes", "alice/")
CRC32 = UploadChecksum("CRC32", "COMPOSITE")


def crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class Upstream:
    """Keys in byte order, S3 ListObjectsV2 paging with a small page, DeleteObjects."""

    def __init__(self, page: int = 2) -> None:
        self.keys: set[str] = set()
        self.page = page
        self.fail_deletes = False

    async def put_object(self, request: PutObjectInput) -> None:
        assert request.bucket == "homes" and request.content_length == 0
        self.keys.add(request.key)

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int,
        token: str | None = None,
    ) -> ListPage:
        after = token or start_after or ""
        entries: list[ListEntry] = []
        prefixes: list[str] = []
        for key in sorted(k for k in self.keys if k.startswith(prefix) and k > after):
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + 1]
                if common not in prefixes and not after.startswith(common):
                    prefixes.append(common)
                    after = common + "\U0010ffff"
                continue
            entries.append(ListEntry(key, "", 0, "t"))
            if len(entries) + len(prefixes) >= min(max_keys, self.page):
                return ListPage(entries, prefixes, key)
        return ListPage(entries, prefixes, None)

    async def delete_objects(self, bucket: str, keys: list[str]) -> list[DeleteResult]:
        if self.fail_deletes:
            raise S3Error(S3ErrorCode.ServiceUnavailable)
        self.keys -= set(keys)
        return [DeleteResult(key) for key in keys]


def records(upstream: Upstream) -> UploadRecords:
    return UploadRecords(upstream, HOME)  # type: ignore[arg-type]


def test_checksum_tokens_round_trip_and_refuse_anything_else() -> None:
    checksum = UploadChecksum("CRC64NVME", "FULL_OBJECT")
    assert UploadChecksum.from_token(checksum.token()) == checksum
    for junk in (None, 3, "", "CRC32", "MD5.COMPOSITE", "CRC32.PARTIAL", "crc32.COMPOSITE"):
        assert UploadChecksum.from_token(junk) is None


def test_part_records_are_read_by_part_and_etag_over_pages() -> None:
    upstream = Upstream()
    kept = records(upstream)

    async def scenario() -> None:
        await kept.create("docs", "k", "u1", CRC32)
        for number, body in ((1, b"one"), (2, b"two"), (2, b"two again"), (3, b"three")):
            await kept.add_part("docs", "k", "u1", CRC32, number, f'"{body.hex()}"', crc(body))
        await kept.add_part("docs", "other", "u1", CRC32, 1, '"x"', crc(b"x"))  # other key
        found = await kept.part_checksums("docs", "k", "u1", CRC32)
        assert found == {
            (1, etag_digest(b"one".hex())): crc(b"one"),
            (2, etag_digest(b"two".hex())): crc(b"two"),
            (2, etag_digest(b"two again".hex())): crc(b"two again"),
            (3, etag_digest(b"three".hex())): crc(b"three"),
        }
        assert set(await kept.part_checksums("docs", "k", "u1", CRC32, 2, 2)) == {
            (2, etag_digest(b"two".hex())),
            (2, etag_digest(b"two again".hex())),
        }

    asyncio.run(scenario())
    digest = upload_digest("k", "u1")
    assert f"alice/.uploads/docs/{digest}.CRC32.COMPOSITE/upload" in upstream.keys


def test_the_bucket_listing_names_each_recorded_upload_once() -> None:
    upstream = Upstream(page=1)
    kept = records(upstream)
    full = UploadChecksum("CRC32C", "FULL_OBJECT")

    async def scenario() -> dict[str, UploadChecksum]:
        await kept.create("docs", "a", "u1", CRC32)
        await kept.create("docs", "b", "u2", full)
        await kept.create("photos", "a", "u3", CRC32)
        for number in (1, 2, 3):
            await kept.add_part("docs", "a", "u1", CRC32, number, '"e"', crc(b"e"))
        return await kept.checksums_of("docs")

    assert asyncio.run(scenario()) == {
        upload_digest("a", "u1"): CRC32,
        upload_digest("b", "u2"): full,
    }


def test_remove_takes_every_record_of_one_upload_and_never_fails() -> None:
    upstream = Upstream()
    kept = records(upstream)

    async def scenario() -> None:
        await kept.create("docs", "k", "u1", CRC32)
        await kept.create("docs", "k", "u2", CRC32)
        for number in range(1, 6):
            await kept.add_part("docs", "k", "u1", CRC32, number, '"e"', crc(b"e"))
        upstream.fail_deletes = True
        await kept.remove("docs", "k", "u1", CRC32)  # logged, not raised: the upload is gone
        upstream.fail_deletes = False
        await kept.remove("docs", "k", "u1", CRC32)

    asyncio.run(scenario())
    assert upstream.keys == {
        f"alice/.uploads/docs/{upload_digest('k', 'u2')}.CRC32.COMPOSITE/upload"
    }


def test_a_listed_checksum_is_kept_and_a_missing_one_filled_in() -> None:
    found = {(1, etag_digest('"a"')): crc(b"a")}
    listed = PartInfo(1, '"a"', 1, "t", {"CRC32": "upstream's"})
    assert part_with(listed, CRC32, found) is listed
    assert part_with(PartInfo(1, '"A"', 1, "t"), CRC32, found).checksums == {"CRC32": crc(b"a")}
    assert part_with(PartInfo(2, '"a"', 1, "t"), CRC32, found).checksums == {}


def _completion(checksum: UploadChecksum, declared: tuple[str, str] | None) -> tuple[Any, ...]:
    bodies = [b"first part", b"second"]
    stored = [
        PartInfo(n, f'"e{n}"', len(body), "t", {"CRC32": crc(body)})
        for n, body in enumerate(bodies, 1)
    ]
    request = CompleteMultipartInput(
        bucket="docs",
        key="k",
        upload_id="u1",
        parts=[CompletedPart(n, f'"e{n}"') for n in (1, 2)],
        checksum=declared,
    )
    return RecordedCompletion(records(Upstream()), checksum), request, stored, bodies


def test_the_object_checksum_is_combined_as_s3_does() -> None:
    recorded, request, stored, bodies = _completion(CRC32, None)
    recorded.combine(request, stored)
    digests = b"".join(base64.b64decode(crc(body)) for body in bodies)
    assert recorded.combined == f"{crc(digests)}-2"
    full = UploadChecksum("CRC32", "FULL_OBJECT")
    recorded, request, stored, bodies = _completion(full, ("x-amz-checksum-crc32", crc(b"")))
    with pytest.raises(S3Error) as caught:
        recorded.combine(request, stored)
    assert caught.value.code is S3ErrorCode.BadDigest
    whole = crc(b"".join(bodies))
    recorded, request, stored, _ = _completion(full, ("x-amz-checksum-crc32", whole))
    recorded.combine(request, stored)
    assert recorded.combined == whole


def test_no_object_checksum_is_claimed_when_a_part_has_none() -> None:
    recorded, request, stored, _ = _completion(CRC32, None)
    stored[1] = PartInfo(2, '"e2"', 6, "t")
    recorded.combine(request, stored)
    assert recorded.combined is None


def ctx() -> Any:
    return SimpleNamespace(tenant="alice", secret="s" * 32)


def test_the_upload_id_says_whether_records_exist() -> None:
    plain = issue_upload_id(ctx(), "docs", "k", "2~up")
    recorded = issue_upload_id(ctx(), "docs", "k", "2~up", CRC32)
    assert plain != recorded
    assert verified_marks(ctx(), "docs", "k", plain)[:2] == ("2~up", None)
    assert verified_marks(ctx(), "docs", "k", recorded)[:2] == ("2~up", CRC32)
    assert recorded == issue_upload_id(ctx(), "docs", "k", "2~up", CRC32)  # deterministic
    with pytest.raises(S3Error) as caught:
        verified_marks(ctx(), "docs", "other", recorded)
    assert caught.value.code is S3ErrorCode.NoSuchUpload
