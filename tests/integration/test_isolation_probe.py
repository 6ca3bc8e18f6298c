"""Cross-tenant red team (wave 8, C): tenant bob — and a scoped key of a third tenant, carol —
try every route into tenant alice's buckets, uploads and listings, and the proxy's own records.

Every answer must be S3's answer for "not yours" (404 NoSuchBucket for a bucket a tenant
created, 403 AccessDenied for one mapped in the configuration, 404 NoSuchUpload for an upload)
and must be the answer a bucket that never existed gets, so nothing tells bob what alice has.
After each refusal a read with alice's key shows that nothing was stored, changed or deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    BACKENDS,
    HOME_BUCKET,
    PHOTOS_BUCKET,
    UPSTREAM,
    Proxy,
    client_for,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
    upstream_key,
)
from tests.support.s3http import RawResponse, send, sign

pytestmark = pytest.mark.integration

Answer = tuple[int, str]


def answer(call: Callable[[], Any]) -> Answer:
    """(status, S3 error code) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def raw(proxy: Proxy, keys: tuple[str, str], method: str, path: str, body: bytes = b"") -> Any:
    """A request to ``path`` sent exactly as written (``%2F`` stays ``%2F`` on the wire),
    signed over the path the proxy verifies: the path decoded and encoded once."""
    headers = sign(method, proxy.endpoint + path.replace("%2F", "/"), *keys, body=body)
    return send(method, proxy.endpoint + path, headers, body)


def fresh(prefix: str) -> str:
    return f"{prefix}-{os.urandom(5).hex()}"


@pytest.fixture()
def alices(proxy: Proxy) -> Iterator[str]:
    """A private bucket of alice's with one object, ``k``."""
    name = fresh("iso")
    alice = proxy.client("alice")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"alice's")
    yield name
    for item in alice.list_objects_v2(Bucket=name).get("Contents", []):
        alice.delete_object(Bucket=name, Key=item["Key"])
    for upload in alice.list_multipart_uploads(Bucket=name).get("Uploads", []):
        alice.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    alice.delete_bucket(Bucket=name)


# -- the proxy's own records are never a bucket -----------------------------------------------


def test_a_proxy_record_is_never_reachable_as_a_bucket(proxy: Proxy) -> None:
    """A path-style bucket name with ``%2F`` used to find a record under ``.buckets/`` as its
    bucket marker (the settings of a mapped bucket, an object's ACL record): alice could then
    write objects into the records' space, where no quota counts them, and bob could read and
    list what she put there through the reads-across-tenants path. Now: NoSuchBucket."""
    alice = proxy.client("alice")
    alice.put_bucket_tagging(
        Bucket="alice-photos", Tagging={"TagSet": [{"Key": "team", "Value": "x"}]}
    )
    name = fresh("iso-rec")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="pub.txt", Body=b"p", ACL="public-read")
    acl_record = f".acls%2F{name}%2F" + hashlib.sha256(b"pub.txt").hexdigest()
    names = [".mapped%2Falice-photos", acl_record, f"{name}%2F..", ".buckets", ".usage"]
    try:
        for bucket in names:
            for tenant in ("alice", "bob"):
                keys = proxy.keys(tenant)
                for method, path, body in (
                    ("PUT", f"/{bucket}/planted", b"data"),
                    ("GET", f"/{bucket}/planted", b""),
                    ("GET", f"/{bucket}", b""),
                    ("GET", f"/{bucket}?list-type=2", b""),
                ):
                    got = raw(proxy, keys, method, path, body)
                    assert (got.status, got.error_code) == (404, "NoSuchBucket"), (
                        tenant,
                        method,
                        path,
                        got.body[:300],
                    )
            anonymous = send("GET", f"{proxy.endpoint}/{bucket}/planted", {"Host": proxy.host})
            assert (anonymous.status, anonymous.error_code) == (403, "AccessDenied")
        if proxy.upstream is not None:  # nothing was written among the records
            for where in ("alice/.mapped/", "alice/.acls/"):
                listed = proxy.upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=where)
                assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
        got_tags = alice.get_bucket_tagging(Bucket="alice-photos")["TagSet"]
        assert got_tags == [{"Key": "team", "Value": "x"}]
    finally:
        alice.delete_bucket_tagging(Bucket="alice-photos")
        alice.delete_object(Bucket=name, Key="pub.txt")
        alice.delete_bucket(Bucket=name)


