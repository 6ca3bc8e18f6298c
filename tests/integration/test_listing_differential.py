"""Listings through the proxy, page by page, against S3's listing rules and against Ceph RGW.

Sync tools (aws s3 sync --delete, rclone sync) delete what a listing leaves out, so a listing
must be exactly S3's: not only the keys of a whole walk (test_listing_upstreams.py) but every
page — its keys and common prefixes, IsTruncated, KeyCount, NextMarker, the echoed request
fields, and the same keys under ``encoding-type=url``. Two references: a pure-Python model of
S3's rules written here (UTF-8 byte order; prefix, a delimiter of any length, marker /
start-after / continuation token, max-keys incl. 0, common prefixes counted against max-keys,
V1's NextMarker on every truncated page as RGW sends it), and, on the Ceph lane, the same keys
PUT directly into a plain bucket of the Ceph RGW behind the proxy (no shards, no key mapping),
listed with the same requests. Keys are chosen to stress the proxy's mapping: shared prefixes
spread over shards, delimiters inside and at the end, multi-byte UTF-8, keys differing only in
their last byte, '/'-only keys, keys ordering around the delimiter, long keys (as long as the
mapping lets them be: README, a key whose upstream key passes 1024 bytes is KeyTooLongError).
ListMultipartUploads (key / upload-id markers) and ListParts are walked against models too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Proxy
from tests.support.s3http import signed

pytestmark = pytest.mark.integration

BUCKET = "lstdiff"
REFERENCE_BUCKET = "s3p-lstdiff-ref-5e0c"
"""A plain bucket on the Ceph RGW itself: the same keys, no proxy in between."""

KEYS = sorted(
    {
        *(f"s/{n}" for n in range(24)),  # one prefix spread over every shard
        "a", "a/", "a/b", "a/b/", "a/b/c", "a//", "a//b", "a0", "a.", "a-", "a+b", "a b",
        "ab", "abab", "xab", "xabyab", "xaby", "b/a", "ba/b",
        "/", "//", "///", "/a", "//a",
        "last-a", "last-b", "last-\u00e9", "last-\u00ff", "last-\u0100",
        "\u00e9", "e\u0301", "\u00e9/\u00e9", "\u00e9\u00e9", "\u65e5\u672c/\u8a9e", "\U0001f600",
        "\U0001f600/x", "\ufffd", "\uff5e",
        "L" * 900, "L" * 500 + "/" + "m" * 300, "\u00e9" * 100, "L" * 500 + "/z",
        "d/", "d/x", "d/x/", "d/x/y", "d//", "d/-", "d/0", "d-", "d0",
    }
)  # fmt: skip
"""Python orders str by code point, which is UTF-8 byte order."""

QUERY_PREFIXES = sorted(
    {"", "L" * 500, "d/x", "\u00e9", "\U0001f600"} | {k[:n] for k in KEYS for n in (1, 2, 3)}
)
DELIMITERS = [None, "/", "//", "a", "ab", "\u00e9", "/b", "x/"]
MARKERS = sorted({*KEYS, *QUERY_PREFIXES, "a/~", "zzz", "\U0010ffff"} - {""})


def model(keys: list[str], prefix: str, delimiter: str | None, after: str | None,
          max_keys: int) -> tuple[list[str], list[str], bool]:  # fmt: skip
    """S3's rules, one page: entries after ``after`` (a key or a common prefix) under
    ``prefix``; keys holding the delimiter past the prefix roll up into one common prefix
    each; keys and common prefixes together at most ``max_keys``; truncated when more
    would follow. A common prefix that ``after`` equals or passes is not repeated."""
    out_keys: list[str] = []
    out_prefixes: list[str] = []
    for key in keys:
        if not key.startswith(prefix) or (after is not None and key <= after):
            continue
        entry, is_prefix = key, False
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                entry, is_prefix = key[: cut + len(delimiter)], True
                if (out_prefixes and out_prefixes[-1] == entry) or (
                    after is not None and entry <= after
                ):
                    continue
        if len(out_keys) + len(out_prefixes) == max_keys:
            return out_keys, out_prefixes, max_keys > 0
        (out_prefixes if is_prefix else out_keys).append(entry)
    return out_keys, out_prefixes, False


def model_walk(keys: list[str], version: int, prefix: str, delimiter: str | None,
               max_keys: int, start: str | None,
               encoded: bool) -> list[dict[str, Any]]:  # fmt: skip
    """Every page a client walking the listing gets, as :func:`page_fields` reads it."""
    pages: list[dict[str, Any]] = []
    after = start
    token: str | None = None
    while True:
        got_keys, got_prefixes, truncated = model(keys, prefix, delimiter, after, max_keys)
        page: dict[str, Any] = {
            "Prefix": prefix,
            "Delimiter": delimiter or "",
            "MaxKeys": str(max_keys),
            "IsTruncated": "true" if truncated else "false",
            "EncodingType": "url" if encoded else "",
            "Keys": got_keys,
            "CommonPrefixes": got_prefixes,
        }
        last = max([*got_keys, *got_prefixes], default=None)
        if version == 2:
            page["KeyCount"] = str(len(got_keys) + len(got_prefixes))
            page["StartAfter"] = start or ""
            page["ContinuationToken"] = "sent" if token else ""
            page["NextContinuationToken"] = "present" if truncated else ""
        else:
            page["Marker"] = after or ""
            # AWS documents NextMarker only with a delimiter; Ceph RGW and the proxy send it
            # on every truncated page (a client paging on NextMarker alone keeps working).
            page["NextMarker"] = last if truncated and last else ""
        pages.append(page)
        if not truncated or max_keys == 0:
            return pages
        after, token = last, "sent"


RGW_PLAIN = ("Prefix", "Marker", "NextMarker", "StartAfter")
"""Fields Ceph RGW 16 sends unencoded under encoding-type=url (V2's Prefix and StartAfter,
V1's markers; measured here); S3 and the proxy encode them."""


def page_fields(body: bytes, encoded: bool, sent_token: str | None,
                plain_markers: bool = False) -> dict[str, Any]:  # fmt: skip
    """The fields of one ListObjects(V2) answer that a client reads, decoded when the
    listing was asked with ``encoding-type=url``; opaque tokens only as present / sent.
    ``plain_markers``: Ceph RGW 16 does not encode the top-level :data:`RGW_PLAIN` (its
    keys and common prefixes it does)."""
    root = ET.fromstring(body)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    version = 2 if root.find(ns + "KeyCount") is not None or sent_token is not None else 1

    def text(node: ET.Element, name: str) -> str:
        value = node.findtext(ns + name) or ""
        # V1's top-level Prefix is never encoded (AWS; botocore does not decode it).
        plain = name == "EncodingType" or (version == 1 and node is root and name == "Prefix")
        plain = plain or (plain_markers and node is root and name in RGW_PLAIN)
        return value if plain or not encoded else unquote_plus(value)

    page: dict[str, Any] = {
        name: text(root, name)
        for name in ("Prefix", "Delimiter", "MaxKeys", "IsTruncated", "EncodingType")
    }
    page["Keys"] = [text(item, "Key") for item in root.findall(ns + "Contents")]
    page["CommonPrefixes"] = [text(item, "Prefix") for item in root.findall(ns + "CommonPrefixes")]
    if version == 2:
        page["KeyCount"] = root.findtext(ns + "KeyCount") or ""
        page["StartAfter"] = text(root, "StartAfter")
        echoed = root.findtext(ns + "ContinuationToken") or ""
        page["ContinuationToken"] = "sent" if echoed and echoed == sent_token else echoed
        page["NextContinuationToken"] = (
            "present" if root.findtext(ns + "NextContinuationToken") else ""
        )
    else:
        page["Marker"] = text(root, "Marker")
        page["NextMarker"] = text(root, "NextMarker")
    return page


def walk(endpoint: str, credentials: tuple[str, str], bucket: str, version: int, prefix: str,
         delimiter: str | None, max_keys: int, start: str | None,
         encoded: bool, plain_markers: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """Walk the listing with raw signed requests (boto3 would decode and hide fields); the
    next page asked as a client does: V2 by the token, V1 by NextMarker or the last key."""
    pages: list[dict[str, Any]] = []
    token: str | None = None
    marker = start
    for _ in range(500):
        params: dict[str, str] = {"prefix": prefix, "max-keys": str(max_keys)}
        if version == 2:
            params["list-type"] = "2"
        if delimiter:
            params["delimiter"] = delimiter
        if encoded:
            params["encoding-type"] = "url"
        if version == 2 and start:
            params["start-after"] = start
        if version == 2 and token:
            params["continuation-token"] = token
        if version == 1 and marker:
            params["marker"] = marker
        query = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
        )
        response = signed("GET", f"{endpoint}/{bucket}?{query}", *credentials)
        assert response.status == 200, response.body[:500]
        page = page_fields(response.body, encoded, token, plain_markers)
        if version == 2:
            page.setdefault("KeyCount", "")
        pages.append(page)
        if page["IsTruncated"] != "true" or max_keys == 0:
            return pages
        if version == 2:
            token = ET.fromstring(response.body).findtext(
                "{http://s3.amazonaws.com/doc/2006-03-01/}NextContinuationToken"
            )
        else:
            marker = page["NextMarker"] or max([*page["Keys"], *page["CommonPrefixes"]])
    raise AssertionError(f"listing did not end: {pages[:4]}")


@pytest.fixture(scope="module")
def stocked(proxy: Proxy) -> Iterator[Proxy]:
    """The key set in one bucket through the proxy and, on Ceph, in a plain upstream bucket."""
    s3 = proxy.client("alice")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    stores = [lambda key: s3.put_object(Bucket=BUCKET, Key=key, Body=b".")]
    if proxy.backend == "CephRGW":
        upstream = proxy.upstream
        if REFERENCE_BUCKET not in {b["Name"] for b in upstream.list_buckets()["Buckets"]}:
            upstream.create_bucket(Bucket=REFERENCE_BUCKET)
        stores.append(lambda key: upstream.put_object(Bucket=REFERENCE_BUCKET, Key=key, Body=b"."))
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda job: job[0](job[1]), [(store, key) for store in stores for key in KEYS])
        )
    yield proxy


