"""Object tags and storage classes: S3's tag rules, the header and XML forms, the local store's
index (and its migration from a store written before tags and classes were kept)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from s3proxy.backends.local import LocalStore
from s3proxy.backends.local.index import DB_FILE
from s3proxy.config.models import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CopyObjectInput,
    CreateMultipartInput,
    ObjectAttributes,
    PutObjectInput,
    Tags,
)
from s3proxy.storage_classes import requested, write_headers
from s3proxy.tagging import (
    copy_tags,
    document,
    header_value,
    parse_document,
    parse_header,
    request_tags,
)
from tests.unit.local_helpers import BUCKET, NO_READ_CONDITIONS, chunks, run


def _code(call: object, *args: object) -> S3ErrorCode:
    with pytest.raises(S3Error) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value.code


def test_header_form_round_trips_with_spaces_and_unicode() -> None:
    tags = (("team", "blue sky"), ("owner", "zoë@example.org"), ("empty", ""))
    assert parse_header(header_value(tags)) == tags
    assert parse_header("a=1&b") == (("a", "1"), ("b", ""))
    assert request_tags(None) == ()


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("&".join(f"k{i}=v" for i in range(11)), S3ErrorCode.BadRequest),  # 11 tags: AWS's code
        ("k" * 129 + "=v", S3ErrorCode.InvalidTag),
        ("k=" + "v" * 257, S3ErrorCode.InvalidTag),
        ("aws:thing=v", S3ErrorCode.InvalidTag),
        ("k%3Cscript%3E=v", S3ErrorCode.InvalidTag),  # '<' is not an allowed character
        ("k=v%21", S3ErrorCode.InvalidTag),  # '!' neither
        ("=v", S3ErrorCode.InvalidArgument),  # an empty key: the header did not decode
        ("k%=v", S3ErrorCode.InvalidArgument),  # nor does a bad escape
        ("k=1&k=2", S3ErrorCode.InvalidArgument),  # the header form's own duplicate answer
    ],
)
def test_header_form_refuses_what_s3_refuses(value: str, code: S3ErrorCode) -> None:
    assert _code(parse_header, value) is code


def test_limits_are_inclusive() -> None:
    ten = "&".join(f"k{i}=v" for i in range(10))
    assert len(parse_header(ten)) == 10
    assert parse_header("k" * 128 + "=" + "v" * 256)[0] == ("k" * 128, "v" * 256)
    assert parse_header("a+b:c/d.e_f-g@h=x%3Dy")[0] == ("a b:c/d.e_f-g@h", "x=y")


def test_document_round_trips_and_escapes() -> None:
    tags = (("a", "x + y"), ("b", ""))
    assert parse_document(document(tags)) == tags
    assert b"<Value>x &amp; y</Value>" in document((("a", "x & y"),))  # as an upstream had it
    assert parse_document(document(())) == ()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>", "MalformedXML"),
        (b"<Tagging></Tagging>", "MalformedXML"),
        (b"<Other><TagSet/></Other>", "MalformedXML"),
        (b"not xml", "MalformedXML"),
        (
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"
            b"<Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>",
            "InvalidTag",
        ),
    ],
)
def test_document_refusals(body: bytes, code: str) -> None:
    assert _code(parse_document, body).name == code


def test_copy_directive() -> None:
    assert copy_tags(None, "a=b") is None  # COPY: the source's tags; the header is ignored
    assert copy_tags("replace", "a=b") == (("a", "b"),)
    assert copy_tags("REPLACE", None) == ()
    assert _code(copy_tags, "MERGE", None) is S3ErrorCode.InvalidArgument
    assert _code(copy_tags, "COPY", "aws:x=1") is S3ErrorCode.InvalidTag


def test_storage_classes() -> None:
    assert requested(None) == "STANDARD"
    assert requested("GLACIER") == "GLACIER"
    assert _code(requested, "SUPERCOLD") is S3ErrorCode.InvalidStorageClass
    assert write_headers(frozenset(), "STANDARD", ()) == {}
    assert write_headers(frozenset({"GLACIER"}), "GLACIER", (("a", "b c"),)) == {
        "x-amz-storage-class": "GLACIER",
        "x-amz-tagging": "a=b%20c",
    }
    assert _code(write_headers, frozenset(), "GLACIER", ()) is S3ErrorCode.InvalidStorageClass


# --- the local store ---------------------------------------------------------------------


def _put(key: str, storage_class: str = "STANDARD", tags: Tags = ()) -> PutObjectInput:
    return PutObjectInput(
        bucket=BUCKET,
        key=key,
        body=chunks(b"data"),
        content_length=4,
        attributes=ObjectAttributes(),
        storage_class=storage_class,
        tags=tags,
    )


def test_local_store_keeps_tags_and_class(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        await store.put_object(_put("k", "GLACIER", (("a", "1"), ("b", "2"))))
        info = await store.head_object(BUCKET, "k", NO_READ_CONDITIONS)
        assert (info.storage_class, info.tag_count) == ("GLACIER", 2)
        assert await store.get_object_tagging(BUCKET, "k") == (("a", "1"), ("b", "2"))
        page = await store.list_objects(BUCKET, "", None, None, 10)
        assert [(e.key, e.storage_class) for e in page.entries] == [("k", "GLACIER")]
        await store.put_object_tagging(BUCKET, "k", (("z", ""),))
        assert await store.get_object_tagging(BUCKET, "k") == (("z", ""),)
        with pytest.raises(S3Error) as missing:
            await store.put_object_tagging(BUCKET, "nope", (("z", ""),))
        assert missing.value.code is S3ErrorCode.NoSuchKey
        # A copy takes the class asked for and, with COPY, the source's tags.
        copy = CopyObjectInput(BUCKET, "k", BUCKET, "c", False, ObjectAttributes())
        await store.copy_object(copy)
        info = await store.head_object(BUCKET, "c", NO_READ_CONDITIONS)
        assert (info.storage_class, info.tag_count) == ("STANDARD", 1)
        replaced = CopyObjectInput(
            BUCKET, "k", BUCKET, "k", False, ObjectAttributes(), storage_class="STANDARD_IA",
            tags=(),
        )  # fmt: skip
        await store.copy_object(replaced)
        info = await store.head_object(BUCKET, "k", NO_READ_CONDITIONS)
        assert (info.storage_class, info.tag_count) == ("STANDARD_IA", 0)
        # Multipart: the upload's class and tags become the object's, ListParts names the class.
        upload = await store.create_multipart_upload(
            CreateMultipartInput(
                BUCKET, "m", ObjectAttributes(), storage_class="ONEZONE_IA", tags=(("m", "1"),)
            )
        )
        parts = await store.list_parts(BUCKET, "m", upload, 0, 10)
        assert parts.storage_class == "ONEZONE_IA"

    run(tmp_path, scenario)


# The index as the release before tags and storage classes wrote it (its two changed tables).
OLD_TABLES = """
CREATE TABLE objects (
    id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, modified_ms INTEGER NOT NULL, parts_count INTEGER NOT NULL,
    headers TEXT NOT NULL, metadata TEXT NOT NULL, checksums TEXT NOT NULL, UNIQUE (bucket, key)
);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL, initiated_ms INTEGER NOT NULL,
    headers TEXT NOT NULL, metadata TEXT NOT NULL, checksum_algorithm TEXT, checksum_type TEXT
);
"""


def test_a_store_from_before_tags_is_migrated_in_place(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.executescript(OLD_TABLES)
    db.execute(
        "INSERT INTO objects (bucket, key, size, etag, modified_ms, parts_count, headers,"
        " metadata, checksums) VALUES (?, ?, 0, '\"d41d8cd98f00b204e9800998ecf8427e\"', 0, 0,"
        " '{}', '{\"m\":\"1\"}', '{}')",
        (BUCKET, b"old"),
    )
    db.execute(
        "INSERT INTO uploads VALUES ('u1', ?, ?, 0, '{}', '{}', NULL, NULL)", (BUCKET, b"up")
    )
    db.commit()
    db.close()

    async def scenario(store: LocalStore) -> None:
        info = await store.head_object(BUCKET, "old", NO_READ_CONDITIONS)
        assert (info.storage_class, info.tag_count) == ("STANDARD", 0)
        assert info.attributes.metadata == {"m": "1"}
        assert await store.get_object_tagging(BUCKET, "old") == ()
        await store.put_object_tagging(BUCKET, "old", (("a", "b"),))
        assert (await store.list_parts(BUCKET, "up", "u1", 0, 10)).storage_class == "STANDARD"

    async def reopened(store: LocalStore) -> None:
        assert await store.get_object_tagging(BUCKET, "old") == (("a", "b"),)

    run(tmp_path, scenario)
    run(tmp_path, reopened)  # a second open finds nothing to add and keeps what was set


def test_upstream_storage_classes_setting() -> None:
    config = UpstreamConfig(endpoint="http://127.0.0.1:8333", storage_classes=("GLACIER",))
    assert config.storage_classes == ("GLACIER",)
    assert UpstreamConfig(endpoint="http://127.0.0.1:8333").storage_classes == ()
    with pytest.raises(ValidationError, match="not S3 storage classes: COLDEST"):
        UpstreamConfig(endpoint="http://127.0.0.1:8333", storage_classes=("GLACIER", "COLDEST"))
