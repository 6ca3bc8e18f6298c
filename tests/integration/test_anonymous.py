"""Anonymous requests on every lane (s3proxy.anonymous), sent raw and unsigned as curl would:
served exactly where a bucket's public ACL grants them, 403 AccessDenied everywhere else, and
never in another tenant's bucket."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, start_proxy
from tests.support.s3http import RawResponse, object_url, send

pytestmark = pytest.mark.integration


def anonymous(
    proxy: Proxy,
    method: str,
    bucket: str | None,
    key: str | None = None,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    url = object_url(proxy.endpoint, bucket, key, query) if bucket else f"{proxy.endpoint}/"
    return send(method, url, {"Host": proxy.host, **(headers or {})}, body)


def denied(response: RawResponse) -> bool:
    return (response.status, response.error_code) == (403, "AccessDenied")


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """alice's bucket with one object, private until a test says otherwise."""
    name = "anon-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="dir/hello.txt", Body=b"hello world")
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_private_bucket_refuses_everything(proxy: Proxy, bucket: str) -> None:
    for method, key, query, body in [
        ("GET", "dir/hello.txt", "", b""),
        ("HEAD", "dir/hello.txt", "", b""),
        ("GET", None, "", b""),
        ("GET", None, "list-type=2", b""),
        ("PUT", "new.txt", "", b"x"),
        ("GET", "missing", "", b""),
    ]:
        response = anonymous(proxy, method, bucket, key, query, body)
        assert response.status == 403, (method, key, query)
        if method != "HEAD":
            assert denied(response)
    assert "Contents" not in proxy.client("alice").list_objects_v2(Bucket=bucket, Prefix="new")


def test_public_read_bucket_serves_reads_only(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    got = anonymous(proxy, "GET", bucket, "dir/hello.txt")
    assert (got.status, got.body) == (200, b"hello world")
    ranged = anonymous(proxy, "GET", bucket, "dir/hello.txt", headers={"Range": "bytes=0-4"})
    assert (ranged.status, ranged.body) == (206, b"hello")
    head = anonymous(proxy, "HEAD", bucket, "dir/hello.txt")
    assert (head.status, head.header("Content-Length")) == (200, "11")
    listing = anonymous(proxy, "GET", bucket, None, "list-type=2&prefix=dir/")
    assert listing.status == 200 and b"<Key>dir/hello.txt</Key>" in listing.body
    v1 = anonymous(proxy, "GET", bucket)
    assert v1.status == 200 and b"<Key>dir/hello.txt</Key>" in v1.body
    override = anonymous(proxy, "GET", bucket, "dir/hello.txt", "response-content-type=text/html")
    assert (override.status, override.error_code) == (400, "InvalidRequest")
    missing = anonymous(proxy, "GET", bucket, "missing")
    assert (missing.status, missing.error_code) == (404, "NoSuchKey")
    uploads = anonymous(proxy, "GET", bucket, None, "uploads")  # s3:ListBucketMultipartUploads
    assert uploads.status == 200 and b"<ListMultipartUploadsResult" in uploads.body
    # Not granted by public-read: writes, deletes, settings, other reads.
    for method, key, query, body in [
        ("PUT", "new.txt", "", b"x"),
        ("DELETE", "dir/hello.txt", "", b""),
        ("GET", "dir/hello.txt", "acl", b""),
        ("GET", "dir/hello.txt", "tagging", b""),
        ("GET", None, "acl", b""),
        ("PUT", None, "acl", b""),
        ("POST", "dir/hello.txt", "uploads", b""),
        ("DELETE", None, "", b""),
        ("GET", "dir/hello.txt", "torrent", b""),
    ]:
        assert denied(anonymous(proxy, method, bucket, key, query, body)), (method, key, query)
    assert s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read() == b"hello world"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/hello.txt"]
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert denied(anonymous(proxy, "GET", bucket, "dir/hello.txt"))


def test_public_read_write_bucket_takes_anonymous_puts(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    put = anonymous(proxy, "PUT", bucket, "drop/box.txt", body=b"dropped")
    assert put.status == 200 and put.header("ETag")
    assert s3.get_object(Bucket=bucket, Key="drop/box.txt")["Body"].read() == b"dropped"
    bad = anonymous(
        proxy,
        "PUT",
        bucket,
        "drop/bad.txt",
        body=b"tampered",
        headers={"x-amz-content-sha256": "0" * 64},
    )
    assert bad.status == 400
    public = anonymous(
        proxy,
        "PUT",
        bucket,
        "drop/pub.txt",
        body=b"x",
        headers={"x-amz-acl": "public-read-write"},
    )
    assert (public.status, public.error_code) == (403, "AccessDenied")  # needs PutObjectAcl
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="drop/")["Contents"]]
    assert keys == ["drop/box.txt"]
    # DeleteObjects too, S3's s3:DeleteObject judged per key (403 before wave 14 C).
    s3.put_object(Bucket=bucket, Key="drop/two.txt", Body=b"two")
    body = b"<Delete><Object><Key>drop/two.txt</Key></Object></Delete>"
    md5 = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    deleted = anonymous(proxy, "POST", bucket, None, "delete", body, headers=md5)
    assert deleted.status == 200 and b"<Deleted><Key>drop/two.txt</Key>" in deleted.body
    # S3's WRITE grant is s3:DeleteObject too: the owner's delete (403 before wave 13 C2).
    assert anonymous(proxy, "DELETE", bucket, "drop/box.txt").status == 204
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="drop/")


