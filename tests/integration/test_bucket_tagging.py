"""Bucket tags on every lane: Put/Get/DeleteBucketTagging with S3's limits and errors; tags and
CORS share the bucket's one record without overwriting each other."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "tags-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(Bucket=name)


def test_put_get_delete_bucket_tagging(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(missing) == "NoSuchTagSet"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    tags = [{"Key": f"k{i}", "Value": f"v {i}"} for i in range(50)]
    answer = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    replaced = [{"Key": "team", "Value": "web"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": replaced})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == replaced
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(gone) == "NoSuchTagSet"


@pytest.mark.parametrize(
    "tags",
    [
        [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "aws:owner", "Value": "v"}],
        [{"Key": "semi;colon", "Value": "v"}],
    ],
    ids=["51-tags", "duplicate", "long-key", "long-value", "aws-prefix", "bad-character"],
)
def test_tag_sets_s3_refuses_are_invalid_tag(
    proxy: Proxy, bucket: str, tags: list[dict[str, str]]
) -> None:
    s3 = proxy.client("alice")
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    # AWS answers a count over 50 with BadRequest ("Bucket tag count cannot be greater than 50")
    assert code_of(refused) == ("BadRequest" if len(tags) == 51 else "InvalidTag")
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)  # nothing stored


def test_tags_and_cors_share_the_record(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    rules = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    s3.delete_bucket_tagging(Bucket=bucket)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "c", "Value": "d"}]})
    s3.delete_bucket_cors(Bucket=bucket)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "c", "Value": "d"}]


def test_another_tenant_cannot_reach_the_tags(proxy: Proxy, bucket: str) -> None:
    proxy.client("alice").put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
    )
    with pytest.raises(ClientError) as other:
        proxy.client("bob").get_bucket_tagging(Bucket=bucket)
    assert code_of(other) == "NoSuchBucket"
    with pytest.raises(ClientError) as mapped:
        proxy.client("bob").get_bucket_tagging(Bucket="alice-photos")
    assert code_of(mapped) == "AccessDenied"


def test_a_missing_bucket_is_no_such_bucket(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    with pytest.raises(ClientError) as missing:
        s3.put_bucket_tagging(Bucket="no-such-" + os.urandom(3).hex(), Tagging={"TagSet": []})
    assert code_of(missing) == "NoSuchBucket"
