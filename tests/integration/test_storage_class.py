"""Storage classes (issue 17.2) on every lane: accepted on PUT, multipart and copy (a self-copy
that changes only the class included), reported alike on HEAD/GET (never for STANDARD),
ListObjects V1/V2, ListObjectVersions, GetObjectAttributes and ListParts; an unknown class is
400 InvalidStorageClass. The local store keeps every class in its index. The lanes' S3
upstreams list no class in ``storage_classes``, so there the proxy keeps every class but
STANDARD (a record per object, :mod:`s3proxy.backends.class_records`: the upstream object is
STANDARD); a SeaweedFS proxy whose upstream lists every class shows them forwarded."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from s3proxy import keycodec
from s3proxy.layout import shard_of
from s3proxy.storage_classes import STORAGE_CLASSES
from tests.integration.conftest import SHARDS, Proxy, start_proxy
from tests.support.clients import AwsCli

pytestmark = pytest.mark.integration

BUCKET = "docs"
CLASSES = ("STANDARD_IA", "GLACIER", "REDUCED_REDUNDANCY")
RECORDS = f"alice/.buckets/.classes/{BUCKET}."
"""Then the bucket's records token, "/" and the flat-encoded key (README, "Upstream layout")."""


@pytest.fixture(scope="module")
def forwarding_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy whose SeaweedFS upstream lists every class (SeaweedFS lane only)."""
    if backend != "seaweedfs":
        pytest.skip("only SeaweedFS stores and lists every class itself")
    running = start_proxy(
        proxy.server,
        proxy.upstream,
        tmp_path_factory.mktemp("classes-seaweedfs"),
        upstream_options={"storage_classes": sorted(STORAGE_CLASSES - {"STANDARD"})},
    )
    try:
        yield running
    finally:
        running.process.stop()


def _key(name: str) -> str:
    return f"classes/{name}-{uuid.uuid4().hex[:8]}"


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _headers(response: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = response["ResponseMetadata"]["HTTPHeaders"]
    return headers


def _head_class(client: Any, key: str) -> str:
    head = client.head_object(Bucket=BUCKET, Key=key)
    if "StorageClass" not in head:
        assert "x-amz-storage-class" not in _headers(head)  # S3 never names STANDARD
    return str(head.get("StorageClass", "STANDARD"))


def _views(client: Any, prefix: str) -> dict[str, dict[str, str]]:
    """The class of every key under ``prefix`` as each read reports it."""
    v1 = client.list_objects(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    v2 = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])
    keys = [item["Key"] for item in v2]
    views = {
        "v1": {item["Key"]: item["StorageClass"] for item in v1},
        "v2": {item["Key"]: item["StorageClass"] for item in v2},
        "versions": {item["Key"]: item["StorageClass"] for item in versions},
        "head": {key: _head_class(client, key) for key in keys},
        "get": {
            key: client.get_object(Bucket=BUCKET, Key=key).get("StorageClass", "STANDARD")
            for key in keys
        },
        "attributes": {
            key: client.get_object_attributes(
                Bucket=BUCKET, Key=key, ObjectAttributes=["StorageClass"]
            )["StorageClass"]
            for key in keys
        },
    }
    return views


def _agree(client: Any, prefix: str, expected: dict[str, str]) -> None:
    views = _views(client, prefix)
    assert views == {name: expected for name in views}


def _records(proxy: Proxy, prefix: str = "") -> set[str]:
    """Client keys with a class record in alice's home (README, "Upstream layout")."""
    if proxy.upstream is None:
        return set()
    listed = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=RECORDS)
    names = [entry["Key"][len(RECORDS) :].partition("/")[2] for entry in listed.get("Contents", [])]
    keys = {keycodec.decode(name) for name in names}
    return {key for key in keys if key is not None and key.startswith(prefix)}


def _upstream_key(proxy: Proxy, key: str) -> str:
    """The upstream key of alice's docs/key, under whichever encoding the home has."""
    digits = {1: 0, 16: 1, 256: 2}[SHARDS]
    root = f"alice/{BUCKET}/{shard_of(key, digits)}/"
    for part in (keycodec.encode(key), key):
        listed = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=root + part)
        if any(item["Key"] == root + part for item in listed.get("Contents", [])):
            return root + part
    raise AssertionError(f"{key} not found upstream")


