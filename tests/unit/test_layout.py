import hashlib

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import (
    TenantLayout,
    UpstreamRoot,
    bucket_root,
    locate,
    object_key,
    shard_digits,
    shard_of,
)

HOME = UpstreamRoot("main", "homes", "alice/")
ALICE = TenantLayout("alice", home=HOME, buckets={"photos": UpstreamRoot("main", "pics", "p/")})
BOB = TenantLayout("bob", home=UpstreamRoot("main", "homes", "bob/"))


@pytest.mark.parametrize(("shards", "digits"), [(1, 0), (16, 1), (256, 2), (4096, 3)])
def test_shard_digits(shards: int, digits: int) -> None:
    assert shard_digits(shards) == digits


@pytest.mark.parametrize("shards", [0, 2, 32, 1000])
def test_other_shard_counts_are_refused(shards: int) -> None:
    with pytest.raises(ValueError):
        shard_digits(shards)


def test_shard_is_sha256_prefix_of_utf8_key() -> None:
    key = "photos/été/ü.jpg"
    assert shard_of(key, 3) == hashlib.sha256(key.encode()).hexdigest()[:3]
    assert shard_of(key, 0) == ""


def test_home_bucket_key_follows_the_contract() -> None:
    key = "a/b c+d%2F.txt"
    shard = hashlib.sha256(key.encode()).hexdigest()[:1]
    location = locate(ALICE, "docs", key, 1)
    assert (location.upstream, location.bucket) == ("main", "homes")
    assert location.key == f"alice/docs/{shard}/{key}"


def test_single_shard_has_no_segment() -> None:
    assert locate(ALICE, "docs", "x/y", 0).key == "alice/docs/x/y"


def test_explicit_mapping_uses_its_own_root() -> None:
    location = locate(ALICE, "photos", "k", 2)
    assert (location.bucket, location.key) == ("pics", f"p/{shard_of('k', 2)}/k")


@pytest.mark.parametrize(
    "key", ["a/../b", "//x", "./y", "trailing/", "e\u0301", "\u00e9", "..", " "]
)
def test_keys_are_written_byte_for_byte(key: str) -> None:
    assert locate(ALICE, "docs", key, 1).key.endswith("/" + key)


def test_nfc_and_nfd_keys_stay_distinct() -> None:
    assert locate(ALICE, "b", "\u00e9", 1).key != locate(ALICE, "b", "e\u0301", 1).key


def test_same_bucket_name_of_two_tenants_maps_to_disjoint_roots() -> None:
    alice = locate(ALICE, "shared", "k", 1)
    bob = locate(BOB, "shared", "k", 1)
    assert alice.key != bob.key
    assert alice.key.startswith("alice/shared/")
    assert bob.key.startswith("bob/shared/")


def test_tenant_without_home_has_only_its_mapped_buckets() -> None:
    tenant = TenantLayout("carol", buckets={"only": UpstreamRoot("main", "c", "")})
    assert bucket_root(tenant, "other") is None
    with pytest.raises(S3Error) as caught:
        locate(tenant, "other", "k", 1)
    assert caught.value.code is S3ErrorCode.NoSuchBucket


def test_1024_byte_key_is_accepted_when_it_fits_upstream() -> None:
    assert object_key(UpstreamRoot("m", "b", ""), "k" * 1022, 0) == "k" * 1022
    assert len(object_key(UpstreamRoot("m", "b", ""), "é" * 512, 0).encode()) == 1024


def test_key_over_1024_bytes_is_too_long() -> None:
    with pytest.raises(S3Error) as caught:
        object_key(UpstreamRoot("m", "b", ""), "k" * 1025, 0)
    assert caught.value.code is S3ErrorCode.KeyTooLongError


def test_key_whose_upstream_form_passes_1024_bytes_is_too_long() -> None:
    with pytest.raises(S3Error) as caught:
        locate(ALICE, "docs", "k" * 1020, 1)
    assert caught.value.code is S3ErrorCode.KeyTooLongError


def test_flat_key_part_follows_the_contract() -> None:
    key = "a/../b"
    shard = hashlib.sha256(key.encode()).hexdigest()[:1]
    location = locate(ALICE, "docs", key, 1, "flat")
    assert location.key == f"alice/docs/{shard}/a-2f-2e-2e-2fb"


def test_flat_key_whose_encoding_passes_1024_bytes_is_too_long() -> None:
    assert len(object_key(UpstreamRoot("m", "b", ""), "k" * 1000, 0, "flat")) == 1000 + 6
    with pytest.raises(S3Error) as caught:
        object_key(UpstreamRoot("m", "b", ""), "é" * 200, 0, "flat")  # 400 bytes, 1,200 encoded
    assert caught.value.code is S3ErrorCode.KeyTooLongError