def rgw_misreads(delimiter: str | None, start: str | None, pages: list[dict[str, Any]]) -> bool:
    """Where Ceph RGW 16 is not S3 (measured here): with a delimiter of several characters,
    a listing resumed after a marker loses entries — keys '/', '//', '///', '//a', '/a',
    prefix '/', delimiter '//', V1 marker '//' gives only '/a' (S3: CommonPrefix '///', then
    '//a', '/a'). The proxy is held to the model there; RGW is no reference."""
    return delimiter is not None and len(delimiter) > 1 and (start is not None or len(pages) > 1)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    version=st.sampled_from([1, 2]),
    prefix=st.sampled_from(QUERY_PREFIXES),
    delimiter=st.sampled_from(DELIMITERS),
    max_keys=st.sampled_from([0, 1, 2, 3, 7, 1000]),
    start=st.one_of(st.none(), st.sampled_from(MARKERS)),
    encoded=st.booleans(),
)
@example(version=1, prefix="", delimiter=None, max_keys=5, start=None, encoded=False)
@example(version=1, prefix="a", delimiter="/", max_keys=1, start=None, encoded=True)
@example(version=2, prefix="", delimiter="/", max_keys=2, start="a/", encoded=True)
@example(version=2, prefix="", delimiter="ab", max_keys=1, start=None, encoded=False)
@example(version=2, prefix="L", delimiter="/", max_keys=0, start=None, encoded=False)
@example(version=1, prefix="d/", delimiter="/", max_keys=1, start="d/x", encoded=False)
@example(version=2, prefix="\u00e9", delimiter="\u00e9", max_keys=1, start=None, encoded=True)
@example(version=1, prefix="/", delimiter="//", max_keys=1, start=None, encoded=False)
def test_every_page_is_s3s(
    stocked: Proxy,
    version: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start: str | None,
    encoded: bool,
) -> None:
    query = (version, prefix, delimiter, max_keys, start, encoded)
    expected = model_walk(KEYS, *query)
    got = walk(stocked.endpoint, stocked.keys("alice"), BUCKET, *query)
    assert got == expected
    if stocked.backend == "CephRGW" and not rgw_misreads(delimiter, start, expected):
        server = stocked.server
        credentials = (server.access_key, server.secret_key)
        direct = walk(server.endpoint, credentials, REFERENCE_BUCKET, *query, plain_markers=True)
        assert got == direct


