"""authenticated-read, and reads signed by another tenant (s3proxy.granted_reads), on every lane:
bob's own key (boto3, a presigned URL, aws-cli) reads alice's objects exactly where her ACLs
grant it, and everything else answers bob as it did before the path existed (his buckets win,
alice's stay invisible to him). Anonymous callers never get what authenticated-read grants."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import HOME_BUCKET, UPSTREAM, Proxy, client_for, start_proxy
from tests.support.clients import AwsCli
from tests.support.s3http import RawResponse, object_url, send

pytestmark = pytest.mark.integration

NO_BUCKET = (404, "NoSuchBucket")


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def anonymous(proxy: Proxy, method: str, bucket: str, key: str | None = None) -> RawResponse:
    return send(method, object_url(proxy.endpoint, bucket, key), {"Host": proxy.host})


def presigned_get(proxy: Proxy, tenant: str, bucket: str, key: str) -> RawResponse:
    url = proxy.client(tenant).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    return send("GET", url, {"Host": proxy.host})


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """alice's bucket: private.txt, and signed.txt with authenticated-read."""
    name = "authread-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="private.txt", Body=b"alice only")
    s3.put_object(Bucket=name, Key="signed.txt", Body=b"for tenants", ACL="authenticated-read")
    yield name
    s3.put_bucket_acl(Bucket=name, ACL="private")
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def assert_bob_is_refused_as_before(proxy: Proxy, bucket: str, readable: bool) -> None:
    """Writes, deletes, ACL and tag reads, uploads and copies out of alice's bucket: what bob
    got before (NoSuchBucket), or S3's 403 AccessDenied where the bucket's ACL lets him list it
    (``readable``; NoSuchBucket before wave 13); reads (listings of uploads and copies out
    included) too unless ``readable`` (the bucket's ACL grants them). On signed.txt, which bob
    may GET by its own ACL, everything else is S3's 403 either way (NoSuchBucket before wave
    16)."""
    bob = proxy.client("bob")
    granted: list[Callable[[], Any]] = [
        lambda: bob.delete_object(Bucket=bucket, Key="signed.txt"),
        lambda: bob.get_object_acl(Bucket=bucket, Key="signed.txt"),
        lambda: bob.put_object_acl(Bucket=bucket, Key="signed.txt", ACL="private"),
        lambda: bob.get_object_tagging(Bucket=bucket, Key="signed.txt"),
    ]
    for number, call in enumerate(granted):
        assert refused(call) == (403, "AccessDenied"), number
    calls: list[Callable[[], Any]] = [
        lambda: bob.put_object(Bucket=bucket, Key="new.txt", Body=b"bob's"),
        lambda: bob.get_bucket_acl(Bucket=bucket),
        lambda: bob.create_multipart_upload(Bucket=bucket, Key="new.txt"),
        lambda: bob.delete_bucket(Bucket=bucket),
    ]
    if not readable:
        calls += [
            lambda: bob.get_object(Bucket=bucket, Key="private.txt"),
            lambda: bob.list_objects_v2(Bucket=bucket),
            lambda: bob.list_object_versions(Bucket=bucket),
            lambda: bob.list_multipart_uploads(Bucket=bucket),
            lambda: bob.copy_object(  # an ungranted object (a granted one is copied: wave 14)
                Bucket="shared",
                Key="stolen.txt",
                CopySource={"Bucket": bucket, "Key": "private.txt"},
            ),
        ]
    expected = (403, "AccessDenied") if readable else NO_BUCKET
    for number, call in enumerate(calls):
        assert refused(call) == expected, number
    delete = {"Objects": [{"Key": "signed.txt"}, {"Key": "private.txt"}]}
    if readable:  # S3 answers key by key (a whole-request 403 before wave 13 C2)
        errors = bob.delete_objects(Bucket=bucket, Delete=delete)["Errors"]
        assert [error["Code"] for error in errors] == ["AccessDenied"] * 2
    else:
        assert refused(lambda: bob.delete_objects(Bucket=bucket, Delete=delete)) == NO_BUCKET
    s3 = proxy.client("alice")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["private.txt", "signed.txt"]
    assert s3.get_object(Bucket=bucket, Key="signed.txt")["Body"].read() == b"for tenants"
    if not readable:
        assert "Contents" not in bob.list_objects_v2(Bucket="shared", Prefix="stolen")


