"""Storage classes (issue 17.2) on every lane: accepted on PUT, multipart and copy (a self-copy
that changes only the class included), reported on HEAD/GET (never for STANDARD), in both
listings and ListParts; an unknown class is 400 InvalidStorageClass. The local store keeps
every class; the SeaweedFS lane's upstream lists every class in ``storage_classes``, so they are
forwarded; the Ceph lane lists none (Ceph RGW 16 has only STANDARD), so other classes are
refused there and nothing is stored."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from s3proxy.storage_classes import STORAGE_CLASSES
from tests.integration.conftest import Proxy, start_proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"
CLASSES = ("STANDARD_IA", "GLACIER", "REDUCED_REDUNDANCY")


@pytest.fixture(scope="module")
def classes_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The lane's proxy; on SeaweedFS one whose upstream lists every class."""
    if backend != "seaweedfs":
        yield proxy
        return
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


def offered(proxy: Proxy) -> bool:
    return proxy.backend != "CephRGW"


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


def _listed(client: Any, prefix: str) -> dict[str, dict[str, str]]:
    v1 = client.list_objects(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    v2 = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        "v1": {item["Key"]: item["StorageClass"] for item in v1},
        "v2": {item["Key"]: item["StorageClass"] for item in v2},
    }


def test_put_keeps_the_class_and_every_view_agrees(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    prefix = _key("put") + "/"
    for storage_class in ("STANDARD", *CLASSES):
        key = prefix + storage_class
        if storage_class != "STANDARD" and not offered(classes_proxy):
            assert _error(
                client.put_object, Bucket=BUCKET, Key=key, Body=b"x", StorageClass=storage_class
            ) == (400, "InvalidStorageClass")
            assert _error(client.head_object, Bucket=BUCKET, Key=key)[0] == 404
            continue
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x", StorageClass=storage_class)
        head = client.head_object(Bucket=BUCKET, Key=key)
        got = client.get_object(Bucket=BUCKET, Key=key)
        if storage_class == "STANDARD":  # S3 never names STANDARD in a header
            assert "x-amz-storage-class" not in _headers(head)
            assert "x-amz-storage-class" not in _headers(got)
        else:
            assert head["StorageClass"] == got["StorageClass"] == storage_class
    stored = ("STANDARD", *CLASSES) if offered(classes_proxy) else ("STANDARD",)
    expected = {prefix + name: name for name in stored}
    assert _listed(client, prefix) == {"v1": expected, "v2": expected}


def test_an_unknown_class_is_refused_and_nothing_is_stored(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    key = _key("unknown")
    assert _error(
        client.put_object, Bucket=BUCKET, Key=key, Body=b"x", StorageClass="SUPERCOLD"
    ) == (400, "InvalidStorageClass")
    assert _error(
        client.create_multipart_upload, Bucket=BUCKET, Key=key, StorageClass="SUPERCOLD"
    ) == (400, "InvalidStorageClass")
    assert _error(client.head_object, Bucket=BUCKET, Key=key)[0] == 404


def test_multipart_upload_keeps_the_class(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    key = _key("multipart")
    if not offered(classes_proxy):
        assert _error(
            client.create_multipart_upload, Bucket=BUCKET, Key=key, StorageClass="STANDARD_IA"
        ) == (400, "InvalidStorageClass")
        return
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, StorageClass="STANDARD_IA")
    upload_id = upload["UploadId"]
    part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p")
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert client.head_object(Bucket=BUCKET, Key=key)["StorageClass"] == "STANDARD_IA"
    assert _listed(client, key)["v2"] == {key: "STANDARD_IA"}


def test_list_parts_names_the_upload_class(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    key = _key("parts")
    if not offered(classes_proxy):
        pytest.skip("the Ceph lane offers no class but STANDARD")
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key, StorageClass="GLACIER")[
        "UploadId"
    ]
    try:
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p")
        listed = client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
        assert listed["StorageClass"] == "GLACIER"
        if classes_proxy.upstream is not None:  # SeaweedFS lists STANDARD: the proxy's mark
            assert _upload_records(classes_proxy, key, upload_id) == [".class.GLACIER"]
    finally:
        client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    if classes_proxy.upstream is not None:  # the mark goes with the upload
        assert _upload_records(classes_proxy, key, upload_id) == []


def _upload_records(proxy: Proxy, key: str, upload_id: str) -> list[str]:
    """The names of an upload's records in alice's home (README, "Upstream layout"): D from
    the client key and the upstream upload id, which the UploadId carries after its MAC."""
    raw = base64.urlsafe_b64decode(upload_id + "=" * (-len(upload_id) % 4))[16:]
    material = key.encode() + b"\x00" + json.loads(raw)["u"].encode()
    prefix = f"alice/.uploads/{BUCKET}/" + hashlib.sha256(material).hexdigest()[:32]
    listed = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=prefix)
    return sorted(entry["Key"][len(prefix) :] for entry in listed.get("Contents", []))


def test_list_multipart_uploads_names_each_upload_class(classes_proxy: Proxy) -> None:
    """Every lane: the class each upload was created with, under the UploadId Create gave
    (a STANDARD upload has no record); Complete keeps the class and drops the record."""
    client = classes_proxy.client("alice")
    prefix = _key("listed") + "/"
    classes = ("STANDARD", "GLACIER", "STANDARD_IA") if offered(classes_proxy) else ("STANDARD",)
    created = {
        prefix + name: client.create_multipart_upload(
            Bucket=BUCKET, Key=prefix + name, StorageClass=name
        )["UploadId"]
        for name in classes
    }
    try:
        listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)["Uploads"]
        assert {u["Key"]: (u["UploadId"], u["StorageClass"]) for u in listed} == {
            key: (upload_id, key[len(prefix) :]) for key, upload_id in created.items()
        }
        if classes_proxy.upstream is not None:
            standard = prefix + "STANDARD"
            assert _upload_records(classes_proxy, standard, created[standard]) == []
        if not offered(classes_proxy):
            return
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
        assert client.head_object(Bucket=BUCKET, Key=key)["StorageClass"] == "GLACIER"
        if classes_proxy.upstream is not None:
            assert _upload_records(classes_proxy, key, upload_id) == []
    finally:
        for key, upload_id in created.items():
            client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)


