import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import (
    PARAMETERS,
    REFUSALS,
    RULES,
    SUBRESOURCES,
    Operation,
    refusal,
    resolve,
)
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

scope = http_scope


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("GET", "/", "", {}, Operation.ListBuckets),
        ("PUT", "/bkt", "", {}, Operation.CreateBucket),
        ("PUT", "/bkt/", "", {}, Operation.CreateBucket),
        ("HEAD", "/bkt", "", {}, Operation.HeadBucket),
        ("DELETE", "/bkt/", "", {}, Operation.DeleteBucket),
        ("GET", "/bkt", "location", {}, Operation.GetBucketLocation),
        ("GET", "/bkt", "versioning", {}, Operation.GetBucketVersioning),
        ("GET", "/bkt", "list-type=2&encoding-type=url", {}, Operation.ListObjectsV2),
        ("GET", "/bkt/", "delimiter=%2F", {}, Operation.ListObjects),
        ("GET", "/bkt", "uploads", {}, Operation.ListMultipartUploads),
        ("POST", "/bkt", "delete", {}, Operation.DeleteObjects),
        ("PUT", "/bkt/k", "", {}, Operation.PutObject),
        ("PUT", "/bkt/k", "x-id=PutObject", {}, Operation.PutObject),
        ("PUT", "/bkt/k", "", {"x-amz-copy-source": "/a/b"}, Operation.CopyObject),
        ("GET", "/bkt/k", "", {}, Operation.GetObject),
        ("GET", "/bkt/k", "response-content-type=x", {}, Operation.GetObject),
        ("HEAD", "/bkt/k", "", {}, Operation.HeadObject),
        ("DELETE", "/bkt/k", "", {}, Operation.DeleteObject),
        ("POST", "/bkt/k", "uploads", {}, Operation.CreateMultipartUpload),
        ("POST", "/bkt/k", "uploads=", {}, Operation.CreateMultipartUpload),
        ("PUT", "/bkt/k", "partNumber=1&uploadId=u", {}, Operation.UploadPart),
        (
            "PUT",
            "/bkt/k",
            "partNumber=1&uploadId=u",
            {"x-amz-copy-source": "/a/b"},
            Operation.UploadPartCopy,
        ),
        ("POST", "/bkt/k", "uploadId=u", {}, Operation.CompleteMultipartUpload),
        ("DELETE", "/bkt/k", "uploadId=u", {}, Operation.AbortMultipartUpload),
        ("GET", "/bkt/k", "uploadId=u", {}, Operation.ListParts),
        ("PUT", "/bkt", "versioning", {}, Operation.PutBucketVersioning),
        ("PUT", "/bkt", "versioning=", {}, Operation.PutBucketVersioning),
        ("GET", "/bkt/k", "versionId=null", {}, Operation.GetObject),
        ("HEAD", "/bkt/k", "versionId=abc&partNumber=1", {}, Operation.HeadObject),
        ("DELETE", "/bkt/k", "versionId=null", {}, Operation.DeleteObject),
        ("GET", "/bkt/k", "partNumber=2", {}, Operation.GetObject),
        (
            "GET",
            "/bkt/k",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab",
            {},
            Operation.GetObject,
        ),
        ("GET", "/bkt/k", "AWSAccessKeyId=a&Signature=s&Expires=1", {}, Operation.GetObject),
        ("GET", "/bkt/k", "x-amz-acl", {}, Operation.GetObject),  # a hoisted header: not ours
        ("GET", "/bkt/k", "cachebust=123", {}, Operation.GetObject),  # with a value: ignored
        ("GET", "/bkt", "prefix&delimiter=&max-keys=", {}, Operation.ListObjects),
        ("GET", "/bkt", "list-type=2&prefix&start-after=", {}, Operation.ListObjectsV2),
        ("GET", "/bkt/k", "acl", {}, Operation.GetObjectAcl),
        ("GET", "/bkt/k", "torrent", {}, Operation.Unsupported),
        ("PUT", "/bkt", "acl", {}, Operation.PutBucketAcl),
        ("DELETE", "/bkt", "acl", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "tagging", {}, Operation.PutObjectTagging),
        ("GET", "/bkt", "policy", {}, Operation.Unsupported),
        # issue 14: each of these was once served as a neighbouring operation
        ("PUT", "/bkt/k", "annotation", {}, Operation.Unsupported),
        ("DELETE", "/bkt/k", "annotation", {}, Operation.Unsupported),
        ("GET", "/bkt/k", "annotation", {}, Operation.Unsupported),
        ("DELETE", "/bkt", "metadataConfiguration", {}, Operation.Unsupported),
        ("GET", "/bkt", "abac", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "renameObject", {}, Operation.Unsupported),
        ("GET", "/bkt", "versions", {}, Operation.ListObjectVersions),
        # unknown value-less names, on every method and target
        ("GET", "/bkt", "fooBar", {}, Operation.Unsupported),
        ("PUT", "/bkt", "fooBar", {}, Operation.Unsupported),
        ("DELETE", "/bkt", "fooBar=", {}, Operation.Unsupported),
        ("POST", "/bkt", "fooBar", {}, Operation.Unsupported),
        ("HEAD", "/bkt", "fooBar", {}, Operation.Unsupported),
        ("GET", "/bkt/k", "fooBar", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "fooBar", {}, Operation.Unsupported),
        ("DELETE", "/bkt/k", "fooBar", {}, Operation.Unsupported),
        ("POST", "/bkt/k", "fooBar", {}, Operation.Unsupported),
        ("HEAD", "/bkt/k", "fooBar", {}, Operation.Unsupported),
        ("GET", "/", "fooBar", {}, Operation.Unsupported),
        # two sub-resources at once, or a sub-resource next to a served one
        ("POST", "/bkt/k", "uploads&tagging", {}, Operation.Unsupported),
        ("GET", "/bkt", "location&acl", {}, Operation.Unsupported),
        # parameters the operation does not take
        ("PUT", "/bkt/k", "versionId=null", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "uploadId=u", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "partNumber=1", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "versionId=1", {"x-amz-copy-source": "/a/b"}, Operation.Unsupported),
        ("HEAD", "/bkt/k", "uploadId=u", {}, Operation.Unsupported),
        ("DELETE", "/bkt/k", "partNumber=1", {}, Operation.Unsupported),
        ("GET", "/bkt/k", "uploadId=u&versionId=null", {}, Operation.Unsupported),
        ("GET", "/bkt", "versionId=null", {}, Operation.Unsupported),
        ("PUT", "/bkt", "list-type=2", {}, Operation.Unsupported),
        # known parameters an operation does not act on are refused, not ignored
        ("GET", "/", "max-buckets=1&prefix=a&continuation-token=t", {}, Operation.ListBuckets),
        ("GET", "/", "max-keys=1", {}, Operation.Unsupported),
        ("GET", "/bkt", "list-type=2&marker=m", {}, Operation.Unsupported),
        ("GET", "/bkt", "marker=m&start-after=a", {}, Operation.Unsupported),
        ("GET", "/bkt", "uploads&max-keys=1", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "prefix=a", {}, Operation.Unsupported),
        ("DELETE", "/bkt/k", "response-content-type=x", {}, Operation.Unsupported),
        ("GET", "/bkt/k", "uploadId=u&max-keys=1", {}, Operation.Unsupported),
        ("HEAD", "/bkt/k", "response-content-type=x&x-id=HeadObject", {}, Operation.HeadObject),
        ("GET", "/bkt/k", "foo=bar", {}, Operation.GetObject),  # unknown names with values: as S3
        ("POST", "/bkt", "", {}, Operation.Unsupported),  # PostObject (browser form upload)
        ("OPTIONS", "/bkt/k", "", {}, Operation.Unsupported),  # CORS preflight
        ("POST", "/bkt/k", "", {}, Operation.MethodNotAllowed),
        ("PATCH", "/bkt/k", "", {}, Operation.MethodNotAllowed),
        ("PROPFIND", "/bkt", "", {}, Operation.MethodNotAllowed),
        ("PUT", "/", "", {}, Operation.MethodNotAllowed),
        ("DELETE", "/", "", {}, Operation.MethodNotAllowed),
        ("POST", "/", "", {}, Operation.MethodNotAllowed),
    ],
)
def test_operation_table(
    method: str, path: str, query: str, headers: dict[str, str], operation: Operation
) -> None:
    assert resolve(parse_request(scope(method, path, query, headers))) is operation


