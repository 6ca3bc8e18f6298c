"""What ceph/s3-tests checks of ListObjects and ListObjectsV2 (s3tests_boto3/functional/
test_s3.py: test_bucket_list*, test_bucket_listv2*), restated in our own words, on every lane:
delimiters, prefixes, markers, continuation tokens, max-keys, encoding, owners. Each check
names the s3-tests functions it covers; helpers in tests/support/s3tests.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send, signed
from tests.support.s3tests import (
    LISTERS,
    NS,
    MakeBucket,
    bucket_factory,
    keys_of,
    prefixes_of,
    v1,
    v2,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


@pytest.fixture(params=["v1", "v2"])
def lister(request: pytest.FixtureRequest) -> Callable[..., dict[str, Any]]:
    return LISTERS[request.param]


class TestListing:
    def test_paged_by_max_keys(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_list_many, test_bucket_listv2_many, test_basic_key_count."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo", "bar", "baz"])
        first = v1(s3, bucket, MaxKeys=2)
        assert (keys_of(first), first["IsTruncated"]) == (["bar", "baz"], True)
        rest = v1(s3, bucket, Marker="baz", MaxKeys=2)
        assert (keys_of(rest), rest["IsTruncated"]) == (["foo"], False)
        first = v2(s3, bucket, MaxKeys=2)
        assert (keys_of(first), first["IsTruncated"], first["KeyCount"]) == (
            ["bar", "baz"],
            True,
            2,
        )
        rest = v2(s3, bucket, StartAfter="baz", MaxKeys=2)
        assert (keys_of(rest), rest["IsTruncated"]) == (["foo"], False)
        assert v2(s3, bucket)["KeyCount"] == 3

    def test_delimiter_basic(self, proxy: Proxy, make_bucket: MakeBucket, lister: Any) -> None:
        """test_bucket_list_delimiter_basic, test_bucket_listv2_delimiter_basic."""
        s3 = proxy.client("alice")
        bucket = make_bucket(["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"])
        page = lister(s3, bucket, Delimiter="/")
        assert page["Delimiter"] == "/"
        assert keys_of(page) == ["asdf"]
        assert prefixes_of(page) == ["foo/", "quux/"]
        if "KeyCount" in page or lister is v2:
            assert page["KeyCount"] == 3

    def test_url_encoding(self, proxy: Proxy, make_bucket: MakeBucket, lister: Any) -> None:
        """test_bucket_list_encoding_basic, test_bucket_listv2_encoding_basic: asked for by the
        client, keys and prefixes come back encoded (botocore leaves them so)."""
        s3 = proxy.client("alice")
        bucket = make_bucket(["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"])
        page = lister(s3, bucket, Delimiter="/", EncodingType="url")
        assert page["Delimiter"] == "/"
        assert keys_of(page) == ["asdf%2Bb"]
        assert prefixes_of(page) == ["foo%2B1/", "foo/", "quux%20ab/"]

    @pytest.mark.parametrize(
        "keys, top, under",
        [
            (["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"], "asdf", "boo"),
            (
                ["_obj1_", "_under1/bar", "_under1/baz/xyzzy", "_under2/thud", "_under2/bla"],
                "_obj1_",
                "_under1",
            ),
        ],
        ids=["plain", "underscore"],
    )
    def test_delimiter_paging_v1(
        self, proxy: Proxy, make_bucket: MakeBucket, keys: list[str], top: str, under: str
    ) -> None:
        """test_bucket_list_delimiter_prefix, test_bucket_list_delimiter_prefix_underscore:
        NextMarker names the last key or common prefix of a truncated page."""
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        second, third = sorted({key.split("/")[0] + "/" for key in keys if "/" in key})
        expected = [
            ("", 1, True, [top], [], top),
            (top, 1, True, [], [second], second),
            (second, 1, False, [], [third], None),
            ("", 2, True, [top], [second], second),
            (second, 2, False, [], [third], None),
        ]
        for marker, max_keys, truncated, want_keys, want_prefixes, next_marker in expected:
            page = v1(s3, bucket, Delimiter="/", Marker=marker, MaxKeys=max_keys, Prefix="")
            assert page["IsTruncated"] is truncated
            assert page.get("NextMarker") == next_marker
            assert (keys_of(page), prefixes_of(page)) == (want_keys, want_prefixes)
        prefix = under + "/"
        page = v1(s3, bucket, Delimiter="/", MaxKeys=1, Prefix=prefix)
        assert (keys_of(page), page["NextMarker"]) == ([prefix + "bar"], prefix + "bar")
        page = v1(s3, bucket, Delimiter="/", MaxKeys=1, Prefix=prefix, Marker=prefix + "bar")
        assert (prefixes_of(page), page["IsTruncated"]) == ([prefix + "baz/"], False)
        page = v1(s3, bucket, Delimiter="/", MaxKeys=2, Prefix=prefix)
        assert (keys_of(page), prefixes_of(page)) == ([prefix + "bar"], [prefix + "baz/"])

    @pytest.mark.parametrize(
        "keys",
        [
            ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"],
            ["_obj1_", "_under1/bar", "_under1/baz/xyzzy", "_under2/thud", "_under2/bla"],
        ],
        ids=["plain", "underscore"],
    )
    def test_delimiter_paging_v2(
        self, proxy: Proxy, make_bucket: MakeBucket, keys: list[str]
    ) -> None:
        """test_bucket_listv2_delimiter_prefix, test_bucket_listv2_delimiter_prefix_underscore:
        continuation tokens walk keys and common prefixes; the last page has none."""
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        top = keys[0]
        second, third = sorted({key.split("/")[0] + "/" for key in keys if "/" in key})
        for max_keys, pages in [
            (1, [([top], []), ([], [second]), ([], [third])]),
            (2, [([top], [second]), ([], [third])]),
        ]:
            token: str | None = None
            for number, (want_keys, want_prefixes) in enumerate(pages, 1):
                params: dict[str, Any] = {"Delimiter": "/", "MaxKeys": max_keys, "Prefix": ""}
                params.update({"ContinuationToken": token} if token else {"StartAfter": ""})
                page = v2(s3, bucket, **params)
                assert (keys_of(page), prefixes_of(page)) == (want_keys, want_prefixes)
                assert page["IsTruncated"] is (number < len(pages))
                token = page.get("NextContinuationToken")
            assert token is None
        prefix = second
        page = v2(s3, bucket, Delimiter="/", MaxKeys=1, Prefix=prefix)
        assert keys_of(page) == [prefix + "bar"]
        page = v2(
            s3,
            bucket,
            Delimiter="/",
            MaxKeys=1,
            Prefix=prefix,
            ContinuationToken=page["NextContinuationToken"],
        )
        assert (prefixes_of(page), page.get("NextContinuationToken")) == ([prefix + "baz/"], None)

    def test_key_ending_in_the_delimiter(
        self, proxy: Proxy, make_bucket: MakeBucket, lister: Any
    ) -> None:
        """test_bucket_list_delimiter_prefix_ends_with_delimiter (and the V2 one)."""
        s3, bucket = proxy.client("alice"), make_bucket(["asdf/"])
        page = lister(s3, bucket, Delimiter="/", Prefix="asdf/", MaxKeys=1000)
        assert (keys_of(page), prefixes_of(page), page["IsTruncated"]) == (["asdf/"], [], False)
        assert page.get("NextMarker") is None and page.get("NextContinuationToken") is None

    @pytest.mark.parametrize(
        "delimiter, keys, want_keys, want_prefixes",
        [
            ("a", ["bar", "baz", "cab", "foo"], ["foo"], ["ba", "ca"]),
            ("%", ["b%ar", "b%az", "c%ab", "foo"], ["foo"], ["b%", "c%"]),
            (" ", ["b ar", "b az", "c ab", "foo"], ["foo"], ["b ", "c "]),
            (".", ["b.ar", "b.az", "c.ab", "foo"], ["foo"], ["b.", "c."]),
            ("\n", ["bar", "baz", "cab", "foo"], ["bar", "baz", "cab", "foo"], []),
            ("/", ["bar", "baz", "cab", "foo"], ["bar", "baz", "cab", "foo"], []),
        ],
        ids=["alt", "percentage", "whitespace", "dot", "unreadable", "not_exist"],
    )
    def test_other_delimiters(
        self,
        proxy: Proxy,
        make_bucket: MakeBucket,
        lister: Any,
        delimiter: str,
        keys: list[str],
        want_keys: list[str],
        want_prefixes: list[str],
    ) -> None:
        """test_bucket_list[v2]_delimiter_alt, _percentage, _whitespace, _dot, _unreadable,
        _not_exist."""
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        page = lister(s3, bucket, Delimiter=delimiter)
        assert page["Delimiter"] == delimiter
        assert (keys_of(page), prefixes_of(page)) == (want_keys, want_prefixes)

    @pytest.mark.parametrize("delimiter", ["", None])
    def test_empty_or_no_delimiter(
        self, proxy: Proxy, make_bucket: MakeBucket, lister: Any, delimiter: str | None
    ) -> None:
        """test_bucket_list[v2]_delimiter_empty, _delimiter_none: no Delimiter in the answer."""
        keys = ["bar", "baz", "cab", "foo"]
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        page = lister(s3, bucket, **({} if delimiter is None else {"Delimiter": delimiter}))
        assert "Delimiter" not in page
        assert (keys_of(page), prefixes_of(page)) == (keys, [])

    def test_fetch_owner(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_listv2_fetchowner_notempty, _defaultempty, _empty; test_bucket_list_
        return_data (V1 always names the owner, the ACL's owner)."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo/bar", "foo/baz", "quux"])
        assert "Owner" in v2(s3, bucket, FetchOwner=True)["Contents"][0]
        assert "Owner" not in v2(s3, bucket)["Contents"][0]
        assert "Owner" not in v2(s3, bucket, FetchOwner=False)["Contents"][0]
        for item in v1(s3, bucket)["Contents"]:
            head = s3.head_object(Bucket=bucket, Key=item["Key"])
            acl = s3.get_object_acl(Bucket=bucket, Key=item["Key"])
            assert item["Owner"]["ID"] == acl["Owner"]["ID"]
            assert item["Owner"]["DisplayName"] == acl["Owner"]["DisplayName"]
            assert (item["ETag"], item["Size"]) == (head["ETag"], head["ContentLength"])
            assert item["LastModified"].replace(microsecond=0) == head["LastModified"]

    def test_delimiter_after_a_thousand_keys(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_list_delimiter_not_skip_special: a common prefix that covers a full page
        of keys does not hide the keys after it."""
        tail = ["1999", "1999#", "1999+", "2000"]
        keys = ["0/"] + [f"0/{n}" for n in range(1000, 1999)] + tail
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        page = v1(s3, bucket, Delimiter="/")
        assert (keys_of(page), prefixes_of(page)) == (tail, ["0/"])

    @pytest.mark.parametrize(
        "prefix, want",
        [
            ("foo/", ["foo/bar", "foo/baz"]),
            ("", ["foo/bar", "foo/baz", "quux"]),
            ("d", []),
            ("\n", []),
        ],
        ids=["basic", "empty", "not_exist", "unreadable"],
    )
    def test_prefix(
        self, proxy: Proxy, make_bucket: MakeBucket, lister: Any, prefix: str, want: list[str]
    ) -> None:
        """test_bucket_list[v2]_prefix_basic, _empty, _none, _not_exist, _unreadable."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo/bar", "foo/baz", "quux"])
        page = lister(s3, bucket, Prefix=prefix)
        assert page["Prefix"] == prefix
        assert (keys_of(page), prefixes_of(page)) == (want, [])

    def test_prefix_without_delimiter(
        self, proxy: Proxy, make_bucket: MakeBucket, lister: Any
    ) -> None:
        """test_bucket_list[v2]_prefix_alt."""
        s3, bucket = proxy.client("alice"), make_bucket(["bar", "baz", "foo"])
        page = lister(s3, bucket, Prefix="ba")
        assert (page["Prefix"], keys_of(page), prefixes_of(page)) == ("ba", ["bar", "baz"], [])

    @pytest.mark.parametrize(
        "keys, prefix, delimiter, want_keys, want_prefixes",
        [
            (
                ["foo/bar", "foo/baz/xyzzy", "quux/thud", "asdf"],
                "foo/", "/", ["foo/bar"], ["foo/baz/"],
            ),
            (["bar", "bazar", "cab", "foo"], "ba", "a", ["bar"], ["baza"]),
            (["b/a/r", "b/a/c", "b/a/g", "g"], "/", "d", [], []),
            (["b/a/c", "b/a/g", "b/a/r", "g"], "b", "z", ["b/a/c", "b/a/g", "b/a/r"], []),
            (["b/a/c", "b/a/g", "b/a/r", "g"], "y", "z", [], []),
        ],
        ids=["basic", "alt", "prefix_not_exist", "delimiter_not_exist", "both_not_exist"],
    )  # fmt: skip
    def test_prefix_and_delimiter(
        self,
        proxy: Proxy,
        make_bucket: MakeBucket,
        lister: Any,
        keys: list[str],
        prefix: str,
        delimiter: str,
        want_keys: list[str],
        want_prefixes: list[str],
    ) -> None:
        """test_bucket_list[v2]_prefix_delimiter_basic, _alt, _prefix_not_exist,
        _delimiter_not_exist, _prefix_delimiter_not_exist."""
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        page = lister(s3, bucket, Prefix=prefix, Delimiter=delimiter)
        assert (page["Prefix"], page["Delimiter"]) == (prefix, delimiter)
        assert (keys_of(page), prefixes_of(page)) == (want_keys, want_prefixes)

    def test_max_keys(self, proxy: Proxy, make_bucket: MakeBucket, lister: Any) -> None:
        """test_bucket_list[v2]_maxkeys_one, _maxkeys_zero, _maxkeys_none."""
        keys = ["bar", "baz", "foo", "quxx"]
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        page = lister(s3, bucket, MaxKeys=1)
        assert (keys_of(page), page["IsTruncated"]) == (keys[:1], True)
        after = {"Marker": keys[0]} if lister is v1 else {"StartAfter": keys[0]}
        page = lister(s3, bucket, **after)
        assert (keys_of(page), page["IsTruncated"]) == (keys[1:], False)
        page = lister(s3, bucket, MaxKeys=0)
        assert (keys_of(page), page["IsTruncated"]) == ([], False)
        page = lister(s3, bucket)
        assert (keys_of(page), page["IsTruncated"], page["MaxKeys"]) == (keys, False, 1000)

    def test_max_keys_not_a_number(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_list_maxkeys_invalid."""
        ak, sk = proxy.keys("alice")
        bucket = make_bucket(["bar"])
        response = signed("GET", object_url(proxy.endpoint, bucket, query="max-keys=blah"), ak, sk)
        assert (response.status, response.error_code) == (400, "InvalidArgument")

    def test_markers(self, proxy: Proxy, make_bucket: MakeBucket, lister: Any) -> None:
        """test_bucket_list_marker_none, _marker_empty, _marker_unreadable, _marker_not_in_list,
        _marker_after_list and the V2 start-after ones: the marker is echoed as sent."""
        keys = ["bar", "baz", "foo", "quxx"]
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        echo = "Marker" if lister is v1 else "StartAfter"
        if lister is v1:
            assert v1(s3, bucket)["Marker"] == ""
            page = v1(s3, bucket, Marker="")
            assert (page["Marker"], page["IsTruncated"], keys_of(page)) == ("", False, keys)
        for marker, want in [("\n", keys), ("blah", ["foo", "quxx"]), ("zzz", [])]:
            page = lister(s3, bucket, **{echo: marker})
            assert (page[echo], page["IsTruncated"], keys_of(page)) == (marker, False, want)

    def test_continuation_tokens(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_listv2_continuationtoken, _both_continuationtoken_startafter,
        _continuationtoken_empty: the token sent is echoed, and wins over StartAfter."""
        keys = ["bar", "baz", "foo", "quxx"]
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        token = v2(s3, bucket, MaxKeys=1)["NextContinuationToken"]
        page = v2(s3, bucket, ContinuationToken=token)
        assert (page["ContinuationToken"], page["IsTruncated"], keys_of(page)) == (
            token,
            False,
            keys[1:],
        )
        token = v2(s3, bucket, StartAfter="bar", MaxKeys=1)["NextContinuationToken"]
        page = v2(s3, bucket, StartAfter="bar", ContinuationToken=token)
        assert (page["ContinuationToken"], page["StartAfter"], keys_of(page)) == (
            token,
            "bar",
            ["foo", "quxx"],
        )
        page = v2(s3, bucket, ContinuationToken="")
        assert (page["ContinuationToken"], page["IsTruncated"], keys_of(page)) == ("", False, keys)

    def test_unordered_listing(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_list_unordered, test_bucket_listv2_unordered (RGW's ``allow-unordered``,
        marked fails_on_aws): served in order, which is one order allowed; pages do not
        overlap; with a delimiter 400 InvalidArgument, as RGW answers."""
        ak, sk = proxy.keys("alice")
        keys = ["ado", "abc/ink", "abc/jet", "bot", "def/nim", "zoo"]
        bucket = make_bucket(keys)
        for listing in ("", "list-type=2&"):
            query = f"{listing}allow-unordered=true"
            url = object_url(proxy.endpoint, bucket, query=query + "&max-keys=1000")
            page = ET.fromstring(signed("GET", url, ak, sk).body)
            assert sorted(element.text or "" for element in page.iter(f"{NS}Key")) == sorted(keys)
            url = object_url(proxy.endpoint, bucket, query=query + "&prefix=abc%2F")
            assert len(list(ET.fromstring(signed("GET", url, ak, sk).body).iter(f"{NS}Key"))) == 2
            url = object_url(proxy.endpoint, bucket, query=query + "&delimiter=%2F")
            response = signed("GET", url, ak, sk)
            assert (response.status, response.error_code) == (400, "InvalidArgument")

    def test_anonymous_listing(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_list[v2]_objects_anonymous, test_bucket_list[v2]_objects_anonymous_fail."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo"])
        for query in ("", "list-type=2"):
            response = send(
                "GET", object_url(proxy.endpoint, bucket, query=query), {"Host": proxy.host}
            )
            assert (response.status, response.error_code) == (403, "AccessDenied")
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
        for query in ("", "list-type=2"):
            response = send(
                "GET", object_url(proxy.endpoint, bucket, query=query), {"Host": proxy.host}
            )
            assert response.status == 200, response.body
            assert b"<Key>foo</Key>" in response.body
