"""ListMultipartUploads under a bucket's READ grant (wave 12 M), on every lane: S3 maps a
bucket's READ ACL grant to s3:ListBucket, s3:ListBucketVersions and
s3:ListBucketMultipartUploads, so a ``public-read`` bucket lists its uploads to anyone and an
``authenticated-read`` one to any signed caller. The gateway refused it (403 anonymous,
NoSuchBucket for another tenant); it now answers what the owner's own listing answers (but the
owner's name, wave 17 B), and nothing the listing shows lets the reader touch an upload."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from s3proxy.owner import shown_owner_id
from tests.integration.conftest import SERVER_SECRET, Proxy

pytestmark = pytest.mark.integration


def unsigned(proxy: Proxy) -> Any:
    """A client that sends no credentials at all (what an anonymous reader's SDK sends)."""
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        region_name="us-east-1",
        config=Config(
            signature_version=UNSIGNED,
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
        ),
    )


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def listed(page: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in page.items() if name != "ResponseMetadata"}


def unnamed(page: dict[str, Any]) -> dict[str, Any]:
    """alice's page as another caller gets it: owners by id alone, no DisplayName (the
    tenant's name is the owner's own to see, wave 17 B), and that id keyed by the server
    secret (the derived one let them test guesses of the name, wave 18 C)."""
    shown = {"ID": shown_owner_id("alice", None, SERVER_SECRET)}
    uploads = [
        {**upload, **{who: shown for who in ("Owner", "Initiator")}}
        for upload in page.get("Uploads", [])
    ]
    return {**page, "Uploads": uploads} if "Uploads" in page else page


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """alice's private bucket with three uploads open."""
    name = "w12m-up-" + os.urandom(4).hex()
    alice = proxy.client("alice")
    alice.create_bucket(Bucket=name)
    for key in ("a/one", "a/two", "b/three"):
        alice.create_multipart_upload(Bucket=name, Key=key)
    yield name
    alice.put_bucket_acl(Bucket=name, ACL="private")
    for upload in alice.list_multipart_uploads(Bucket=name).get("Uploads", []):
        alice.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    alice.delete_bucket(Bucket=name)


def test_a_public_read_bucket_lists_its_uploads_to_anyone(proxy: Proxy, bucket: str) -> None:
    alice, bob, anyone = proxy.client("alice"), proxy.client("bob"), unsigned(proxy)
    assert refused(lambda: anyone.list_multipart_uploads(Bucket=bucket)) == (403, "AccessDenied")
    assert refused(lambda: bob.list_multipart_uploads(Bucket=bucket)) == (404, "NoSuchBucket")
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read")
    own = listed(alice.list_multipart_uploads(Bucket=bucket))
    assert [upload["Key"] for upload in own["Uploads"]] == ["a/one", "a/two", "b/three"]
    # Exactly the owner's answer (was 403 AccessDenied anonymously, NoSuchBucket for bob).
    assert listed(anyone.list_multipart_uploads(Bucket=bucket)) == unnamed(own)
    assert listed(bob.list_multipart_uploads(Bucket=bucket)) == unnamed(own)
    grouped = {"Bucket": bucket, "Delimiter": "/", "Prefix": ""}
    owners = listed(alice.list_multipart_uploads(**grouped))
    assert listed(anyone.list_multipart_uploads(**grouped)) == unnamed(owners)
    # Pages follow the owner's markers, whoever reads them.
    first = bob.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert first["IsTruncated"] is True
    second = anyone.list_multipart_uploads(
        Bucket=bucket,
        MaxUploads=1,
        KeyMarker=first["NextKeyMarker"],
        UploadIdMarker=first["NextUploadIdMarker"],
    )
    assert [upload["Key"] for upload in second["Uploads"]] == ["a/two"]
    # A listed UploadId gives no write: parts, aborts and Completes stay the owner's. Another
    # tenant meets the bucket's answer first, as on S3: 403 in a bucket whose ACL grants it
    # READ (NoSuchUpload before wave 14 I).
    upload = own["Uploads"][0]
    which = {"Bucket": bucket, "Key": upload["Key"], "UploadId": upload["UploadId"]}
    assert refused(lambda: anyone.upload_part(**which, PartNumber=1, Body=b"x"))[0] == 403
    assert refused(lambda: bob.upload_part(**which, PartNumber=1, Body=b"x"))[0] == 403
    assert refused(lambda: anyone.abort_multipart_upload(**which))[0] == 403
    assert refused(lambda: bob.abort_multipart_upload(**which))[0] == 403
    assert refused(lambda: bob.list_parts(**which))[0] == 403
    assert listed(alice.list_multipart_uploads(Bucket=bucket)) == own
    alice.put_bucket_acl(Bucket=bucket, ACL="private")
    assert refused(lambda: anyone.list_multipart_uploads(Bucket=bucket)) == (403, "AccessDenied")
    assert refused(lambda: bob.list_multipart_uploads(Bucket=bucket)) == (404, "NoSuchBucket")


def test_an_authenticated_read_bucket_lists_its_uploads_to_tenants(
    proxy: Proxy, bucket: str
) -> None:
    alice, bob, anyone = proxy.client("alice"), proxy.client("bob"), unsigned(proxy)
    alice.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    own = listed(alice.list_multipart_uploads(Bucket=bucket, Prefix="a/"))
    assert listed(bob.list_multipart_uploads(Bucket=bucket, Prefix="a/")) == unnamed(own)
    assert refused(lambda: anyone.list_multipart_uploads(Bucket=bucket)) == (403, "AccessDenied")
