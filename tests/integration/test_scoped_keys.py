"""Scoped keys (``keys[].allow``) through a real proxy, on every lane.

Tenant alice gets four more keys next to her whole-tenant one; each refusal is followed by a
read with the whole-tenant key showing that nothing was stored, overwritten or deleted.
"""

from __future__ import annotations

import copy
import http.client
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    BACKENDS,
    Proxy,
    client_for,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)

pytestmark = pytest.mark.integration

BUCKET = "docs"
READER = ("AKSCOPEDREADER00001", "reader-secret-aaaaaaaaaaaaaaaa")
WRITER = ("AKSCOPEDWRITER00002", "writer-secret-bbbbbbbbbbbbbbbb")
DELETER = ("AKSCOPEDDELETER0003", "deleter-secret-cccccccccccccccc")
ADMIN = ("AKSCOPEDADMIN000004", "admin-secret-dddddddddddddddddd")
GRANTS: dict[tuple[str, str], list[dict[str, Any]]] = {
    READER: [{"actions": ["read", "list"], "buckets": [BUCKET], "prefixes": ["reports/"]}],
    WRITER: [
        {"actions": ["write"], "buckets": [BUCKET], "prefixes": ["in/"]},
        {"actions": ["read"], "buckets": [BUCKET], "prefixes": ["reports/"]},
    ],
    DELETER: [{"actions": ["delete"], "buckets": [BUCKET], "prefixes": ["tmp/"]}],
    ADMIN: [{"actions": ["admin"], "buckets": ["scoped-*"]}],
}
LANES = [
    b
    for b in BACKENDS
    if os.environ.get("S3PROXY_TEST_BACKENDS") is None
    or b in os.environ["S3PROXY_TEST_BACKENDS"].split(",")
]


@pytest.fixture(scope="module", params=LANES)
def scoped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if request.param in fixtures:
        server, upstream = (request.getfixturevalue(name) for name in fixtures[request.param])
        create_upstream_buckets(upstream)
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    tenants["alice"]["keys"] += [
        {"access_key": access, "secret_key": secret, "allow": allow}
        for (access, secret), allow in GRANTS.items()
    ]
    workdir = tmp_path_factory.mktemp(f"scoped-{request.param}")
    running = start_proxy(server, upstream, workdir, tenants=tenants)
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture()
def run() -> str:
    return os.urandom(4).hex()


def as_key(proxy: Proxy, keys: tuple[str, str]) -> Any:
    return client_for(proxy.endpoint, *keys)


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(response["Error"]["Code"])


def absent(s3: Any, key: str, bucket: str = BUCKET) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def test_a_read_list_key_reads_and_lists_its_prefix_only(scoped: Proxy, run: str) -> None:
    alice, reader = scoped.client("alice"), as_key(scoped, READER)
    alice.put_object(Bucket=BUCKET, Key=f"reports/{run}/a", Body=b"report")
    alice.put_object(Bucket=BUCKET, Key=f"private/{run}/x", Body=b"secret")
    assert reader.get_object(Bucket=BUCKET, Key=f"reports/{run}/a")["Body"].read() == b"report"
    listed = reader.list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{run}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"reports/{run}/a"]
    v1 = reader.list_objects(Bucket=BUCKET, Prefix=f"reports/{run}/")
    assert [o["Key"] for o in v1["Contents"]] == [f"reports/{run}/a"]
    assert refused(lambda: reader.get_object(Bucket=BUCKET, Key=f"private/{run}/x")) == (
        "AccessDenied"
    )
    refused(lambda: reader.head_object(Bucket=BUCKET, Key=f"private/{run}/x"))
    uploads = reader.list_multipart_uploads(Bucket=BUCKET, Prefix=f"reports/{run}/")
    assert uploads.get("Uploads", []) == []
    refused(lambda: reader.list_multipart_uploads(Bucket=BUCKET))
    assert refused(lambda: reader.list_objects_v2(Bucket=BUCKET)) == "AccessDenied"
    refused(lambda: reader.list_objects_v2(Bucket=BUCKET, Prefix="rep"))
    refused(lambda: reader.list_objects(Bucket=BUCKET, Prefix=f"private/{run}/"))
    refused(lambda: reader.put_object(Bucket=BUCKET, Key=f"reports/{run}/new", Body=b"n"))
    assert absent(alice, f"reports/{run}/new")
    refused(lambda: reader.delete_object(Bucket=BUCKET, Key=f"reports/{run}/a"))
    assert not absent(alice, f"reports/{run}/a")
    refused(lambda: reader.get_object(Bucket="shared", Key=f"reports/{run}/a"))
    assert [b["Name"] for b in reader.list_buckets()["Buckets"]] == [BUCKET]
    reader.head_bucket(Bucket=BUCKET)  # a bucket probe needs any grant on the bucket
    assert refused(lambda: reader.head_bucket(Bucket="shared")) == "403"
    alice.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": f"reports/{run}/a"}, {"Key": f"private/{run}/x"}]},
    )