KEY_ALPHABET = ["a", "b", "/", "//", "-", "0", ".", "~", "+", " ", "\u00e9", "\U0001f600", "ab"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    keys=st.lists(
        st.lists(st.sampled_from(KEY_ALPHABET), min_size=1, max_size=5).map("".join),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    query=st.tuples(
        st.sampled_from([1, 2]),
        st.sampled_from(["", "a", "/", "a/", "\u00e9"]),
        st.sampled_from([None, "/", "a", "ab"]),
        st.sampled_from([1, 2, 1000]),
    ),
)
def test_drawn_key_sets_list_as_s3(proxy: Proxy, keys: list[str], query: tuple[Any, ...]) -> None:
    """Small key sets drawn from pieces that straddle the mapping, each in a fresh bucket,
    listed page by page against the model (then removed)."""
    s3 = proxy.client("alice")
    bucket = "lstdiff-drawn"
    s3.create_bucket(Bucket=bucket)
    try:
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=b".")
        version, prefix, delimiter, max_keys = query
        for encoded in (False, True):
            shape = (version, prefix, delimiter, max_keys, None, encoded)
            expected = model_walk(sorted(keys), *shape)
            assert walk(proxy.endpoint, proxy.keys("alice"), bucket, *shape) == expected
    finally:
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)