def test_public_read_object_in_a_private_bucket(proxy: Proxy, bucket: str) -> None:
    """An object's own public-read (aws s3 cp --acl public-read): that object, and only while
    it is the object the ACL was set on."""
    s3 = proxy.client("alice")
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"for everyone", ACL="public-read")
    got = anonymous(proxy, "GET", bucket, "pub.txt")
    assert (got.status, got.body) == (200, b"for everyone")
    ranged = anonymous(proxy, "GET", bucket, "pub.txt", headers={"Range": "bytes=4-6"})
    assert (ranged.status, ranged.body) == (206, b"eve")
    assert anonymous(proxy, "HEAD", bucket, "pub.txt").status == 200
    # Nothing else in the bucket: not its neighbours, not the listing, not a write.
    assert denied(anonymous(proxy, "GET", bucket, "dir/hello.txt"))
    assert denied(anonymous(proxy, "GET", bucket, None, "list-type=2"))
    assert denied(anonymous(proxy, "PUT", bucket, "pub.txt", body=b"defaced"))
    assert denied(anonymous(proxy, "DELETE", bucket, "pub.txt"))
    assert denied(anonymous(proxy, "GET", bucket, "pub.txt", "acl"))
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]  # the record is no bucket
    assert bucket in names and not [name for name in names if name.startswith(".")]
    # An overwrite without an ACL is private again (S3 resets the ACL); so is a delete and a
    # re-upload; so is the same bytes written at once (same ETag, same second).
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"now private")
    assert denied(anonymous(proxy, "GET", bucket, "pub.txt"))
    s3.put_object_acl(Bucket=bucket, Key="pub.txt", ACL="public-read")
    assert anonymous(proxy, "GET", bucket, "pub.txt").body == b"now private"
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"now private")
    assert denied(anonymous(proxy, "GET", bucket, "pub.txt"))
    s3.put_object_acl(Bucket=bucket, Key="pub.txt", ACL="public-read")
    assert anonymous(proxy, "GET", bucket, "pub.txt").body == b"now private"
    s3.delete_object(Bucket=bucket, Key="pub.txt")
    assert denied(anonymous(proxy, "GET", bucket, "pub.txt"))
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"private again")
    assert denied(anonymous(proxy, "GET", bucket, "pub.txt"))
    # Copies: the copy's own ACL, never the source's.
    s3.copy_object(
        Bucket=bucket,
        Key="copy.txt",
        CopySource={"Bucket": bucket, "Key": "pub.txt"},
        ACL="public-read",
    )
    assert anonymous(proxy, "GET", bucket, "copy.txt").body == b"private again"
    s3.copy_object(Bucket=bucket, Key="copy2.txt", CopySource={"Bucket": bucket, "Key": "copy.txt"})
    assert denied(anonymous(proxy, "GET", bucket, "copy2.txt"))
    s3.put_object_acl(Bucket=bucket, Key="copy.txt", ACL="private")
    assert denied(anonymous(proxy, "GET", bucket, "copy.txt"))