def test_every_view_agrees_on_every_class(proxy: Proxy) -> None:
    client = proxy.client("alice")
    prefix = _key("put") + "/"
    for storage_class in ("STANDARD", *CLASSES):
        client.put_object(
            Bucket=BUCKET, Key=prefix + storage_class, Body=b"x", StorageClass=storage_class
        )
    _agree(client, prefix, {prefix + name: name for name in ("STANDARD", *CLASSES)})
    if proxy.upstream is not None:  # kept by the proxy: STANDARD upstream, one record each
        for name in CLASSES:
            head = proxy.upstream.head_object(
                Bucket=proxy.home_bucket, Key=_upstream_key(proxy, prefix + name)
            )
            assert head.get("StorageClass", "STANDARD") == "STANDARD"
        assert _records(proxy, prefix) == {prefix + name for name in CLASSES}


def test_an_unknown_class_is_refused_and_nothing_is_stored(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("unknown")
    assert _error(
        client.put_object, Bucket=BUCKET, Key=key, Body=b"x", StorageClass="SUPERCOLD"
    ) == (400, "InvalidStorageClass")
    assert _error(
        client.create_multipart_upload, Bucket=BUCKET, Key=key, StorageClass="SUPERCOLD"
    ) == (400, "InvalidStorageClass")
    assert _error(client.head_object, Bucket=BUCKET, Key=key)[0] == 404


def test_overwrites_and_deletes_replace_or_clear_the_class(proxy: Proxy) -> None:
    client = proxy.client("alice")
    prefix = _key("overwrite") + "/"
    a, b, c = prefix + "a", prefix + "b", prefix + "c"
    for key in (a, b, c):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"same", StorageClass="GLACIER")
    client.put_object(Bucket=BUCKET, Key=a, Body=b"same", StorageClass="DEEP_ARCHIVE")
    client.put_object(Bucket=BUCKET, Key=b, Body=b"same")  # same bytes, same ETag: STANDARD
    _agree(client, prefix, {a: "DEEP_ARCHIVE", b: "STANDARD", c: "GLACIER"})
    assert _records(proxy, prefix) == ({a, c} if proxy.upstream is not None else set())
    client.delete_object(Bucket=BUCKET, Key=c)
    client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": a}]})
    assert _records(proxy, prefix) == set()
    # Written again with the same bytes (the same ETag), they are STANDARD, as S3 makes them.
    for key in (a, c):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"same")
    _agree(client, prefix, {a: "STANDARD", b: "STANDARD", c: "STANDARD"})


def test_a_stale_record_is_never_shown(proxy: Proxy) -> None:
    """An object replaced past the proxy (on the upstream itself) keeps no kept class: its
    record names the old ETag. Nor does a record of an object deleted there disturb paging."""
    if proxy.upstream is None:
        pytest.skip("the local store keeps the class in its index, with the object")
    client = proxy.client("alice")
    prefix = _key("stale") + "/"
    keys = [prefix + name for name in ("a", "b", "c", "d")]
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"old", StorageClass="GLACIER")
    replaced, deleted = keys[1], keys[2]
    proxy.upstream.put_object(
        Bucket=proxy.home_bucket, Key=_upstream_key(proxy, replaced), Body=b"new"
    )
    proxy.upstream.delete_object(Bucket=proxy.home_bucket, Key=_upstream_key(proxy, deleted))
    assert _records(proxy, prefix) == set(keys)  # both records are still there, stale
    expected = {keys[0]: "GLACIER", replaced: "STANDARD", keys[3]: "GLACIER"}
    _agree(client, prefix, expected)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": 1}
    )
    listed = {item["Key"]: item["StorageClass"] for page in pages for item in page["Contents"]}
    assert listed == expected


def test_paging_and_common_prefixes_carry_the_classes(proxy: Proxy) -> None:
    client = proxy.client("alice")
    prefix = _key("paging") + "/"
    expected: dict[str, str] = {}
    names = ["a", "b", "b!", "b-c", "c/1", "c/2", "c0", "d", "e/x", "z"]
    for index, name in enumerate(names):
        storage_class = ("GLACIER", "STANDARD", "ONEZONE_IA")[index % 3]
        client.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"x", StorageClass=storage_class)
        expected[prefix + name] = storage_class
    for size in (1, 2, 3, 1000):
        v2 = client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": size}
        )
        v1 = client.get_paginator("list_objects").paginate(
            Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": size}
        )
        for pages in (v2, v1):
            listed = [(i["Key"], i["StorageClass"]) for p in pages for i in p["Contents"]]
            assert listed == sorted(expected.items())
    top = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix, Delimiter="/", MaxKeys=4)
    assert [i["Key"] for i in top["Contents"]] == [prefix + n for n in ("a", "b", "b!", "b-c")]
    rest = client.list_objects_v2(
        Bucket=BUCKET, Prefix=prefix, Delimiter="/", ContinuationToken=top["NextContinuationToken"]
    )
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == [prefix + "c/", prefix + "e/"]
    listed = {i["Key"]: i["StorageClass"] for page in (top, rest) for i in page["Contents"]}
    assert listed == {key: expected[key] for key in listed}
    assert len(listed) == 7