# -- buckets: every operation answers as for a bucket that does not exist ---------------------


def bucket_calls(s3: Any, bucket: str) -> dict[str, Callable[[], Any]]:
    """One call per operation that names a bucket (and one of its keys, ``k``)."""
    cors = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    tags = {"TagSet": [{"Key": "a", "Value": "b"}]}
    source = {"Bucket": bucket, "Key": "k"}
    return {
        "HeadBucket": lambda: s3.head_bucket(Bucket=bucket),
        "GetBucketLocation": lambda: s3.get_bucket_location(Bucket=bucket),
        "GetBucketVersioning": lambda: s3.get_bucket_versioning(Bucket=bucket),
        "ListObjects": lambda: s3.list_objects(Bucket=bucket),
        "ListObjectsV2": lambda: s3.list_objects_v2(Bucket=bucket),
        "ListObjectVersions": lambda: s3.list_object_versions(Bucket=bucket),
        "ListMultipartUploads": lambda: s3.list_multipart_uploads(Bucket=bucket),
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key="k"),
        "HeadObject": lambda: s3.head_object(Bucket=bucket, Key="k"),
        "GetObjectAttributes": lambda: s3.get_object_attributes(
            Bucket=bucket, Key="k", ObjectAttributes=["ETag"]
        ),
        "GetObjectTagging": lambda: s3.get_object_tagging(Bucket=bucket, Key="k"),
        "PutObjectTagging": lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags),
        "GetObjectAcl": lambda: s3.get_object_acl(Bucket=bucket, Key="k"),
        "PutObjectAcl": lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read"),
        "GetBucketAcl": lambda: s3.get_bucket_acl(Bucket=bucket),
        "PutBucketAcl": lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        "GetBucketCors": lambda: s3.get_bucket_cors(Bucket=bucket),
        "PutBucketCors": lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors),
        "GetBucketTagging": lambda: s3.get_bucket_tagging(Bucket=bucket),
        "PutBucketTagging": lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging=tags),
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"bob's"),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket=bucket, Key="k"),
        "CopyObject(into)": lambda: s3.copy_object(
            Bucket=bucket, Key="k", CopySource={"Bucket": "shared", "Key": "bob-src"}
        ),
        "CopyObject(from)": lambda: s3.copy_object(
            Bucket="shared", Key="bob-stolen", CopySource=source
        ),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key="k"),
        "DeleteObjects": lambda: s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "k"}]}
        ),
        "DeleteBucketTagging": lambda: s3.delete_bucket_tagging(Bucket=bucket),
        "DeleteBucketCors": lambda: s3.delete_bucket_cors(Bucket=bucket),
        "DeleteBucket": lambda: s3.delete_bucket(Bucket=bucket),
    }


def test_another_tenants_bucket_answers_as_one_that_never_existed(
    proxy: Proxy, alices: str
) -> None:
    bob, alice = proxy.client("bob"), proxy.client("alice")
    bob.put_object(Bucket="shared", Key="bob-src", Body=b"bob's source")
    never = fresh("iso-never")
    theirs, absent = bucket_calls(bob, alices), bucket_calls(bob, never)
    for operation, call in theirs.items():
        got = answer(call)
        assert got == answer(absent[operation]), operation
        assert got[0] == 404 and got[1] in ("NoSuchBucket", "404"), (operation, got)
    mapped = bucket_calls(bob, "alice-photos")
    for operation, call in mapped.items():
        got = answer(call)
        assert got[0] == 403 and got[1] in ("AccessDenied", "403"), (operation, got)
    assert alice.get_object(Bucket=alices, Key="k")["Body"].read() == b"alice's"
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=alices)["Contents"]] == ["k"]
    assert alice.get_object_tagging(Bucket=alices, Key="k")["TagSet"] == []
    assert alice.list_multipart_uploads(Bucket=alices).get("Uploads", []) == []
    assert answer(lambda: alice.get_bucket_tagging(Bucket=alices))[1] == "NoSuchTagSet"
    assert answer(lambda: alice.get_bucket_cors(Bucket=alices))[1] == "NoSuchCORSConfiguration"
    grants = alice.get_bucket_acl(Bucket=alices)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert answer(lambda: bob.head_object(Bucket="shared", Key="bob-stolen"))[0] == 404


