"""The behaviours ceph/s3-tests checks for objects, ranges, conditionals, copies and deletes
(s3tests_boto3/functional/test_s3.py), restated in our own words, on every lane; listings are
in test_s3tests_listing.py, racing writes and anonymous/presigned access in
test_s3tests_access.py, helpers in tests/support/s3tests.py.

The independent conformance run most likely to judge the proxy is s3-tests. Each check here
names, in its docstring, the s3-tests functions whose behaviour it covers, so that a failure
there maps to a test here. Where the proxy refuses a behaviour, the check asserts the exact
refusal. Buckets are fresh per test, as s3-tests makes them; each test cleans up after itself.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send, signed
from tests.support.s3tests import (
    LISTERS,
    MakeBucket,
    body_of,
    bucket_factory,
    failure,
    keys_of,
    v2,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


@pytest.fixture(params=["v1", "v2"])
def lister(request: pytest.FixtureRequest) -> Callable[..., dict[str, Any]]:
    return LISTERS[request.param]


class TestObjectBasics:
    def test_write_read_overwrite_delete(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_write_read_update_read_delete, test_object_write_file,
        test_object_write_check_etag, test_object_head_zero_bytes, test_object_read_not_exist."""
        s3, bucket = proxy.client("alice"), make_bucket()
        put = s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")
        assert put["ETag"] == f'"{hashlib.md5(b"bar").hexdigest()}"'
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"
        s3.put_object(Bucket=bucket, Key="foo", Body=b"soup")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"soup"
        s3.put_object(Bucket=bucket, Key="zero", Body=b"")
        assert s3.head_object(Bucket=bucket, Key="zero")["ContentLength"] == 0
        s3.delete_object(Bucket=bucket, Key="foo")
        with pytest.raises(ClientError) as missing:
            s3.get_object(Bucket=bucket, Key="foo")
        assert failure(missing) == (404, "NoSuchKey")

    def test_cache_control_and_expires_round_trip(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_object_write_cache_control, test_object_write_expires."""
        s3, bucket = proxy.client("alice"), make_bucket()
        expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        expires += datetime.timedelta(seconds=6000)
        s3.put_object(
            Bucket=bucket,
            Key="foo",
            Body=b"bar",
            CacheControl="public, max-age=14400",
            Expires=expires,
        )
        head = s3.head_object(Bucket=bucket, Key="foo")
        assert head["ResponseMetadata"]["HTTPHeaders"]["cache-control"] == "public, max-age=14400"
        assert head["Expires"] == expires

    @pytest.mark.parametrize("first", [None, "oldmeta"])
    @pytest.mark.parametrize("value", ["mymeta", ""])
    def test_metadata_values(
        self, proxy: Proxy, make_bucket: MakeBucket, first: str | None, value: str
    ) -> None:
        """test_object_set_get_metadata_none_to_good, _none_to_empty, _overwrite_to_empty."""
        s3, bucket = proxy.client("alice"), make_bucket()
        if first is not None:
            s3.put_object(Bucket=bucket, Key="foo", Body=b"bar", Metadata={"meta1": first})
        s3.put_object(Bucket=bucket, Key="foo", Body=b"bar", Metadata={"meta1": value})
        assert s3.get_object(Bucket=bucket, Key="foo")["Metadata"] == {"meta1": value}

    def test_a_new_put_replaces_all_metadata(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_metadata_replaced_on_put."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="foo", Body=b"bar", Metadata={"meta1": "bar"})
        s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")
        assert s3.get_object(Bucket=bucket, Key="foo")["Metadata"] == {}

    @pytest.mark.parametrize("value", ["\x04mymeta", "\x04w", "h\x04", "h\x04w"])
    def test_control_characters_in_metadata_are_refused(
        self, proxy: Proxy, make_bucket: MakeBucket, value: str
    ) -> None:
        """test_object_set_get_non_utf8_metadata, test_object_set_get_metadata_empty_to_
        unreadable_prefix / _suffix / _infix: a 400, and nothing stored."""
        s3, bucket = proxy.client("alice"), make_bucket()
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=bucket, Key="bar", Body=b"x", Metadata={"meta1": value})
        assert failure(refused)[0] == 400
        assert keys_of(v2(s3, bucket)) == []

    def test_response_header_overrides(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_raw_response_headers."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo"])
        got = s3.get_object(
            Bucket=bucket,
            Key="foo",
            ResponseCacheControl="no-cache",
            ResponseContentDisposition="bla",
            ResponseContentEncoding="aaa",
            ResponseContentLanguage="esperanto",
            ResponseContentType="foo/bar",
            ResponseExpires="123",
        )
        headers = got["ResponseMetadata"]["HTTPHeaders"]
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert headers["content-type"] == "foo/bar"
        assert headers["content-disposition"] == "bla"
        assert headers["content-language"] == "esperanto"
        assert headers["content-encoding"] == "aaa"
        assert headers["cache-control"] == "no-cache"

    def test_missing_bucket_answers(self, proxy: Proxy) -> None:
        """test_object_write_to_nonexist_bucket, test_bucket_notexist, test_bucketv2_notexist,
        test_bucket_delete_notexist, test_bucket_head_notexist, test_object_raw_authenticated_
        bucket_gone, test_object_delete_key_bucket_gone (signed)."""
        s3, name = proxy.client("alice"), f"s3t-gone-{os.urandom(4).hex()}"
        calls: list[Callable[[], Any]] = [
            lambda: s3.put_object(Bucket=name, Key="foo", Body=b"foo"),
            lambda: s3.get_object(Bucket=name, Key="foo"),
            lambda: s3.delete_object(Bucket=name, Key="foo"),
            lambda: s3.list_objects(Bucket=name),
            lambda: s3.list_objects_v2(Bucket=name),
            lambda: s3.delete_bucket(Bucket=name),
        ]
        for call in calls:
            with pytest.raises(ClientError) as gone:
                call()
            assert failure(gone) == (404, "NoSuchBucket")
        with pytest.raises(ClientError) as head:
            s3.head_bucket(Bucket=name)
        assert failure(head)[0] == 404

    def test_error_body_request_id_is_the_header_one(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_object_requestid_matches_header_on_error."""
        ak, sk = proxy.keys("alice")
        bucket = make_bucket()
        response = signed("GET", object_url(proxy.endpoint, bucket, "bar"), ak, sk)
        assert (response.status, response.error_code) == (404, "NoSuchKey")
        request_id = ET.fromstring(response.body).findtext("RequestId")
        assert request_id and request_id == response.header("x-amz-request-id")

    def test_bucket_with_objects_is_not_deleted(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_bucket_delete_nonempty, test_bucket_create_delete."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo"])
        with pytest.raises(ClientError) as busy:
            s3.delete_bucket(Bucket=bucket)
        assert failure(busy) == (409, "BucketNotEmpty")
        assert keys_of(v2(s3, bucket)) == ["foo"]

    def test_special_key_names(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_bucket_create_special_key_names, test_bucket_list_special_prefix."""
        names = [" ", '"', "$", "%", "&", "'", "<", ">", "_", "_ ", "_ _", "__"]
        s3, bucket = proxy.client("alice"), make_bucket(names)
        assert keys_of(v2(s3, bucket)) == sorted(names)
        for name in names:
            assert body_of(s3.get_object(Bucket=bucket, Key=name)) == name.encode()
            s3.put_object_acl(Bucket=bucket, Key=name, ACL="private")
        bucket2 = make_bucket(["_bla/1", "_bla/2", "_bla/3", "_bla/4", "abcd"])
        assert len(keys_of(v2(s3, bucket2))) == 5
        assert len(keys_of(v2(s3, bucket2, Prefix="_bla/"))) == 4


class TestDeleteObjects:
    def test_delete_many_twice(self, proxy: Proxy, make_bucket: MakeBucket, lister: Any) -> None:
        """test_multi_object_delete, test_multi_objectv2_delete: deleting what is already gone
        reports it deleted again."""
        keys = ["key0", "key1", "key2"]
        s3, bucket = proxy.client("alice"), make_bucket(keys)
        assert len(lister(s3, bucket)["Contents"]) == 3
        for _ in range(2):
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]}
            )
            assert sorted(item["Key"] for item in answer["Deleted"]) == keys
            assert "Errors" not in answer
            assert "Contents" not in lister(s3, bucket)

    def test_more_than_a_thousand_keys_is_refused(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_multi_object_delete_key_limit, test_multi_objectv2_delete_key_limit: 400 and
        nothing deleted."""
        kept = ["key-0", "key-500", "key-1000"]
        s3, bucket = proxy.client("alice"), make_bucket(kept)
        objects = [{"Key": f"key-{n}"} for n in range(1001)]
        with pytest.raises(ClientError) as refused:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        assert failure(refused) == (400, "MalformedXML")
        assert keys_of(v2(s3, bucket)) == sorted(kept)

    def test_quiet_mode_lists_only_errors(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        s3, bucket = proxy.client("alice"), make_bucket(["a", "b"])
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}
        )
        assert "Deleted" not in answer and "Errors" not in answer
        assert keys_of(v2(s3, bucket)) == []