def test_multipart_upload_keeps_the_class(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("multipart")
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, StorageClass="STANDARD_IA")
    upload_id = upload["UploadId"]
    part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p")
    assert client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)["StorageClass"] == (
        "STANDARD_IA"
    )
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    _agree(client, key, {key: "STANDARD_IA"})
    # A STANDARD upload completed over it drops the kept class.
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"q")
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    _agree(client, key, {key: "STANDARD"})
    assert _records(proxy, key) == set()


def test_list_parts_names_the_upload_class(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("parts")
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key, StorageClass="GLACIER")[
        "UploadId"
    ]
    try:
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p")
        listed = client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
        assert listed["StorageClass"] == "GLACIER"
        if proxy.upstream is not None:  # the upstream lists STANDARD: the proxy's mark
            assert _upload_records(proxy, key, upload_id) == [".class.GLACIER"]
    finally:
        client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    if proxy.upstream is not None:  # the mark goes with the upload
        assert _upload_records(proxy, key, upload_id) == []


def _upload_records(proxy: Proxy, key: str, upload_id: str) -> list[str]:
    """The names of an upload's records in alice's home (README, "Upstream layout"): D from
    the client key and the upstream upload id, which the UploadId carries after its MAC."""
    raw = base64.urlsafe_b64decode(upload_id + "=" * (-len(upload_id) % 4))[16:]
    material = key.encode() + b"\x00" + json.loads(raw)["u"].encode()
    prefix = f"alice/.uploads/{BUCKET}/" + hashlib.sha256(material).hexdigest()[:32]
    listed = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=prefix)
    return sorted(entry["Key"][len(prefix) :] for entry in listed.get("Contents", []))


def test_list_multipart_uploads_names_each_upload_class(proxy: Proxy) -> None:
    """The class each upload was created with, under the UploadId Create gave (a STANDARD
    upload has no record); Complete keeps the class and drops the mark."""
    client = proxy.client("alice")
    prefix = _key("listed") + "/"
    created = {
        prefix + name: client.create_multipart_upload(
            Bucket=BUCKET, Key=prefix + name, StorageClass=name
        )["UploadId"]
        for name in ("STANDARD", "GLACIER", "STANDARD_IA")
    }
    try:
        listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)["Uploads"]
        assert {u["Key"]: (u["UploadId"], u["StorageClass"]) for u in listed} == {
            key: (upload_id, key[len(prefix) :]) for key, upload_id in created.items()
        }
        if proxy.upstream is not None:
            standard = prefix + "STANDARD"
            assert _upload_records(proxy, standard, created[standard]) == []
        key = prefix + "GLACIER"
        upload_id = created.pop(key)
        part = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p"
        )
        client.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        assert _head_class(client, key) == "GLACIER"
        if proxy.upstream is not None:
            assert _upload_records(proxy, key, upload_id) == []
    finally:
        for key, upload_id in created.items():
            client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)


def test_copies_take_the_class_asked_for(proxy: Proxy) -> None:
    client = proxy.client("alice")
    prefix = _key("copy") + "/"
    source, copied, archived = prefix + "source", prefix + "copied", prefix + "archived"
    client.put_object(Bucket=BUCKET, Key=source, Body=b"x", StorageClass="GLACIER")
    copy_source = {"Bucket": BUCKET, "Key": source}
    # Without the header a copy is STANDARD, as S3 makes it, whatever the source's class.
    client.copy_object(Bucket=BUCKET, Key=copied, CopySource=copy_source)
    client.copy_object(
        Bucket=BUCKET, Key=archived, CopySource=copy_source, StorageClass="DEEP_ARCHIVE"
    )
    _agree(client, prefix, {source: "GLACIER", copied: "STANDARD", archived: "DEEP_ARCHIVE"})
    # A copy over a kept-class object without the header makes it STANDARD.
    client.copy_object(Bucket=BUCKET, Key=archived, CopySource={"Bucket": BUCKET, "Key": copied})
    assert _head_class(client, archived) == "STANDARD"