def test_expected_bucket_owner_and_presigned_urls_do_not_cross_tenants(
    proxy: Proxy, alices: str
) -> None:
    bob, alice = proxy.client("bob"), proxy.client("alice")
    alice_id = alice.get_bucket_acl(Bucket=alices)["Owner"]["ID"]
    bob_id = bob.get_bucket_acl(Bucket="shared")["Owner"]["ID"]
    assert alice_id != bob_id
    for owner in (alice_id, bob_id):

        def read(owner: str = owner) -> Any:
            return bob.get_object(Bucket=alices, Key="k", ExpectedBucketOwner=owner)

        got = answer(read)
        assert got == (404, "NoSuchBucket") or got == (403, "AccessDenied"), got
    # alice naming bob as her own bucket's owner: 403, as S3 answers a wrong expected owner
    got = answer(lambda: alice.get_object(Bucket=alices, Key="k", ExpectedBucketOwner=bob_id))
    assert got == (403, "AccessDenied")
    for signer, bucket, expected in (
        ("bob", alices, (404, "NoSuchBucket")),
        ("alice", "bob-only", (403, "AccessDenied")),
    ):
        s3 = proxy.client(signer)
        for method, operation in (("GET", "get_object"), ("PUT", "put_object")):
            url = s3.generate_presigned_url(
                operation, Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300
            )
            got_raw = send(
                method, url, {"Host": proxy.host}, b"planted" if method == "PUT" else b""
            )
            assert (got_raw.status, got_raw.error_code) == expected, (signer, method)
    assert alice.get_object(Bucket=alices, Key="k")["Body"].read() == b"alice's"
    assert answer(lambda: bob.head_object(Bucket="bob-only", Key="k"))[0] == 404


def test_same_bucket_name_created_by_two_tenants_stays_two_buckets(proxy: Proxy) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    name = fresh("iso-same")
    alice.create_bucket(Bucket=name)
    bob.create_bucket(Bucket=name)  # bucket names are per tenant (README)
    try:
        alice.put_object(Bucket=name, Key="a-only", Body=b"alice's")
        bob.put_object(Bucket=name, Key="b-only", Body=b"bob's")
        assert [o["Key"] for o in alice.list_objects_v2(Bucket=name)["Contents"]] == ["a-only"]
        assert [o["Key"] for o in bob.list_objects_v2(Bucket=name)["Contents"]] == ["b-only"]
        bob.put_bucket_acl(Bucket=name, ACL="public-read")
        anonymous = send("GET", f"{proxy.endpoint}/{name}/a-only", {"Host": proxy.host})
        # two tenants have this name: an unsigned request goes to the one public bucket, bob's
        # (s3proxy.name_claims), never into alice's private one
        assert (anonymous.status, anonymous.error_code) == (404, "NoSuchKey")
        public = send("GET", f"{proxy.endpoint}/{name}/b-only", {"Host": proxy.host})
        assert (public.status, public.body) == (200, b"bob's")
        assert answer(lambda: alice.get_object(Bucket=name, Key="b-only")) == (404, "NoSuchKey")
        assert alice.get_bucket_acl(Bucket=name)["Grants"][0]["Permission"] == "FULL_CONTROL"
        assert len(alice.get_bucket_acl(Bucket=name)["Grants"]) == 1
        bob.delete_object(Bucket=name, Key="b-only")
        bob.put_bucket_acl(Bucket=name, ACL="private")
        bob.delete_bucket(Bucket=name)
        assert alice.get_object(Bucket=name, Key="a-only")["Body"].read() == b"alice's"
        alice.head_bucket(Bucket=name)
        assert answer(lambda: bob.head_bucket(Bucket=name))[0] == 404
    finally:
        alice.delete_object(Bucket=name, Key="a-only")
        alice.delete_bucket(Bucket=name)


ESCAPING_KEYS = (
    "../bob/shared/escaped",
    "../../bob/shared/escaped",
    "/../bob/shared/escaped",
    "%2e%2e/bob/escaped",
    "..\\bob\\escaped",
    ".buckets/shared",
    ".usage/escaped",
    ".uploads/shared/escaped",
    ".s3proxy-layout",
    "a/" + "../" * 100 + "escaped",
)


