import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation, resolve
from s3proxy.request import parse_request


def scope(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"host", b"127.0.0.1:9000"))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw,
    }


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
        ("GET", "/bkt/k", "acl", {}, Operation.Unsupported),
        ("PUT", "/bkt/k", "tagging", {}, Operation.Unsupported),
        ("GET", "/bkt", "policy", {}, Operation.Unsupported),
        ("POST", "/bkt/k", "", {}, Operation.Unsupported),
        ("PATCH", "/bkt/k", "", {}, Operation.Unsupported),
    ],
)
def test_operation_table(
    method: str, path: str, query: str, headers: dict[str, str], operation: Operation
) -> None:
    assert resolve(parse_request(scope(method, path, query, headers))) is operation


def test_path_style_key_is_decoded_once_and_not_normalised() -> None:
    request = parse_request(scope("GET", "/bkt/a/../b%2Fc%20d+e%25"))
    assert (request.bucket, request.key) == ("bkt", "a/../b/c d+e%")
    assert request.raw_path == "/bkt/a/../b%2Fc%20d+e%25"


def test_double_slash_key_is_kept() -> None:
    assert parse_request(scope("GET", "/bkt//x")).key == "/x"


def test_virtual_hosted_style() -> None:
    s = scope("GET", "/photos/2024/a.jpg")
    s["headers"] = [(b"host", b"media.s3.example.com:9000")]
    request = parse_request(s, ["s3.example.com"])
    assert (request.bucket, request.key) == ("media", "photos/2024/a.jpg")


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