def test_copies_take_the_class_asked_for(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    source, copied, archived = _key("source"), _key("copied"), _key("archived")
    source_class = "GLACIER" if offered(classes_proxy) else "STANDARD"
    client.put_object(Bucket=BUCKET, Key=source, Body=b"x", StorageClass=source_class)
    copy_source = {"Bucket": BUCKET, "Key": source}
    # Without the header a copy is STANDARD, as S3 makes it, whatever the source's class.
    client.copy_object(Bucket=BUCKET, Key=copied, CopySource=copy_source)
    assert "StorageClass" not in client.head_object(Bucket=BUCKET, Key=copied)
    if not offered(classes_proxy):
        assert _error(
            client.copy_object, Bucket=BUCKET, Key=archived, CopySource=copy_source,
            StorageClass="STANDARD_IA",
        ) == (400, "InvalidStorageClass")  # fmt: skip
        return
    client.copy_object(
        Bucket=BUCKET, Key=archived, CopySource=copy_source, StorageClass="DEEP_ARCHIVE"
    )
    assert client.head_object(Bucket=BUCKET, Key=archived)["StorageClass"] == "DEEP_ARCHIVE"
    assert _listed(client, archived)["v1"] == {archived: "DEEP_ARCHIVE"}


def test_a_self_copy_may_change_only_the_class(classes_proxy: Proxy) -> None:
    client = classes_proxy.client("alice")
    key = _key("self")
    client.put_object(
        Bucket=BUCKET, Key=key, Body=b"x", ContentType="text/csv", Metadata={"origin": "test"}
    )
    copy_source = {"Bucket": BUCKET, "Key": key}
    assert _error(client.copy_object, Bucket=BUCKET, Key=key, CopySource=copy_source) == (
        400,
        "InvalidRequest",
    )
    if not offered(classes_proxy):
        return
    client.copy_object(Bucket=BUCKET, Key=key, CopySource=copy_source, StorageClass="STANDARD_IA")
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert head["StorageClass"] == "STANDARD_IA"
    assert (head["ContentType"], head["Metadata"]) == ("text/csv", {"origin": "test"})
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x"