UPLOAD_KEYS = [
    "m/a", "m/a", "m/b", "m/\u00e9", "m-x", "m/a/b", "m0", "n", "m//", "m/", "\U0001f600",
    "\u00e9", "a b", "a+b", "m/a", "s/\u00e9/x",
]  # fmt: skip
""""m/a" three times: paging must not lose or repeat an upload among several of one key."""


def uploads_model(uploads: list[tuple[str, str]], prefix: str, delimiter: str | None,
                  key_marker: str | None, id_marker: str | None,
                  max_uploads: int) -> tuple[list[tuple[str, str]], list[str], bool]:  # fmt: skip
    """ListMultipartUploads, one page: ``uploads`` in listing order (key bytes, then
    initiation); after ``key_marker`` — with ``id_marker``, the uploads of that key after
    that id too; otherwise rolled up and counted as :func:`model` does for keys."""
    ids_after: set[str] = set()
    if key_marker is not None and id_marker is not None:
        same = [upload_id for key, upload_id in uploads if key == key_marker]
        if id_marker in same:
            ids_after = set(same[same.index(id_marker) + 1 :])
    out: list[tuple[str, str]] = []
    prefixes: list[str] = []
    for key, upload_id in uploads:
        if not key.startswith(prefix):
            continue
        if key_marker is not None and key <= key_marker and upload_id not in ids_after:
            continue
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if (prefixes and prefixes[-1] == common) or (
                    key_marker is not None and common <= key_marker
                ):
                    continue
                if len(out) + len(prefixes) == max_uploads:
                    return out, prefixes, True
                prefixes.append(common)
                continue
        if len(out) + len(prefixes) == max_uploads:
            return out, prefixes, True
        out.append((key, upload_id))
    return out, prefixes, False