@pytest.mark.parametrize(
    ("method", "path", "query", "code", "text"),
    [
        ("PUT", "/bkt/k", "annotation", S3ErrorCode.NotImplemented, "'annotation' sub-resource"),
        ("GET", "/bkt", "fooBar", S3ErrorCode.NotImplemented, "'fooBar'"),
        ("PUT", "/bkt/k", "versionId=1", S3ErrorCode.NotImplemented, "'versionId'"),
        ("POST", "/bkt", "", S3ErrorCode.NotImplemented, "not implemented"),
        ("GET", "/bkt", "list-type=2&marker=m", S3ErrorCode.NotImplemented, "'marker'"),
        ("GET", "/", "max-keys=1", S3ErrorCode.NotImplemented, "'max-keys'"),
    ],
)
def test_refusal_names_what_was_refused(
    method: str, path: str, query: str, code: S3ErrorCode, text: str
) -> None:
    request = parse_request(scope(method, path, query))
    error = refusal(request, resolve(request))
    assert error.code is code
    assert text in error.message


def test_method_not_allowed_names_method_and_resource_type() -> None:
    request = parse_request(scope("POST", "/bkt/k"))
    error = refusal(request, resolve(request))
    assert (error.code, error.status) == (S3ErrorCode.MethodNotAllowed, 405)
    assert error.fields == {"Method": "POST", "ResourceType": "OBJECT"}