def test_an_authenticated_read_object_is_read_by_another_tenant(proxy: Proxy, bucket: str) -> None:
    bob = proxy.client("bob")
    got = bob.get_object(Bucket=bucket, Key="signed.txt")
    assert got["Body"].read() == b"for tenants"
    assert bob.head_object(Bucket=bucket, Key="signed.txt")["ContentLength"] == 11
    ranged = bob.get_object(Bucket=bucket, Key="signed.txt", Range="bytes=4-6")
    assert ranged["Body"].read() == b"ten"
    typed = bob.get_object(Bucket=bucket, Key="signed.txt", ResponseContentType="text/csv")
    assert typed["ContentType"] == "text/csv"  # a signed GET may override, as on S3
    link = presigned_get(proxy, "bob", bucket, "signed.txt")
    assert (link.status, link.body) == (200, b"for tenants")
    assert presigned_get(proxy, "bob", bucket, "private.txt").status == 404
    assert refused(lambda: bob.get_object(Bucket=bucket, Key="missing.txt")) == NO_BUCKET
    assert_bob_is_refused_as_before(proxy, bucket, readable=False)
    # Never anonymously.
    assert anonymous(proxy, "GET", bucket, "signed.txt").status == 403
    # An overwrite without the ACL resets it; PutObjectAcl grants it again.
    alice = proxy.client("alice")
    alice.put_object(Bucket=bucket, Key="signed.txt", Body=b"for tenants")
    assert refused(lambda: bob.get_object(Bucket=bucket, Key="signed.txt")) == NO_BUCKET
    alice.put_object_acl(Bucket=bucket, Key="signed.txt", ACL="authenticated-read")
    assert bob.get_object(Bucket=bucket, Key="signed.txt")["Body"].read() == b"for tenants"


PART = 5 * 1024 * 1024


def test_a_multipart_upload_with_authenticated_read(proxy: Proxy, bucket: str) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    upload = alice.create_multipart_upload(Bucket=bucket, Key="big.bin", ACL="authenticated-read")
    first, second = os.urandom(PART), os.urandom(100)
    parts = [
        {
            "PartNumber": number,
            "ETag": alice.upload_part(
                Bucket=bucket,
                Key="big.bin",
                UploadId=upload["UploadId"],
                PartNumber=number,
                Body=body,
            )["ETag"],
        }
        for number, body in ((1, first), (2, second))
    ]
    assert refused(lambda: bob.head_object(Bucket=bucket, Key="big.bin"))[0] == 404
    alice.complete_multipart_upload(
        Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert bob.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == first + second
    assert anonymous(proxy, "GET", bucket, "big.bin").status == 403


@pytest.mark.parametrize("acl", ["authenticated-read", "public-read"])
def test_a_bucket_that_grants_reads(proxy: Proxy, bucket: str, acl: str) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_bucket_acl(Bucket=bucket, ACL=acl)
    assert bob.get_object(Bucket=bucket, Key="private.txt")["Body"].read() == b"alice only"
    listed = bob.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["private.txt", "signed.txt"]
    v1 = bob.list_objects(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in v1] == ["private.txt", "signed.txt"]
    missing = refused(lambda: bob.get_object(Bucket=bucket, Key="missing.txt"))
    assert missing == (404, "NoSuchKey")
    assert bob.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # READ lists them
    assert_bob_is_refused_as_before(proxy, bucket, readable=True)
    listing = send(
        "GET", object_url(proxy.endpoint, bucket, None, "list-type=2"), {"Host": proxy.host}
    )
    assert listing.status == (200 if acl == "public-read" else 403)
    alice.put_bucket_acl(Bucket=bucket, ACL="private")
    assert refused(lambda: bob.get_object(Bucket=bucket, Key="private.txt")) == NO_BUCKET


def test_public_read_write_takes_no_signed_write_from_another_tenant(
    proxy: Proxy, bucket: str
) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert bob.get_object(Bucket=bucket, Key="private.txt")["Body"].read() == b"alice only"
    with pytest.raises(ClientError) as caught:
        bob.put_object(Bucket=bucket, Key="drop.txt", Body=b"bob's")
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied" and "unsigned" in error["Message"]
    assert anonymous(proxy, "GET", bucket, "drop.txt").status == 404  # NoSuchKey: nothing written


def test_his_own_bucket_wins_and_a_mapped_bucket_is_granted_too(proxy: Proxy) -> None:
    """ "shared" is both alice's and bob's: bob always gets his own. alice-photos is mapped in
    alice's configuration: bob got 403 there before, and gets it again once it is private."""
    alice, bob = proxy.client("alice"), proxy.client("bob")
    key = "authread-" + os.urandom(4).hex()
    alice.put_object(Bucket="shared", Key=key, Body=b"alice's", ACL="authenticated-read")
    alice.put_object(Bucket="alice-photos", Key=key, Body=b"photo")
    try:
        assert refused(lambda: bob.get_object(Bucket="shared", Key=key)) == (404, "NoSuchKey")

        def photos() -> Any:
            return bob.get_object(Bucket="alice-photos", Key=key)

        assert refused(photos) == (403, "AccessDenied")
        alice.put_bucket_acl(Bucket="alice-photos", ACL="authenticated-read")
        assert photos()["Body"].read() == b"photo"
        write = refused(lambda: bob.put_object(Bucket="alice-photos", Key=key, Body=b"x"))
        assert write == (403, "AccessDenied")
        alice.put_bucket_acl(Bucket="alice-photos", ACL="private")
        assert refused(photos) == (403, "AccessDenied")
    finally:
        alice.put_bucket_acl(Bucket="alice-photos", ACL="private")
        alice.delete_object(Bucket="alice-photos", Key=key)
        alice.delete_object(Bucket="shared", Key=key)


def test_aws_cli_cp_by_another_tenant(proxy: Proxy, bucket: str, tmp_path: Path) -> None:
    aws = AwsCli(proxy.endpoint, proxy.keys("bob"), tmp_path).run

    target = tmp_path / "got.txt"
    copied = aws("s3", "cp", f"s3://{bucket}/signed.txt", str(target))
    assert copied.returncode == 0, copied.stderr
    assert target.read_bytes() == b"for tenants"
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "signed.txt")
    assert head.returncode == 0 and json.loads(head.stdout)["ContentLength"] == 11
    private = aws("s3", "cp", f"s3://{bucket}/private.txt", str(tmp_path / "no.txt"))
    assert private.returncode != 0 and not (tmp_path / "no.txt").exists()