CONTENT = b"testcontent"


class TestRanges:
    @pytest.mark.parametrize(
        "header, first, last",
        [("bytes=4-7", 4, 7), ("bytes=4-", 4, 10), ("bytes=-7", 4, 10)],
        ids=["closed", "skip_leading", "trailing"],
    )
    def test_ranges(
        self, proxy: Proxy, make_bucket: MakeBucket, header: str, first: int, last: int
    ) -> None:
        """test_ranged_request_response_code, _skip_leading_bytes_response_code,
        _return_trailing_bytes_response_code."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=CONTENT)
        got = s3.get_object(Bucket=bucket, Key="testobj", Range=header)
        assert body_of(got) == CONTENT[first : last + 1]
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == f"bytes {first}-{last}/{len(CONTENT)}"

    def test_big_range(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_ranged_big_request_response_code."""
        content = os.urandom(8 * 1024 * 1024)
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=content)
        got = s3.get_object(Bucket=bucket, Key="testobj", Range="bytes=3145728-5242880")
        assert body_of(got) == content[3145728:5242881]
        assert got["ContentRange"] == "bytes 3145728-5242880/8388608"
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206

    @pytest.mark.parametrize("content", [CONTENT, b""], ids=["past_end", "empty_object"])
    def test_unsatisfiable(self, proxy: Proxy, make_bucket: MakeBucket, content: bytes) -> None:
        """test_ranged_request_invalid_range, test_ranged_request_empty_object."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=content)
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=bucket, Key="testobj", Range="bytes=40-50")
        assert failure(refused) == (416, "InvalidRange")


class TestConditionalGet:
    @pytest.fixture()
    def stored(self, proxy: Proxy, make_bucket: MakeBucket) -> tuple[str, dict[str, Any]]:
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")
        return bucket, dict(s3.head_object(Bucket=bucket, Key="foo"))

    def test_if_match(self, proxy: Proxy, stored: tuple[str, dict[str, Any]]) -> None:
        """test_get_object_ifmatch_good, test_get_object_ifmatch_failed."""
        (bucket, head), s3 = stored, proxy.client("alice")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo", IfMatch=head["ETag"])) == b"bar"
        with pytest.raises(ClientError) as failed:
            s3.get_object(Bucket=bucket, Key="foo", IfMatch='"ABCORZ"')
        assert failure(failed) == (412, "PreconditionFailed")

    def test_if_none_match(self, proxy: Proxy, stored: tuple[str, dict[str, Any]]) -> None:
        """test_get_object_ifnonematch_good, test_get_object_ifnonematch_failed."""
        (bucket, head), s3 = stored, proxy.client("alice")
        with pytest.raises(ClientError) as unchanged:
            s3.get_object(Bucket=bucket, Key="foo", IfNoneMatch=head["ETag"])
        assert failure(unchanged)[0] == 304
        assert unchanged.value.response["Error"]["Message"] == "Not Modified"
        assert body_of(s3.get_object(Bucket=bucket, Key="foo", IfNoneMatch="ABCORZ")) == b"bar"

    def test_modified_since(self, proxy: Proxy, stored: tuple[str, dict[str, Any]]) -> None:
        """test_get_object_ifmodifiedsince_good, _failed (at the object's own time: not
        modified since then, without waiting a second)."""
        (bucket, head), s3 = stored, proxy.client("alice")
        old = "Sat, 29 Oct 1994 19:43:31 GMT"
        assert body_of(s3.get_object(Bucket=bucket, Key="foo", IfModifiedSince=old)) == b"bar"
        at = format_datetime(head["LastModified"].astimezone(datetime.UTC), usegmt=True)
        with pytest.raises(ClientError) as unchanged:
            s3.get_object(Bucket=bucket, Key="foo", IfModifiedSince=at)
        assert failure(unchanged)[0] == 304
        assert unchanged.value.response["Error"]["Message"] == "Not Modified"

    def test_unmodified_since(self, proxy: Proxy, stored: tuple[str, dict[str, Any]]) -> None:
        """test_get_object_ifunmodifiedsince_good, _failed."""
        (bucket, _), s3 = stored, proxy.client("alice")
        with pytest.raises(ClientError) as failed:
            s3.get_object(
                Bucket=bucket, Key="foo", IfUnmodifiedSince="Sat, 29 Oct 1994 19:43:31 GMT"
            )
        assert failure(failed) == (412, "PreconditionFailed")
        later = "Sat, 29 Oct 2100 19:43:31 GMT"
        assert body_of(s3.get_object(Bucket=bucket, Key="foo", IfUnmodifiedSince=later)) == b"bar"


def put_with(s3: Any, bucket: str, key: str, body: bytes, headers: dict[str, str]) -> Any:
    """A PutObject with raw conditional headers, as s3-tests adds them (botocore's own
    IfMatch parameter would quote nothing and name no ``*``)."""

    def add(params: dict[str, Any], **_: Any) -> None:
        params["headers"].update(headers)

    s3.meta.events.register_first("before-call.s3.PutObject", add)
    try:
        return s3.put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", add)


class TestConditionalPut:
    def test_if_none_match_star(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_put_object_ifnonmatch_nonexisted_good, _overwrite_existed_failed."""
        s3, bucket = proxy.client("alice"), make_bucket()
        put_with(s3, bucket, "foo", b"bar", {"If-None-Match": "*"})
        with pytest.raises(ClientError) as failed:
            put_with(s3, bucket, "foo", b"zar", {"If-None-Match": "*"})
        assert failure(failed) == (412, "PreconditionFailed")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"

    def test_if_match(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_put_object_ifmatch_good, test_put_object_ifmatch_failed (AWS has taken
        If-Match on PUT since 2024)."""
        s3, bucket = proxy.client("alice"), make_bucket()
        etag = s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")["ETag"]
        with pytest.raises(ClientError) as failed:
            put_with(s3, bucket, "foo", b"zar", {"If-Match": '"ABCORZ"'})
        assert failure(failed) == (412, "PreconditionFailed")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"
        put_with(s3, bucket, "foo", b"zar", {"If-Match": etag})
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"zar"

    def test_if_none_match_with_an_etag_is_refused(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_put_object_ifnonmatch_good, _ifnonmatch_failed (fails_on_aws: RGW takes an
        ETag there). S3 takes If-None-Match only as ``*`` on a write and answers any other
        value 501 NotImplemented; the proxy did 200 and overwrote the object even when its
        ETag was the one named. Nothing is written; the same for CompleteMultipartUpload."""
        s3, bucket = proxy.client("alice"), make_bucket()
        etag = s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")["ETag"]
        for value in (etag.strip('"'), etag, "ABCORZ"):
            with pytest.raises(ClientError) as refused:
                put_with(s3, bucket, "foo", b"zar", {"If-None-Match": value})
            assert failure(refused) == (501, "NotImplemented")
            assert refused.value.response["Error"]["Header"] == "If-None-Match"
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"
        upload = s3.create_multipart_upload(Bucket=bucket, Key="foo")["UploadId"]
        part = s3.upload_part(Bucket=bucket, Key="foo", UploadId=upload, PartNumber=1, Body=b"mp")
        parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}

        def add(params: dict[str, Any], **_: Any) -> None:
            params["headers"]["If-None-Match"] = etag

        s3.meta.events.register_first("before-call.s3.CompleteMultipartUpload", add)
        try:
            with pytest.raises(ClientError) as refused:
                s3.complete_multipart_upload(
                    Bucket=bucket, Key="foo", UploadId=upload, MultipartUpload=parts
                )
        finally:
            s3.meta.events.unregister("before-call.s3.CompleteMultipartUpload", add)
        assert failure(refused) == (501, "NotImplemented")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"
        s3.abort_multipart_upload(Bucket=bucket, Key="foo", UploadId=upload)
        # CopyObject's destination takes the same conditions (the copy-source ones are reads).
        s3.put_object(Bucket=bucket, Key="source", Body=b"copied")

        def add_to_copy(params: dict[str, Any], **_: Any) -> None:
            params["headers"]["If-None-Match"] = etag

        s3.meta.events.register_first("before-call.s3.CopyObject", add_to_copy)
        try:
            with pytest.raises(ClientError) as refused:
                s3.copy_object(Bucket=bucket, Key="foo", CopySource=f"{bucket}/source")
        finally:
            s3.meta.events.unregister("before-call.s3.CopyObject", add_to_copy)
        assert failure(refused) == (501, "NotImplemented")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"