def test_every_served_operation_has_a_rule_and_the_refusals_none() -> None:
    ruled = {rule.operation for rule in RULES}
    assert ruled == set(Operation) - REFUSALS
    assert all(rule.subresource is None or rule.subresource in SUBRESOURCES for rule in RULES)
    assert all(
        name in PARAMETERS
        for rule in RULES
        for name in (*rule.required, *rule.optional, *rule.parameters)
    )
    assert SUBRESOURCES.isdisjoint(PARAMETERS)


def test_path_style_key_is_decoded_once_and_not_normalised() -> None:
    request = parse_request(scope("GET", "/bkt/a/../b%2Fc%20d+e%25"))
    assert (request.bucket, request.key) == ("bkt", "a/../b/c d e%")  # a bare "+": a space
    assert request.raw_path == "/bkt/a/../b%2Fc%20d+e%25"


def test_double_slash_key_is_kept() -> None:
    assert parse_request(scope("GET", "/bkt//x")).key == "/x"


def test_virtual_hosted_style() -> None:
    s = scope("GET", "/photos/2024/a.jpg")
    s["headers"] = [(b"host", b"media.s3.example.com:9000")]
    request = parse_request(s, ["s3.example.com"])
    assert (request.bucket, request.key) == ("media", "photos/2024/a.jpg")


@pytest.mark.parametrize(
    "host", [b"media.s3.example.com.:9000", b"media.s3.example.com.", b"MEDIA.S3.Example.com."]
)
def test_virtual_hosted_style_with_an_absolute_host_name(host: bytes) -> None:
    """A fully qualified host name ends in a dot (RFC 1034 §3.1): still the bucket's host, never
    path style, where the first path segment would be taken as the bucket."""
    s = scope("GET", "/photos/a.jpg")
    s["headers"] = [(b"host", host)]
    request = parse_request(s, ["s3.example.com"])
    assert (request.bucket, request.key) == ("media", "photos/a.jpg")


def test_virtual_host_domain_itself_is_path_style() -> None:
    s = scope("GET", "/media/k")
    s["headers"] = [(b"host", b"s3.example.com")]
    assert parse_request(s, ["s3.example.com"]).bucket == "media"


def test_invalid_utf8_in_path_is_invalid_uri() -> None:
    with pytest.raises(S3Error) as caught:
        parse_request(scope("GET", "/bkt/%FF"))
    assert caught.value.code is S3ErrorCode.InvalidURI


def test_repeated_headers_are_joined_and_kept() -> None:
    s = scope("GET", "/b/k")
    s["headers"] += [(b"X-Amz-Meta-A", b"1"), (b"x-amz-meta-a", b"2")]
    request = parse_request(s)
    assert request.header("x-amz-meta-a") == "1,2"
    assert ("x-amz-meta-a", "1") in request.headers


def test_unencoded_utf8_bytes_in_path_are_the_key_bytes() -> None:
    s = scope("GET", "/bkt/x")
    s["raw_path"] = "/bkt/été".encode()
    request = parse_request(s)
    assert request.key == "été"
    assert request.raw_path == "/bkt/%C3%A9t%C3%A9"