def test_copies_check_both_sides(scoped: Proxy, run: str) -> None:
    alice, writer = scoped.client("alice"), as_key(scoped, WRITER)
    alice.put_object(Bucket=BUCKET, Key=f"reports/{run}/a", Body=b"report")
    alice.put_object(Bucket=BUCKET, Key=f"private/{run}/x", Body=b"secret")
    source = {"Bucket": BUCKET, "Key": f"reports/{run}/a"}
    writer.copy_object(Bucket=BUCKET, Key=f"in/{run}/a", CopySource=source)
    assert alice.get_object(Bucket=BUCKET, Key=f"in/{run}/a")["Body"].read() == b"report"
    secret = {"Bucket": BUCKET, "Key": f"private/{run}/x"}
    refused(lambda: writer.copy_object(Bucket=BUCKET, Key=f"in/{run}/b", CopySource=secret))
    assert absent(alice, f"in/{run}/b")
    refused(lambda: writer.copy_object(Bucket=BUCKET, Key=f"out/{run}/c", CopySource=source))
    assert absent(alice, f"out/{run}/c")
    upload = writer.create_multipart_upload(Bucket=BUCKET, Key=f"in/{run}/mp")["UploadId"]
    try:
        refused(
            lambda: writer.upload_part_copy(
                Bucket=BUCKET, Key=f"in/{run}/mp", UploadId=upload, PartNumber=1, CopySource=secret
            )
        )
        assert (
            writer.list_parts(Bucket=BUCKET, Key=f"in/{run}/mp", UploadId=upload).get("Parts", [])
            == []
        )
    finally:
        writer.abort_multipart_upload(Bucket=BUCKET, Key=f"in/{run}/mp", UploadId=upload)
    alice.delete_objects(
        Bucket=BUCKET,
        Delete={
            "Objects": [
                {"Key": f"reports/{run}/a"},
                {"Key": f"private/{run}/x"},
                {"Key": f"in/{run}/a"},
            ]
        },
    )


def test_multipart_is_write_inside_the_grant(scoped: Proxy, run: str) -> None:
    alice, writer = scoped.client("alice"), as_key(scoped, WRITER)
    key = f"in/{run}/mp"
    upload = writer.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = writer.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"p1")
    parts = writer.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    writer.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert alice.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"p1"
    refused(lambda: writer.create_multipart_upload(Bucket=BUCKET, Key=f"out/{run}/mp"))
    refused(lambda: writer.list_multipart_uploads(Bucket=BUCKET, Prefix="in/"))  # no list
    outside = f"out/{run}/theirs"
    theirs = alice.create_multipart_upload(Bucket=BUCKET, Key=outside)["UploadId"]
    try:
        refused(
            lambda: writer.upload_part(
                Bucket=BUCKET, Key=outside, UploadId=theirs, PartNumber=1, Body=b"x"
            )
        )
        refused(lambda: writer.list_parts(Bucket=BUCKET, Key=outside, UploadId=theirs))
        refused(lambda: writer.abort_multipart_upload(Bucket=BUCKET, Key=outside, UploadId=theirs))
        assert alice.list_parts(Bucket=BUCKET, Key=outside, UploadId=theirs).get("Parts", []) == []
    finally:
        alice.abort_multipart_upload(Bucket=BUCKET, Key=outside, UploadId=theirs)
        alice.delete_object(Bucket=BUCKET, Key=key)