class TestCopyObject:
    def test_copies(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_zero_size, _same_bucket, _diff_bucket, _verify_contenttype,
        test_object_copy_versioned_url_encoding (its key names, without versioning)."""
        s3, source, target = proxy.client("alice"), make_bucket(), make_bucket()
        s3.put_object(Bucket=source, Key="empty", Body=b"")
        s3.put_object(Bucket=source, Key="foo123bar", Body=b"foo", ContentType="text/bla")
        s3.put_object(Bucket=source, Key="foo?bar", Body=b"q")
        s3.copy({"Bucket": source, "Key": "empty"}, source, "bar321foo0")
        assert s3.get_object(Bucket=source, Key="bar321foo0")["ContentLength"] == 0
        for bucket in (source, target):
            s3.copy({"Bucket": source, "Key": "foo123bar"}, bucket, "bar321foo")
            got = s3.get_object(Bucket=bucket, Key="bar321foo")
            assert (body_of(got), got["ContentType"]) == (b"foo", "text/bla")
        s3.copy_object(
            Bucket=source, Key="bar&foo", CopySource={"Bucket": source, "Key": "foo?bar"}
        )
        assert body_of(s3.get_object(Bucket=source, Key="bar&foo")) == b"q"

    def test_copy_of_16_mib(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_16m (newer s3-tests): one CopyObject, byte for byte."""
        s3, bucket = proxy.client("alice"), make_bucket()
        content = os.urandom(16 * 1024 * 1024)
        s3.put_object(Bucket=bucket, Key="obj1", Body=content)
        s3.copy_object(Bucket=bucket, Key="obj2", CopySource={"Bucket": bucket, "Key": "obj1"})
        got = s3.get_object(Bucket=bucket, Key="obj2")
        assert got["ContentLength"] == len(content) and body_of(got) == content

    def test_copy_onto_itself(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_to_itself (400 InvalidRequest), test_object_copy_to_itself_with_
        metadata (allowed with REPLACE)."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="foo123bar", Body=b"foo")
        source = {"Bucket": bucket, "Key": "foo123bar"}
        with pytest.raises(ClientError) as refused:
            s3.copy_object(Bucket=bucket, Key="foo123bar", CopySource=source)
        assert failure(refused) == (400, "InvalidRequest")
        s3.copy_object(
            Bucket=bucket,
            Key="foo123bar",
            CopySource=source,
            Metadata={"foo": "bar"},
            MetadataDirective="REPLACE",
        )
        got = s3.get_object(Bucket=bucket, Key="foo123bar")
        assert (got["Metadata"], body_of(got)) == ({"foo": "bar"}, b"foo")

    @pytest.mark.parametrize("size", [3, 1024 * 1024])
    def test_metadata_kept_or_replaced(
        self, proxy: Proxy, make_bucket: MakeBucket, size: int
    ) -> None:
        """test_object_copy_retaining_metadata, test_object_copy_replacing_metadata."""
        s3, bucket = proxy.client("alice"), make_bucket()
        metadata = {"key1": "value1", "key2": "value2"}
        s3.put_object(
            Bucket=bucket, Key="src", Body=bytes(size), Metadata=metadata, ContentType="audio/ogg"
        )
        source = {"Bucket": bucket, "Key": "src"}
        s3.copy_object(Bucket=bucket, Key="kept", CopySource=source)
        got = s3.get_object(Bucket=bucket, Key="kept")
        assert (got["ContentType"], got["Metadata"], got["ContentLength"]) == (
            "audio/ogg",
            metadata,
            size,
        )
        replaced = {"key3": "value3", "key2": "value2"}
        s3.copy_object(
            Bucket=bucket,
            Key="replaced",
            CopySource=source,
            Metadata=replaced,
            MetadataDirective="REPLACE",
            ContentType="audio/mpeg",
        )
        got = s3.get_object(Bucket=bucket, Key="replaced")
        assert (got["ContentType"], got["Metadata"], got["ContentLength"]) == (
            "audio/mpeg",
            replaced,
            size,
        )

    def test_missing_source(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_bucket_not_found, test_object_copy_key_not_found."""
        s3, bucket = proxy.client("alice"), make_bucket()
        for source in (
            {"Bucket": bucket + "-fake", "Key": "foo123bar"},
            {"Bucket": bucket, "Key": "foo123bar"},
        ):
            with pytest.raises(ClientError) as missing:
                s3.copy_object(Bucket=bucket, Key="bar321foo", CopySource=source)
            assert failure(missing)[0] == 404
        assert keys_of(v2(s3, bucket)) == []

    def test_source_of_another_tenant(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_not_owned_bucket expects 403. Bucket names are per tenant here
        (README "Whose bucket"): another tenant's bucket is one bob does not have, 404
        NoSuchBucket, so that bob learns nothing about it. Nothing is stored."""
        bucket = make_bucket(["foo123bar"])
        bob = proxy.client("bob")
        with pytest.raises(ClientError) as refused:
            bob.copy_object(
                Bucket="shared", Key="bar321foo", CopySource={"Bucket": bucket, "Key": "foo123bar"}
            )
        assert failure(refused) == (404, "NoSuchBucket")
        assert "bar321foo" not in keys_of(v2(bob, "shared", Prefix="bar321foo"))

    def test_canned_acl_on_copy(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_copy_canned_acl: the copy is readable by others (here: anonymously)."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo123bar"])
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
        s3.copy_object(
            Bucket=bucket,
            Key="bar321foo",
            CopySource={"Bucket": bucket, "Key": "foo123bar"},
            ACL="public-read",
        )
        anonymous = send(
            "GET", object_url(proxy.endpoint, bucket, "bar321foo"), {"Host": proxy.host}
        )
        assert (anonymous.status, anonymous.body) == (200, b"foo123bar")
        s3.copy_object(
            Bucket=bucket,
            Key="foo123bar",
            CopySource={"Bucket": bucket, "Key": "bar321foo"},
            ACL="public-read",
            Metadata={"abc": "def"},
            MetadataDirective="REPLACE",
        )
        anonymous = send(
            "GET", object_url(proxy.endpoint, bucket, "foo123bar"), {"Host": proxy.host}
        )
        assert anonymous.status == 200

    def test_copy_source_conditions(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_copy_object_ifmatch_good, _ifmatch_failed, _ifnonematch_good,
        _ifnonematch_failed."""
        s3, bucket = proxy.client("alice"), make_bucket()
        etag = s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")["ETag"]
        source = f"{bucket}/foo"
        s3.copy_object(Bucket=bucket, Key="bar", CopySource=source, CopySourceIfMatch=etag)
        assert body_of(s3.get_object(Bucket=bucket, Key="bar")) == b"bar"
        s3.copy_object(Bucket=bucket, Key="bar2", CopySource=source, CopySourceIfNoneMatch="ABCORZ")
        assert body_of(s3.get_object(Bucket=bucket, Key="bar2")) == b"bar"
        for condition in ({"CopySourceIfMatch": "ABCORZ"}, {"CopySourceIfNoneMatch": etag}):
            with pytest.raises(ClientError) as failed:
                s3.copy_object(Bucket=bucket, Key="bar3", CopySource=source, **condition)
            assert failure(failed) == (412, "PreconditionFailed")
        assert keys_of(v2(s3, bucket)) == ["bar", "bar2", "foo"]
