"""s3proxy.backends.mapped_multipart: ListMultipartUploads over shards against a reference, and
UploadPartCopy between two upstreams.

An in-memory upstream lists uploads like S3 (by key, then upload id, with key and upload-id
markers, no delimiter — the proxy rolls prefixes up itself); walking the merged listing page by
page with the markers it hands out must give exactly the reference listing of the client keys,
for random keys with several uploads each, any prefix, delimiter, page size and shard count.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot
from s3proxy.listing import ListQuery
from s3proxy.model import (
    GetObjectOutput,
    ObjectAttributes,
    ObjectInfo,
    UploadInfo,
    UploadPartCopyInput,
    UploadPartInput,
    UploadsPage,
)

ROOT = UpstreamRoot("up", "upstream-bucket", "root/")


class Uploads:
    """An upstream's ListMultipartUploads, S3 semantics, delimiter refused (never sent)."""

    def __init__(self, uploads: list[tuple[str, str]], reverse_pages: bool = False) -> None:
        self.uploads = sorted(uploads)
        self.reverse_pages = reverse_pages
        self.calls = 0

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        assert bucket == ROOT.bucket and delimiter is None
        self.calls += 1
        chosen = []
        for key, upload_id in self.uploads:
            if not key.startswith(prefix):
                continue
            if key_marker is not None and (key, upload_id) <= (key_marker, upload_id_marker or ""):
                continue
            if key_marker is not None and key == key_marker and upload_id_marker is None:
                continue
            chosen.append(UploadInfo(key, upload_id, "2026-01-01T00:00:00.000Z"))
        page = chosen[:max_uploads]
        next_marker = (page[-1].key, page[-1].upload_id) if len(chosen) > max_uploads else None
        if self.reverse_pages:  # SeaweedFS: not in key order
            page.reverse()
        return UploadsPage(page, [], next_marker)


def storage(backend: Uploads, digits: int) -> MappedStorage:
    layout = TenantLayout("t", buckets={"b": ROOT})
    return MappedStorage(layout, {"up": backend}, digits)  # type: ignore[dict-item]


def upstream_key(key: str, digits: int) -> str:
    shard = hashlib.sha256(key.encode()).hexdigest()[:digits]
    return f"{ROOT.prefix}{shard}/{key}" if digits else f"{ROOT.prefix}{key}"


def reference(
    uploads: list[tuple[str, str]], prefix: str, delimiter: str | None
) -> list[tuple[str, str | None]]:
    """Every (key, upload id) or (common prefix, None), in S3's order."""
    out: list[tuple[str, str | None]] = []
    for key, upload_id in sorted(uploads, key=lambda u: (u[0].encode(), u[1])):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter or "")]
            if not out or out[-1] != (common, None):
                out.append((common, None))
        else:
            out.append((key, upload_id))
    return out


async def walk(
    mapped: MappedStorage, prefix: str, delimiter: str | None, max_uploads: int
) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = await mapped.uploads.list_uploads(
            "b", ListQuery(prefix, delimiter, key_marker, max_uploads), id_marker
        )
        count = len(page.uploads) + len(page.prefixes)
        assert count <= max_uploads and (count > 0 or page.next_marker is None)
        items = [(u.key, u.upload_id) for u in page.uploads]
        items += [(p, None) for p in page.prefixes]
        seen.extend(sorted(items, key=lambda item: item[0].encode()))
        if page.next_marker is None:
            return seen
        key_marker, id_marker = page.next_marker
        assert key_marker == seen[-1][0]


keys = st.text(alphabet="ab/-é", min_size=1, max_size=4)
uploads_strategy = st.lists(
    st.tuples(keys, st.integers(1, 3)), min_size=1, max_size=25, unique_by=lambda t: t[0]
)


@settings(max_examples=150, deadline=None)
@given(
    drawn=uploads_strategy,
    prefix=st.sampled_from(["", "a", "a/", "é"]),
    delimiter=st.sampled_from([None, "/", "-"]),
    max_uploads=st.integers(1, 6),
    digits=st.sampled_from([0, 1, 2]),
)
def test_merged_pages_equal_the_reference(
    drawn: list[tuple[str, int]],
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    digits: int,
) -> None:
    client = [(key, f"id{key}{n}") for key, count in drawn for n in range(count)]
    backend = Uploads([(upstream_key(key, digits), uid) for key, uid in client])
    expected = reference(client, prefix, delimiter)
    got = asyncio.run(walk(storage(backend, digits), prefix, delimiter, max_uploads))
    assert got == expected


def test_one_page_is_right_on_an_upstream_out_of_key_order() -> None:
    """SeaweedFS lists uploads in upload-id order and ignores delimiter: one page still works."""
    client = [("b", "1"), ("a/2", "2"), ("a/1", "3"), ("c", "4"), ("c", "0")]
    backend = Uploads([(upstream_key(k, 1), u) for k, u in client], reverse_pages=True)
    got = asyncio.run(walk(storage(backend, 1), "", "/", 1000))
    assert [key for key, _ in got] == ["a/", "b", "c", "c"]  # one key's uploads: upstream order
    assert set(got) == {("a/", None), ("b", "1"), ("c", "0"), ("c", "4")}


class Source:
    """An upstream holding one object: serves (ranged) GETs of it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False

    async def get_object(
        self, bucket: str, key: str, byte_range: Any, conditions: Any, checksum_mode: bool = False
    ) -> GetObjectOutput:
        first, last = 0, len(self.data) - 1
        if byte_range is not None:
            first, last = byte_range.start, min(byte_range.end, len(self.data) - 1)
        piece = self.data[first : last + 1]

        async def body() -> AsyncIterator[bytes]:
            yield piece

        async def aclose() -> None:
            self.closed = True

        return GetObjectOutput(
            info=ObjectInfo(len(self.data), '"e"', "t", ObjectAttributes()),
            body=body(),
            content_range=(first, last, len(self.data)) if byte_range is not None else None,
            content_length=len(piece),
            aclose=aclose,
        )


class Target:
    """An upstream receiving parts."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str, int, bytes]] = []

    async def upload_part(self, request: UploadPartInput) -> str:
        data = b"".join([chunk async for chunk in request.body])
        assert len(data) == request.content_length
        self.parts.append((request.key, request.upload_id, request.part_number, data))
        return f'"{hashlib.md5(data).hexdigest()}"'


def test_upload_part_copy_between_upstreams_streams_the_range() -> None:
    source, target = Source(b"0123456789"), Target()
    layout = TenantLayout(
        "t",
        buckets={"src": UpstreamRoot("one", "b1", ""), "dst": UpstreamRoot("two", "b2", "")},
    )
    mapped = MappedStorage(layout, {"one": source, "two": target}, 0)  # type: ignore[dict-item]

    def copy(source_range: tuple[int, int] | None) -> Any:
        request = UploadPartCopyInput("src", "obj", "dst", "new", "u1", 3, source_range)
        return asyncio.run(mapped.uploads.upload_part_copy(request))

    result = copy((2, 5))
    assert result.etag == f'"{hashlib.md5(b"2345").hexdigest()}"'
    assert target.parts == [("new", "u1", 3, b"2345")] and source.closed
    copy(None)
    assert target.parts[-1][3] == b"0123456789"
    with pytest.raises(S3Error) as caught:  # the range must lie inside the source
        copy((5, 10))
    assert caught.value.code is S3ErrorCode.InvalidRange