def test_a_self_copy_may_change_only_the_class(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = _key("self")
    client.put_object(
        Bucket=BUCKET, Key=key, Body=b"x", ContentType="text/csv", Metadata={"origin": "test"}
    )
    copy_source = {"Bucket": BUCKET, "Key": key}
    assert _error(client.copy_object, Bucket=BUCKET, Key=key, CopySource=copy_source) == (
        400,
        "InvalidRequest",
    )
    for storage_class in ("STANDARD_IA", "GLACIER", "STANDARD"):
        client.copy_object(
            Bucket=BUCKET, Key=key, CopySource=copy_source, StorageClass=storage_class
        )
        _agree(client, key, {key: storage_class})
        head = client.head_object(Bucket=BUCKET, Key=key)
        assert (head["ContentType"], head["Metadata"]) == ("text/csv", {"origin": "test"})
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x"


def test_aws_cli_archives_with_storage_class(proxy: Proxy, tmp_path: Path) -> None:
    """`aws s3 cp --storage-class GLACIER`, then `s3api head-object` and `list-objects-v2`."""
    aws = AwsCli(proxy.endpoint, proxy.keys("alice"), tmp_path)
    source = tmp_path / "archive.txt"
    source.write_bytes(b"keep me cold\n")
    key = _key("awscli")
    aws("s3", "cp", str(source), f"s3://{BUCKET}/{key}", "--storage-class", "GLACIER")
    head = aws.json("s3api", "head-object", "--bucket", BUCKET, "--key", key)
    assert head["StorageClass"] == "GLACIER"
    listed = aws.json("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", key)
    assert [(i["Key"], i["StorageClass"]) for i in listed["Contents"]] == [(key, "GLACIER")]


def test_listed_classes_are_forwarded(forwarding_proxy: Proxy) -> None:
    """An upstream that lists the class stores it itself: no record is written."""
    client = forwarding_proxy.client("alice")
    key = _key("forwarded")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"x", StorageClass="GLACIER")
    _agree(client, key, {key: "GLACIER"})
    upstream = forwarding_proxy.upstream.head_object(
        Bucket=forwarding_proxy.home_bucket, Key=_upstream_key(forwarding_proxy, key)
    )
    assert upstream["StorageClass"] == "GLACIER"
    assert _records(forwarding_proxy, key) == set()


def test_a_bucket_created_again_reads_no_record_of_its_first_life(proxy: Proxy) -> None:
    """Records left behind (here: the object deleted past the proxy) belong to the bucket's
    first life: created again, the bucket gets another records token, so an object written
    with the same bytes is STANDARD."""
    if proxy.upstream is None:
        pytest.skip("the local store keeps the class in its index, with the object")
    client = proxy.client("alice")
    bucket = "classes-" + uuid.uuid4().hex[:8]
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"same", StorageClass="GLACIER")
    digits = {1: 0, 16: 1, 256: 2}[SHARDS]
    root = f"alice/{bucket}/{shard_of('k', digits)}/"
    for name in (root + keycodec.encode("k"), root + "k"):
        proxy.upstream.delete_object(Bucket=proxy.home_bucket, Key=name)
    assert _error(client.head_object, Bucket=bucket, Key="k")[0] == 404
    client.delete_bucket(Bucket=bucket)
    client.create_bucket(Bucket=bucket)
    try:
        client.put_object(Bucket=bucket, Key="k", Body=b"same")
        client.put_object(Bucket=bucket, Key="j", Body=b"x", StorageClass="GLACIER")
        assert client.head_object(Bucket=bucket, Key="j")["StorageClass"] == "GLACIER"
        assert "StorageClass" not in client.head_object(Bucket=bucket, Key="k")
        listed = client.list_objects_v2(Bucket=bucket)["Contents"]
        assert [(i["Key"], i["StorageClass"]) for i in listed] == [
            ("j", "GLACIER"),
            ("k", "STANDARD"),
        ]
    finally:
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "j"}, {"Key": "k"}]})
        client.delete_bucket(Bucket=bucket)