@pytest.fixture(scope="module")
def uploads(proxy: Proxy) -> Iterator[tuple[Proxy, list[tuple[str, str]]]]:
    """Open uploads in one bucket, in the proxy's whole-listing order: (key, upload id)."""
    s3 = proxy.client("alice")
    bucket = "lstdiff-mpu"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    created = [
        (key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]) for key in UPLOAD_KEYS
    ]
    whole = s3.list_multipart_uploads(Bucket=bucket)
    listed = [(upload["Key"], upload["UploadId"]) for upload in whole["Uploads"]]
    assert not whole["IsTruncated"] and sorted(listed) == sorted(created)
    assert [key for key, _ in listed] == sorted(UPLOAD_KEYS)
    # Paging must follow the whole listing; the order within a key is checked on its own
    # (test_uploads_of_one_key_are_in_initiation_order).
    yield proxy, listed
    for key, upload_id in created:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    prefix=st.sampled_from(["", "m", "m/", "m/a", "s/", "\u00e9", "a"]),
    delimiter=st.sampled_from([None, "/", "a", "/a"]),
    max_uploads=st.sampled_from([1, 2, 3, 1000]),
    key_marker=st.one_of(st.none(), st.sampled_from([*sorted(set(UPLOAD_KEYS)), "m", "m/a0"])),
    by_id=st.booleans(),
)
@example(prefix="", delimiter=None, max_uploads=1, key_marker=None, by_id=False)
@example(prefix="", delimiter="/", max_uploads=1, key_marker=None, by_id=False)
@example(prefix="m/", delimiter="/", max_uploads=2, key_marker="m/a", by_id=True)
def test_upload_listing_pages_are_s3s(
    uploads: tuple[Proxy, list[tuple[str, str]]],
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    key_marker: str | None,
    by_id: bool,
) -> None:
    """Every page of ListMultipartUploads — walked with NextKeyMarker / NextUploadIdMarker as
    SDK paginators do — against the model: no upload left out, none twice, page sizes."""
    proxy, ordered = uploads
    s3 = proxy.client("alice")
    id_marker = None
    if by_id and key_marker is not None:
        same = [upload_id for key, upload_id in ordered if key == key_marker]
        id_marker = same[0] if same else None
    params: dict[str, Any] = {"Bucket": "lstdiff-mpu", "Prefix": prefix, "MaxUploads": max_uploads}
    if delimiter:
        params["Delimiter"] = delimiter
    got: list[tuple[list[tuple[str, str]], list[str], bool]] = []
    expected: list[tuple[list[tuple[str, str]], list[str], bool]] = []
    for _ in range(100):
        params.pop("KeyMarker", None), params.pop("UploadIdMarker", None)
        if key_marker is not None:
            params["KeyMarker"] = key_marker
        if id_marker is not None:
            params["UploadIdMarker"] = id_marker
        page = s3.list_multipart_uploads(**params)
        listed = [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        got.append(
            (listed, [p["Prefix"] for p in page.get("CommonPrefixes", [])], page["IsTruncated"])
        )
        expected.append(
            uploads_model(ordered, prefix, delimiter, key_marker, id_marker, max_uploads)
        )
        if not page["IsTruncated"]:
            break
        key_marker = page.get("NextKeyMarker") or None
        id_marker = page.get("NextUploadIdMarker") or None
    assert got == expected


def test_uploads_of_one_key_are_in_initiation_order(
    uploads: tuple[Proxy, list[tuple[str, str]]],
) -> None:
    """AWS: uploads of one key are listed in ascending initiation time, whole and paged."""
    proxy, ordered = uploads
    s3 = proxy.client("alice")
    initiated = [upload_id for key, upload_id in ordered if key == "m/a"]
    for size in (1, 1000):
        pages = s3.get_paginator("list_multipart_uploads").paginate(
            Bucket="lstdiff-mpu", Prefix="m/a", PaginationConfig={"PageSize": size}
        )
        listed = [
            u["UploadId"] for page in pages for u in page.get("Uploads", []) if u["Key"] == "m/a"
        ]
        assert listed == initiated, size


@pytest.fixture(scope="module")
def parts(proxy: Proxy) -> Iterator[tuple[Proxy, str, list[int]]]:
    """An upload whose parts were sent out of order, with gaps."""
    s3 = proxy.client("alice")
    bucket = "lstdiff-mpu"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="parts/\u00e9")["UploadId"]
    numbers = [3, 1, 7, 2, 10, 5, 10000]
    for number in numbers:
        s3.upload_part(
            Bucket=bucket, Key="parts/\u00e9", UploadId=upload_id, PartNumber=number, Body=b"p"
        )
    yield proxy, upload_id, sorted(numbers)
    s3.abort_multipart_upload(Bucket=bucket, Key="parts/\u00e9", UploadId=upload_id)


@pytest.mark.parametrize("max_parts", [1, 2, 3, 1000])
@pytest.mark.parametrize("marker", [0, 1, 4, 10, 10000])
def test_part_listing_pages_are_s3s(
    parts: tuple[Proxy, str, list[int]], max_parts: int, marker: int
) -> None:
    """ListParts walked with NextPartNumberMarker: the parts after the marker in number
    order, max-parts a page, IsTruncated exactly when more follow."""
    proxy, upload_id, numbers = parts
    s3 = proxy.client("alice")
    ids = {"Bucket": "lstdiff-mpu", "Key": "parts/\u00e9", "UploadId": upload_id}
    rest = [n for n in numbers if n > marker]
    expected = [rest[i : i + max_parts] for i in range(0, len(rest), max_parts)] or [[]]
    got: list[list[int]] = []
    for _ in range(20):
        page = s3.list_parts(**ids, MaxParts=max_parts, PartNumberMarker=marker)
        got.append([part["PartNumber"] for part in page.get("Parts", [])])
        assert page["IsTruncated"] is (len(got) < len(expected)), got
        if not page["IsTruncated"]:
            break
        assert page["NextPartNumberMarker"] == got[-1][-1]
        marker = page["NextPartNumberMarker"]
    assert got == expected