def test_keys_that_look_like_another_path_stay_in_their_bucket(proxy: Proxy) -> None:
    """alice's keys spelled as paths out of her bucket (or as the layout's record names) are
    keys of her bucket like any other: bob sees none of them, and upstream each lives under
    alice's root for that bucket."""
    alice, bob = proxy.client("alice"), proxy.client("bob")
    before = {o["Key"] for o in bob.list_objects_v2(Bucket="shared").get("Contents", [])}
    try:
        for key in ESCAPING_KEYS:
            alice.put_object(Bucket="shared", Key=key, Body=key.encode())
        for key in ESCAPING_KEYS:
            assert alice.get_object(Bucket="shared", Key=key)["Body"].read() == key.encode()
            assert answer(partial(bob.head_object, Bucket="shared", Key=key))[0] == 404
        listed = {o["Key"] for o in alice.list_objects_v2(Bucket="shared").get("Contents", [])}
        assert set(ESCAPING_KEYS) <= listed
        after = {o["Key"] for o in bob.list_objects_v2(Bucket="shared").get("Contents", [])}
        assert after == before
        assert "bob-only" not in {b["Name"] for b in alice.list_buckets()["Buckets"]}
        if proxy.upstream is not None:
            for key in ESCAPING_KEYS:
                proxy.upstream.head_object(
                    Bucket=HOME_BUCKET, Key=upstream_key("alice", "shared", key)
                )
    finally:
        for key in ESCAPING_KEYS:
            alice.delete_object(Bucket="shared", Key=key)


# -- uploads, copies, listings: tokens of another tenant -----------------------------------------


def test_another_tenants_upload_id_is_no_such_upload(proxy: Proxy) -> None:
    """alice's UploadId in bob's bucket of the same name, with the same key: every multipart
    call bob makes with it is NoSuchUpload, and alice's upload is untouched."""
    alice, bob = proxy.client("alice"), proxy.client("bob")
    key = fresh("iso-upload")
    bob.put_object(Bucket="shared", Key=key + "-src", Body=b"s" * 10)
    upload = alice.create_multipart_upload(Bucket="shared", Key=key)["UploadId"]
    part = b"alice part " * 100
    etag = alice.upload_part(Bucket="shared", Key=key, UploadId=upload, PartNumber=1, Body=part)[
        "ETag"
    ]
    try:
        same = {"Bucket": "shared", "Key": key, "UploadId": upload}
        for call in (
            lambda: bob.upload_part(**same, PartNumber=1, Body=b"bob's part"),
            lambda: bob.upload_part(**same, PartNumber=2, Body=b"bob's part"),
            lambda: bob.upload_part_copy(
                **same, PartNumber=2, CopySource={"Bucket": "shared", "Key": key + "-src"}
            ),
            lambda: bob.list_parts(**same),
            lambda: bob.complete_multipart_upload(
                **same, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
            ),
            lambda: bob.abort_multipart_upload(**same),
        ):
            assert answer(call) == (404, "NoSuchUpload")
        mine = bob.list_multipart_uploads(Bucket="shared", Prefix=key)
        assert mine.get("Uploads", []) == []
        # alice's UploadId as bob's upload-id-marker is not one of his: refused, not decoded
        got = answer(
            lambda: bob.list_multipart_uploads(
                Bucket="shared", KeyMarker=key, UploadIdMarker=upload
            )
        )
        assert got == (400, "InvalidArgument")
        after = bob.list_multipart_uploads(Bucket="shared", KeyMarker=key[:-1])
        assert all(u["Key"] != key for u in after.get("Uploads", []))
        parts = alice.list_parts(**same)["Parts"]
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, len(part))]
        alice.complete_multipart_upload(
            **same, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
        )
        assert alice.get_object(Bucket="shared", Key=key)["Body"].read() == part
        assert answer(lambda: bob.head_object(Bucket="shared", Key=key)) == (404, "404")
    finally:
        with contextlib.suppress(ClientError):  # completed above unless an assertion failed
            alice.abort_multipart_upload(Bucket="shared", Key=key, UploadId=upload)
        alice.delete_object(Bucket="shared", Key=key)
        bob.delete_object(Bucket="shared", Key=key + "-src")