def test_kill_switch_ambiguous_names_and_the_access_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Local store, with a third tenant: carol's reads are logged under her name; a name alice
    and bob both use stays alice's for carol while bob's is private (before wave 13 it served
    nobody, s3proxy.name_claims); ``server.allow_public_acls: false`` turns the
    path off (bob gets NoSuchBucket again)."""
    workdir = tmp_path_factory.mktemp("authread-switch")
    carol = {"access_key": "AKCAROL000000000003", "secret_key": "carol-secret-cccccccccccccccc"}
    tenants = {"carol": {"keys": [carol], "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET}}}
    name = "authread-" + os.urandom(4).hex()
    allowed = start_proxy(None, None, workdir, tenants=tenants)
    try:
        alice, bob = allowed.client("alice"), allowed.client("bob")
        alice.create_bucket(Bucket=name, ACL="authenticated-read")
        alice.put_object(Bucket=name, Key="k", Body=b"for tenants")
        carols = client_for(allowed.endpoint, carol["access_key"], carol["secret_key"])
        assert carols.get_object(Bucket=name, Key="k")["Body"].read() == b"for tenants"
        assert bob.get_object(Bucket=name, Key="k")["Body"].read() == b"for tenants"
        bob.create_bucket(Bucket=name)  # private: it claims nothing, alice's keeps the name
        assert carols.get_object(Bucket=name, Key="k")["Body"].read() == b"for tenants"
        bob.delete_bucket(Bucket=name)
    finally:
        allowed.process.stop()
    logged = [
        entry
        for line in allowed.process.log_text().splitlines()
        if line.startswith("{") and (entry := json.loads(line)).get("bucket_owner") == "alice"
    ]
    assert {entry["tenant"] for entry in logged} == {"carol", "bob"}
    switched = start_proxy(None, None, workdir, server={"allow_public_acls": False})
    try:
        bob = switched.client("bob")
        assert refused(lambda: bob.get_object(Bucket=name, Key="k")) == NO_BUCKET
        alice = switched.client("alice")
        assert refused(lambda: alice.put_bucket_acl(Bucket=name, ACL="authenticated-read")) == (
            403,
            "AccessDenied",
        )
        alice.delete_object(Bucket=name, Key="k")
        alice.delete_bucket(Bucket=name)
    finally:
        switched.process.stop()