PART = 5 * 1024 * 1024


@pytest.mark.parametrize("how", ["canned", "grants"])
def test_multipart_upload_with_public_read(proxy: Proxy, bucket: str, how: str) -> None:
    """public-read on CreateMultipartUpload (``x-amz-acl``, or the grant headers that say the
    same): kept with the upload (ListMultipartUploads issues Create's UploadId), bound to the
    completed object at Complete — a retried Complete answers the same and leaves it bound —
    and gone with an overwrite, as for PutObject. An aborted one leaves nothing."""
    s3 = proxy.client("alice")
    if how == "canned":
        acl: dict[str, str] = {"ACL": "public-read"}
    else:
        owner = s3.list_buckets()["Owner"]["ID"]
        acl = {
            "GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
            "GrantFullControl": f'id="{owner}"',
        }
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", **acl)["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("big.bin", upload)]
    assert denied(anonymous(proxy, "GET", bucket, "big.bin"))
    first, second = os.urandom(PART), os.urandom(1000)
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(
            Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=n, Body=body
        )["ETag"]}
        for n, body in ((1, first), (2, second))
    ]  # fmt: skip
    complete = {"Bucket": bucket, "Key": "big.bin", "UploadId": upload}
    done = s3.complete_multipart_upload(**complete, MultipartUpload={"Parts": parts})
    got = anonymous(proxy, "GET", bucket, "big.bin")
    assert (got.status, got.body == first + second) == (200, True)
    grants = s3.get_object_acl(Bucket=bucket, Key="big.bin")["Grants"]
    assert {g["Grantee"].get("URI") for g in grants} >= {
        "http://acs.amazonaws.com/groups/global/AllUsers"
    }
    again = s3.complete_multipart_upload(**complete, MultipartUpload={"Parts": parts})
    assert again["ETag"] == done["ETag"]
    assert anonymous(proxy, "GET", bucket, "big.bin").status == 200
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert denied(anonymous(proxy, "GET", bucket, "dir/hello.txt"))  # neighbours stay private
    s3.put_object(Bucket=bucket, Key="big.bin", Body=b"overwritten")
    assert denied(anonymous(proxy, "GET", bucket, "big.bin"))
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone.bin", **acl)["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone.bin", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=aborted)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert anonymous(proxy, "GET", bucket, "gone.bin").status in (403, 404)


def test_anonymous_requests_never_create_or_list_buckets(proxy: Proxy) -> None:
    name = "anon-create-" + os.urandom(4).hex()
    assert denied(anonymous(proxy, "PUT", name))
    assert denied(anonymous(proxy, "GET", None))
    assert name not in {b["Name"] for b in proxy.client("alice").list_buckets()["Buckets"]}
    assert denied(anonymous(proxy, "GET", "no-such-bucket-anywhere", "k"))


def test_another_tenants_buckets_are_never_reached(proxy: Proxy, bucket: str) -> None:
    """alice's bucket is public; bob's private bucket of the same name, his mapped bucket and
    his own buckets are not. bob's bucket claims nothing, so it neither hides alice's from
    anonymous readers (it did before wave 13: a name two tenants had served nobody) nor is
    ever served; two private buckets of one name serve nobody."""
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read")
    alice.put_object(Bucket=bucket, Key="bob-secret.txt", Body=b"alice's", ACL="public-read")
    assert anonymous(proxy, "GET", bucket, "dir/hello.txt").status == 200
    bob.create_bucket(Bucket=bucket)
    try:
        bob.put_object(Bucket=bucket, Key="bob-secret.txt", Body=b"bob's")
        assert anonymous(proxy, "GET", bucket, "dir/hello.txt").body == b"hello world"
        assert anonymous(proxy, "GET", bucket, "bob-secret.txt").body == b"alice's"
        listing = anonymous(proxy, "GET", bucket, None, "list-type=2")
        assert listing.status == 200 and b"<Key>dir/hello.txt</Key>" in listing.body
        bob.put_object(Bucket="bob-only", Key="mapped-secret.txt", Body=b"bob's")
        assert denied(anonymous(proxy, "GET", "bob-only", "mapped-secret.txt"))
        assert denied(anonymous(proxy, "GET", "shared", "k"))  # both tenants have "shared"
    finally:
        bob.delete_object(Bucket=bucket, Key="bob-secret.txt")
        bob.delete_object(Bucket="bob-only", Key="mapped-secret.txt")
        bob.delete_bucket(Bucket=bucket)