def test_uploads_another_tenant_holds_open_never_reach_a_tenants_listing(proxy: Proxy) -> None:
    """alice holds 60 uploads open in her bucket of the name bob's bucket has too (one
    upstream bucket holds both homes): bob pages through his uploads one at a time and meets
    only his own, in one page, and completes it."""
    alice, bob = proxy.client("alice"), proxy.client("bob")
    prefix = fresh("iso-held") + "/"
    held = [
        (key, alice.create_multipart_upload(Bucket="shared", Key=key)["UploadId"])
        for key in (f"{prefix}a{n:02}" for n in range(60))
    ]
    mine = bob.create_multipart_upload(Bucket="shared", Key=prefix + "b")["UploadId"]
    try:
        seen: list[str] = []
        pages, markers = 0, dict[str, str]()
        while True:
            page = bob.list_multipart_uploads(Bucket="shared", MaxUploads=1, **markers)
            pages += 1
            seen += [u["UploadId"] for u in page.get("Uploads", [])]
            if not page["IsTruncated"]:
                break
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }
        assert (seen, pages) == ([mine], 1)
        theirs = alice.list_multipart_uploads(Bucket="shared", Prefix=prefix)["Uploads"]
        assert sorted((u["Key"], u["UploadId"]) for u in theirs) == held
        etag = bob.upload_part(
            Bucket="shared", Key=prefix + "b", UploadId=mine, PartNumber=1, Body=b"bob's"
        )["ETag"]
        bob.complete_multipart_upload(
            Bucket="shared",
            Key=prefix + "b",
            UploadId=mine,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        assert bob.get_object(Bucket="shared", Key=prefix + "b")["Body"].read() == b"bob's"
        bob.delete_object(Bucket="shared", Key=prefix + "b")
    finally:
        with contextlib.suppress(ClientError):
            bob.abort_multipart_upload(Bucket="shared", Key=prefix + "b", UploadId=mine)
        for key, upload in held:
            alice.abort_multipart_upload(Bucket="shared", Key=key, UploadId=upload)


def test_another_tenants_continuation_token_and_markers_list_nothing_of_theirs(
    proxy: Proxy,
) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    prefix = fresh("iso-list") + "/"
    for name in ("a", "b", "c"):
        alice.put_object(Bucket="shared", Key=prefix + name, Body=b"alice's")
    bob.put_object(Bucket="shared", Key=prefix + "z", Body=b"bob's")
    try:
        page = alice.list_objects_v2(Bucket="shared", Prefix=prefix, MaxKeys=1)
        token = page["NextContinuationToken"]
        got = answer(
            lambda: bob.list_objects_v2(Bucket="shared", Prefix=prefix, ContinuationToken=token)
        )
        assert got == (400, "InvalidArgument")
        for listed in (
            bob.list_objects_v2(Bucket="shared", Prefix=prefix, StartAfter=prefix + "a"),
            bob.list_objects(Bucket="shared", Prefix=prefix, Marker=prefix + "a"),
            bob.list_object_versions(Bucket="shared", Prefix=prefix, KeyMarker=prefix + "a"),
        ):
            keys = [o["Key"] for o in listed.get("Contents", listed.get("Versions", []))]
            assert keys == [prefix + "z"]
        rest = alice.list_objects_v2(Bucket="shared", Prefix=prefix, ContinuationToken=token)
        assert [o["Key"] for o in rest["Contents"]] == [prefix + "b", prefix + "c"]
    finally:
        for name in ("a", "b", "c"):
            alice.delete_object(Bucket="shared", Key=prefix + name)
        bob.delete_object(Bucket="shared", Key=prefix + "z")


COPY_SOURCES = (
    "{b}/k",
    "/{b}/k",
    "{b}%2Fk",
    "{b}/k?versionId=null",
    "//{b}/k",
    "shared/../{b}/k",
    "shared%2F..%2F{b}%2Fk",
    "shared/..%2F..%2F{b}%2Fk",
    "{B}/k",
    "alice-photos/k",
)


def test_copy_sources_naming_another_tenants_object_copy_nothing(proxy: Proxy, alices: str) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_object(Bucket="alice-photos", Key="k", Body=b"alice's photo")
    bob_keys = proxy.keys("bob")
    target = fresh("iso-copy")
    upload = bob.create_multipart_upload(Bucket="shared", Key=target)["UploadId"]
    try:
        for template in COPY_SOURCES:
            source = template.format(b=alices, B=alices.upper())
            headers = {"x-amz-copy-source": source}
            for path in (f"/shared/{target}", f"/shared/{target}?partNumber=1&uploadId={upload}"):
                url = proxy.endpoint + path
                got = send("PUT", url, sign("PUT", url, *bob_keys, headers))
                assert got.status in (400, 403, 404), (source, path, got.status, got.body[:300])
                # 400: a bucket part no bucket is named (an encoded %2F: S3 splits first)
                refusals = ("NoSuchBucket", "NoSuchKey", "AccessDenied", "InvalidArgument")
                assert got.error_code in refusals, source
        assert answer(lambda: bob.head_object(Bucket="shared", Key=target)) == (404, "404")
        assert bob.list_parts(Bucket="shared", Key=target, UploadId=upload).get("Parts", []) == []
    finally:
        bob.abort_multipart_upload(Bucket="shared", Key=target, UploadId=upload)
        alice.delete_object(Bucket="alice-photos", Key="k")


# -- virtual-hosted addressing and a third tenant's scoped key ----------------------------------

DOMAIN = "s3.iso.test"
CAROL = ("AKCAROLSCOPED000003", "carol-secret-cccccccccccccccccc")


def _lanes() -> list[str]:
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    return [b for b in BACKENDS if chosen is None or b in chosen.split(",")]


@pytest.fixture(scope="module", params=_lanes())
def hosted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy with virtual-hosted addressing, and a third tenant carol whose only key is
    scoped to buckets named like the others' (``shared``, ``alice-photos``, ``iso-*``)."""
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if request.param in fixtures:
        server, upstream = (request.getfixturevalue(name) for name in fixtures[request.param])
        create_upstream_buckets(upstream)
    workdir = tmp_path_factory.mktemp(f"hosted-{request.param}")
    tenants = proxy_settings(None, 0, 0, workdir)["tenants"]
    allow = [{"actions": ["read", "write", "list", "delete"], "buckets": ["*"]}]
    tenants["carol"] = {
        "keys": [{"access_key": CAROL[0], "secret_key": CAROL[1], "allow": allow}],
        "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET},
    }
    running = start_proxy(
        server, upstream, workdir, tenants=tenants, server={"virtual_host_domains": [DOMAIN]}
    )
    try:
        yield running
    finally:
        running.process.stop()


def hosted_get(proxy: Proxy, keys: tuple[str, str], host: str, path: str) -> RawResponse:
    url = f"http://{host}{path}"
    headers = sign("GET", url, *keys)
    return send("GET", proxy.endpoint + path, headers)


def test_host_headers_naming_another_tenants_bucket(hosted: Proxy) -> None:
    alice = hosted.client("alice")
    name = fresh("iso-host")
    alice.create_bucket(Bucket=name)
    alice.put_object(Bucket=name, Key="k", Body=b"alice's")
    alice.put_object(Bucket="alice-photos", Key="k", Body=b"alice's photo")
    port = hosted.port
    try:
        mine = hosted_get(hosted, hosted.keys("alice"), f"{name}.{DOMAIN}:{port}", "/k")
        assert (mine.status, mine.body) == (200, b"alice's")
        absolute = hosted_get(hosted, hosted.keys("alice"), f"{name}.{DOMAIN}.:{port}", "/k")
        assert (absolute.status, absolute.body) == (200, b"alice's")  # "bucket.domain." too
        for keys in (hosted.keys("bob"), CAROL):
            for host in (
                f"{name}.{DOMAIN}",
                f"{name}.{DOMAIN}:{port}",
                f"{name.upper()}.{DOMAIN.upper()}:{port}",
                f"{name}.{DOMAIN}.:{port}",
            ):
                for path in ("/k", f"/{name}/k", "/", "/?list-type=2"):
                    got = hosted_get(hosted, keys, host, path)
                    assert b"alice's" not in got.body and b"<Contents><Key>k</Key>" not in got.body
                    assert name.encode() not in got.body or got.status == 404, (host, path)
                    assert got.status in (403, 404), (keys[0], host, path, got.body)
            photos = hosted_get(hosted, keys, f"alice-photos.{DOMAIN}", "/k")
            assert (photos.status, photos.error_code) == (403, "AccessDenied")
        carols = hosted_get(hosted, CAROL, f"shared.{DOMAIN}", "/")  # a name bob and alice have
        assert (carols.status, carols.error_code) == (404, "NoSuchBucket")
        carol = client_for(hosted.endpoint, *CAROL)
        assert answer(lambda: carol.get_object(Bucket=name, Key="k")) == (404, "NoSuchBucket")
        refused = answer(lambda: carol.get_object(Bucket="alice-photos", Key="k"))
        assert refused == (403, "AccessDenied")
        refused = answer(lambda: carol.put_object(Bucket="shared", Key="k", Body=b"carol's"))
        assert refused == (404, "NoSuchBucket")
        assert alice.get_object(Bucket=name, Key="k")["Body"].read() == b"alice's"
        photo = alice.get_object(Bucket="alice-photos", Key="k")["Body"].read()
        assert photo == b"alice's photo"
    finally:
        alice.delete_object(Bucket=name, Key="k")
        alice.delete_object(Bucket="alice-photos", Key="k")
        alice.delete_bucket(Bucket=name)


# -- a client key never writes a proxy record ------------------------------------------------


@pytest.mark.parametrize("lane", _lanes())
def test_the_layout_marker_of_a_plain_one_shard_root_is_no_client_key(
    lane: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With one shard and ``plain`` keys a mapped bucket's key K is ``R + K`` upstream, so key
    ``.s3proxy-layout`` is the root's layout marker. It used to be an ordinary key: a PUT with
    ``x-amz-meta-key-encoding: flat`` re-labelled the root, and every request on the bucket
    answered 500 after the next start. Now the key is refused, and the bucket keeps working."""
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if lane in fixtures:
        server, upstream = (request.getfixturevalue(name) for name in fixtures[lane])
        create_upstream_buckets(upstream)
    workdir = tmp_path_factory.mktemp(f"plain-{lane}")
    tenants = proxy_settings(None, 0, 0, workdir)["tenants"]
    root = {"upstream": UPSTREAM, "bucket": PHOTOS_BUCKET, "prefix": fresh("iso-plain") + "/"}
    tenants["alice"]["buckets"]["alice-photos"] = root
    layout = {"shards": 1, "key_encoding": "plain"}
    marker = ".s3proxy-layout"
    first = start_proxy(server, upstream, workdir, tenants=tenants, layout=layout)
    try:
        alice = first.client("alice")
        alice.put_object(Bucket="alice-photos", Key="photo.jpg", Body=b"jpeg")
        for call in (
            lambda: alice.put_object(
                Bucket="alice-photos", Key=marker, Body=b"", Metadata={"key-encoding": "flat"}
            ),
            lambda: alice.copy_object(
                Bucket="alice-photos",
                Key=marker,
                CopySource={"Bucket": "alice-photos", "Key": "photo.jpg"},
                Metadata={"key-encoding": "flat"},
                MetadataDirective="REPLACE",
            ),
            lambda: alice.create_multipart_upload(Bucket="alice-photos", Key=marker),
            lambda: alice.get_object(Bucket="alice-photos", Key=marker),
            lambda: alice.delete_object(Bucket="alice-photos", Key=marker),
        ):
            assert answer(call) == (403, "AccessDenied")
        deleted = alice.delete_objects(Bucket="alice-photos", Delete={"Objects": [{"Key": marker}]})
        assert [e["Code"] for e in deleted.get("Errors", [])] == ["AccessDenied"]
        alice.put_object(Bucket="alice-photos", Key="x/" + marker, Body=b"a key like any")
    finally:
        first.process.stop()
    again = start_proxy(server, upstream, workdir, tenants=tenants, layout=layout)
    try:
        alice = again.client("alice")
        assert alice.get_object(Bucket="alice-photos", Key="photo.jpg")["Body"].read() == b"jpeg"
        listed = [o["Key"] for o in alice.list_objects_v2(Bucket="alice-photos")["Contents"]]
        assert listed == ["photo.jpg", "x/" + marker]
        for key in listed:
            alice.delete_object(Bucket="alice-photos", Key=key)
    finally:
        again.process.stop()