def test_delete_objects_refuses_each_entry_outside_the_grant(scoped: Proxy, run: str) -> None:
    alice, deleter = scoped.client("alice"), as_key(scoped, DELETER)
    inside, outside = f"tmp/{run}/a", f"keep/{run}/b"
    for key in (inside, outside):
        alice.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    result = deleter.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": inside}, {"Key": outside}]}
    )
    assert [d["Key"] for d in result["Deleted"]] == [inside]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [(outside, "AccessDenied")]
    assert absent(alice, inside) and not absent(alice, outside)
    refused(lambda: deleter.delete_objects(Bucket="shared", Delete={"Objects": [{"Key": "k"}]}))
    deleter.delete_object(Bucket=BUCKET, Key=f"tmp/{run}/never-there")
    refused(lambda: deleter.delete_object(Bucket=BUCKET, Key=outside))
    alice.delete_object(Bucket=BUCKET, Key=outside)


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_presigned_urls_carry_the_keys_grants(scoped: Proxy, run: str, signature: str) -> None:
    alice = scoped.client("alice")
    alice.put_object(Bucket=BUCKET, Key=f"reports/{run}/a", Body=b"report")
    alice.put_object(Bucket=BUCKET, Key=f"private/{run}/x", Body=b"secret")
    config = Config(signature_version=signature, s3={"addressing_style": "path"})
    signer = boto3.client(
        "s3",
        endpoint_url=scoped.endpoint,
        aws_access_key_id=READER[0],
        aws_secret_access_key=READER[1],
        region_name="us-east-1",
        config=config,
    )

    def url(method: str, key: str) -> str:
        return str(signer.generate_presigned_url(method, Params={"Bucket": BUCKET, "Key": key}))

    def fetch(address: str, method: str = "GET", body: bytes = b"") -> tuple[int, bytes]:
        """Only what the URL signs: no Content-Type (urllib would add one, and SigV2 signs it)."""
        split = urlsplit(address)
        connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
        try:
            connection.request(method, f"{split.path}?{split.query}", body=body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    assert fetch(url("get_object", f"reports/{run}/a")) == (200, b"report")
    status, body = fetch(url("get_object", f"private/{run}/x"))
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    status, body = fetch(url("put_object", f"reports/{run}/p"), "PUT", b"planted")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert absent(alice, f"reports/{run}/p")
    alice.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": f"reports/{run}/a"}, {"Key": f"private/{run}/x"}]},
    )


def test_an_admin_key_manages_its_buckets_only(scoped: Proxy, run: str) -> None:
    admin, alice = as_key(scoped, ADMIN), scoped.client("alice")
    name = f"scoped-{run}"
    admin.create_bucket(Bucket=name)
    try:
        assert [b["Name"] for b in admin.list_buckets()["Buckets"]] == [name]
        refused(lambda: admin.put_object(Bucket=name, Key="k", Body=b"x"))  # admin is not write
        assert absent(alice, "k", name)
        refused(lambda: admin.create_bucket(Bucket=f"other-{run}"))
        assert f"other-{run}" not in [b["Name"] for b in alice.list_buckets()["Buckets"]]
        refused(lambda: admin.delete_bucket(Bucket=BUCKET))
    finally:
        admin.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in alice.list_buckets()["Buckets"]]