def test_bob_cannot_make_alices_bucket_public(proxy: Proxy, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        proxy.client("bob").put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] in (403, 404)
    assert denied(anonymous(proxy, "GET", bucket, "dir/hello.txt"))


def test_a_bad_signature_is_not_served_as_anonymous(proxy: Proxy, bucket: str) -> None:
    proxy.client("alice").put_bucket_acl(Bucket=bucket, ACL="public-read")
    forged = anonymous(
        proxy,
        "GET",
        bucket,
        "dir/hello.txt",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/s3/aws4_request"
        },
    )
    assert forged.status in (400, 403) and forged.body != b"hello world"
    presigned_junk = anonymous(proxy, "GET", bucket, "dir/hello.txt", "X-Amz-Signature=00")
    assert presigned_junk.status in (400, 403) and presigned_junk.body != b"hello world"


def test_kill_switch_refuses_public_acls_and_anonymous_requests(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``server.allow_public_acls: false`` (local store, one proxy each way on the same store):
    a bucket made public while allowed is private again once the operator switches public ACLs
    off, and public ACLs are 403 AccessDenied from then on."""
    workdir = tmp_path_factory.mktemp("acl-kill-switch")
    name = "switched-" + os.urandom(4).hex()
    allowed = start_proxy(None, None, workdir)
    try:
        s3 = allowed.client("alice")
        s3.create_bucket(Bucket=name, ACL="public-read")
        s3.put_object(Bucket=name, Key="k", Body=b"public")
        assert anonymous(allowed, "GET", name, "k").body == b"public"
    finally:
        allowed.process.stop()
    switched = start_proxy(None, None, workdir, server={"allow_public_acls": False})
    try:
        s3 = switched.client("alice")
        assert denied(anonymous(switched, "GET", name, "k"))
        assert denied(anonymous(switched, "GET", name, None, "list-type=2"))
        grants = s3.get_bucket_acl(Bucket=name)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
        for call in (
            lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read"),
            lambda: s3.create_bucket(Bucket=name + "-new", ACL="public-read-write"),
            lambda: s3.put_object(Bucket=name, Key="k2", Body=b"x", ACL="public-read"),
            lambda: s3.create_multipart_upload(Bucket=name, Key="k3", ACL="public-read"),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert name + "-new" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
        s3.put_bucket_acl(Bucket=name, ACL="private")
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"public"
    finally:
        switched.process.stop()


def test_mapped_bucket_made_public(proxy: Proxy) -> None:
    """A bucket mapped in the configuration keeps its ACL in its tenant's home
    (``.buckets/.mapped/``) and is found by name without a key, as a created one."""
    s3 = proxy.client("alice")
    key = "anon-" + os.urandom(4).hex()
    s3.put_object(Bucket="alice-photos", Key=key, Body=b"photo")
    try:
        assert denied(anonymous(proxy, "GET", "alice-photos", key))
        s3.put_bucket_acl(Bucket="alice-photos", ACL="public-read")
        assert anonymous(proxy, "GET", "alice-photos", key).body == b"photo"
        assert denied(anonymous(proxy, "PUT", "alice-photos", key, body=b"defaced"))
    finally:
        s3.put_bucket_acl(Bucket="alice-photos", ACL="private")
        s3.delete_object(Bucket="alice-photos", Key=key)
    assert denied(anonymous(proxy, "GET", "alice-photos", key))
