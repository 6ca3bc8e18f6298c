"""The request target as S3 reads it, on both engines and in the signature (wave 18, B).

- A target sent as raw UTF-8 (``GET /docs/été``, as curl or a hand-built client sends it) is
  served as its bytes percent-encoded: the key is their UTF-8 text, the canonical URI their
  encoded form, and a signature over the raw text is 403 (S3's answer, JuliaCloud/AWS.jl#592).
  h11 (Hypercorn) and llhttp (uvicorn) refused it with 400; both now read it so
  (strict_head.encoded_target), in any cut of the reads and among pipelined requests.
- A bare ``+`` in the path is a space, in the key and in the canonical URI (S3 signs it
  ``%20``: aws/aws-sdk-net#4473's live results, nginx/nginx-s3-gateway#77; ``GET /a+b`` reads
  key "a b", s3tools/s3cmd#554). The gateway read a plus sign: a client sending spaces as
  ``+`` (signing ``%20``) was 403, and a signature over ``%2B`` carried out another key than
  S3 would.
- Pinned, as S3 answers them: ``%2F`` in a key is ``/`` in the canonical URI (S3 decodes it,
  unlike execute-api: aws/aws-sdk-net#4473), so a signature over the encoded form is 403;
  empty query parts (``?&&``, ``a=1&&b=2``) are no parameters, in the routing and in the
  canonical query alike; a sub-resource with a value (``?tagging=x``) is that sub-resource's
  operation, never the plain one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import h11
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy import strict_head
from s3proxy.auth.canonical import canonical_query, canonical_uri
from s3proxy.auth.dispatch import authenticate
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation, resolve
from s3proxy.request import S3Request, parse_request
from tests.unit.test_w14e_pipeline_fuzz import reference, run

AK, SK = "AKW18BTARGET0000001", "w18b-request-target-secret-000001"
HOST = "127.0.0.1:9000"

# ------------------------------------------------------------------ the HTTP layer: both engines

RAW = "GET /b/\u00e9t\u00e9?prefix=\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n".encode()
ENCODED = b"GET /b/%C3%A9t%C3%A9?prefix=%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n"
GET = b"GET /b/g HTTP/1.1\r\nHost: h\r\n\r\n"
PUT = "PUT /b/\u00e9 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc".encode()
PUT_ENCODED = b"PUT /b/%C3%A9 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
CHUNKED = (
    "PUT /b/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\u00e9x\r\n0\r\n\r\n"
)
STREAM = GET + RAW + PUT + CHUNKED.encode() + RAW + GET
STREAM_ENCODED = GET + ENCODED + PUT_ENCODED + CHUNKED.encode() + ENCODED + GET


def _h11_requests(data: bytes) -> list[h11.Request]:
    strict_head.install()
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    found: list[h11.Request] = []
    while (event := connection.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        if isinstance(event, h11.Request):
            found.append(event)
    return found


@pytest.mark.parametrize(
    ("line", "target"),
    [
        ("GET /b/\u00e9t\u00e9 HTTP/1.1".encode(), b"/b/%C3%A9t%C3%A9"),
        ("GET /b/k?prefix=\u00e9&x=1 HTTP/1.1".encode(), b"/b/k?prefix=%C3%A9&x=1"),
        (b"GET /b/\xff HTTP/1.1", b"/b/%FF"),  # no UTF-8: the application's 400 InvalidURI
        ("GET  /b/\u00e9 HTTP/1.1".encode(), b"/b/%C3%A9"),  # two spaces, read as one
    ],
)
def test_hypercorn_reads_a_raw_target_percent_encoded(line: bytes, target: bytes) -> None:
    (request,) = _h11_requests(line + b"\r\nHost: h\r\nX-A: \xc3\xa9\r\n\r\n")
    assert request.target == target
    assert (b"x-a", b"\xc3\xa9") in list(request.headers)  # header values are left as sent


@pytest.mark.parametrize(
    "line",
    [b"GET /b/\x01 HTTP/1.1", "G\u00c9T /b/k HTTP/1.1".encode()],
)
def test_hypercorn_still_refuses_what_is_no_request_line(line: bytes) -> None:
    with pytest.raises(h11.RemoteProtocolError):
        _h11_requests(line + b"\r\nHost: h\r\n\r\n")


def test_uvicorn_reads_raw_targets_percent_encoded_in_one_read() -> None:
    expected = reference(STREAM_ENCODED)
    assert len(expected) == 6
    outcome = run([STREAM], [False])
    assert outcome.received == expected
    assert [status for status, _ in outcome.answers] == [200] * 6


@pytest.mark.parametrize("settle", [False, True], ids=["queued", "answered-between"])
def test_uvicorn_reads_raw_targets_whatever_the_cut(settle: bool) -> None:
    """Every cut in two, among them inside a raw target, inside a UTF-8 sequence, inside a
    Content-Length body and inside a chunked body whose data holds the same bytes."""
    expected = reference(STREAM_ENCODED)
    for cut in range(1, len(STREAM)):
        outcome = run([STREAM[:cut], STREAM[cut:]], [settle, False])
        assert outcome.received == expected, cut


def test_uvicorn_reads_a_raw_target_sent_a_byte_at_a_time() -> None:
    pieces = [STREAM[at : at + 1] for at in range(len(STREAM))]
    assert run(pieces, [False] * len(pieces)).received == reference(STREAM_ENCODED)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /b/\x01 HTTP/1.1\r\nHost: h\r\n\r\n",  # a control character: still refused
        "G\u00c9T /b/k HTTP/1.1\r\nHost: h\r\n\r\n".encode(),  # in the method: no request
    ],
)
def test_uvicorn_still_refuses_what_is_no_request_line(head: bytes) -> None:
    outcome = run([head], [False])
    assert (outcome.received, outcome.answers) == ([], [(400, b"InvalidRequest")])


# ---------------------------------------------------------------- the signature over the target


def _signed(url: str, *, presign: bool = False) -> tuple[str, list[tuple[bytes, bytes]]]:
    """(target, headers) of a GET of ``url`` signed by botocore over the target as given."""
    request = AWSRequest(method="GET", url=f"http://{HOST}{url}", headers={"Host": HOST})
    if presign:
        S3SigV4QueryAuth(Credentials(AK, SK), "s3", "us-east-1", expires=900).add_auth(request)
    else:
        S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(request.url)
    headers = [
        (name.lower().encode(), str(value).encode()) for name, value in request.headers.items()
    ]
    return parts.path + (f"?{parts.query}" if parts.query else ""), headers


def _received(target: str | bytes, headers: list[tuple[bytes, bytes]]) -> S3Request | S3Error:
    """The request the gateway reads from ``target``, once authenticated; or its refusal."""
    raw = target.encode() if isinstance(target, str) else target
    path, _, query = raw.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "",
        "raw_path": path,
        "query_string": query,
        "headers": headers,
    }
    try:
        request = parse_request(scope)
        authenticate(request, {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)
    except S3Error as error:
        return error
    return request


def _refused(outcome: S3Request | S3Error) -> S3ErrorCode | None:
    return outcome.code if isinstance(outcome, S3Error) else None


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_a_raw_utf8_target_is_signed_as_its_encoded_form(presign: bool) -> None:
    target, headers = _signed("/b/%C3%A9t%C3%A9", presign=presign)
    raw = target.encode().replace(b"%C3%A9", "\u00e9".encode())
    received = _received(strict_head.encoded_target(b"GET " + raw)[4:], headers)
    assert isinstance(received, S3Request) and received.key == "\u00e9t\u00e9"
    target, headers = _signed("/b/\u00e9t\u00e9", presign=presign)  # signed over the raw text
    raw = target.encode()
    assert _refused(_received(strict_head.encoded_target(b"GET " + raw)[4:], headers)) is (
        S3ErrorCode.SignatureDoesNotMatch
    )


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_a_bare_plus_in_the_path_is_a_space(presign: bool) -> None:
    target, headers = _signed("/b/a%20b%2Bc", presign=presign)
    received = _received(target.replace("%20", "+", 1), headers)
    assert isinstance(received, S3Request) and received.key == "a b+c"
    target, headers = _signed("/b/a%2Bb", presign=presign)  # signed as a plus sign
    assert _refused(_received(target.replace("%2B", "+", 1), headers)) is (
        S3ErrorCode.SignatureDoesNotMatch
    )
    assert canonical_uri("/b/a+b%2Bc") == "/b/a%20b%2Bc"


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_an_encoded_slash_is_canonicalised_as_a_slash(presign: bool) -> None:
    target, headers = _signed("/b/a/b", presign=presign)
    received = _received(target.replace("/b/a/b", "/b/a%2Fb", 1), headers)
    assert isinstance(received, S3Request) and received.key == "a/b"
    target, headers = _signed("/b/a%2Fb", presign=presign)  # signed as sent: S3 refuses it
    assert _refused(_received(target, headers)) is S3ErrorCode.SignatureDoesNotMatch
    assert canonical_uri("/b/a%2Fb") == "/b/a/b"


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
@pytest.mark.parametrize("where", ["before", "between", "after", "only"])
def test_empty_query_parts_are_no_parameters(presign: bool, where: str) -> None:
    target, headers = _signed(
        "/b?list-type=2&prefix=p" if where != "only" else "/b", presign=presign
    )
    path, _, query = target.partition("?")
    sent = {
        "before": f"&&{query}",
        "between": query.replace("&", "&&"),
        "after": f"{query}&&",
        "only": f"&&{query}&&" if query else "&&",
    }[where]
    received = _received(f"{path}?{sent}", headers)
    assert isinstance(received, S3Request), received
    assert resolve(received) is (
        Operation.ListObjects if where == "only" else Operation.ListObjectsV2
    )
    assert canonical_query(sent) == canonical_query(query)


@pytest.mark.parametrize(
    ("method", "target", "operation"),
    [
        ("PUT", "/b/k?tagging=x", Operation.PutObjectTagging),
        ("DELETE", "/b/k?tagging=1", Operation.DeleteObjectTagging),
        ("GET", "/b?acl=x", Operation.GetBucketAcl),
        ("PUT", "/b/k?acl=private", Operation.PutObjectAcl),
        ("POST", "/b/k?uploads=x", Operation.CreateMultipartUpload),
        ("GET", "/b?uploads=1", Operation.ListMultipartUploads),
        ("GET", "/b?versioning=x", Operation.GetBucketVersioning),
        ("POST", "/b?delete=x", Operation.DeleteObjects),
        ("GET", "/b?location=us", Operation.GetBucketLocation),
        ("GET", "/b/k?torrent=x", Operation.Unsupported),
        ("GET", "/b?list-type=2&acl=x", Operation.Unsupported),
    ],
)
def test_a_sub_resource_with_a_value_is_that_sub_resource(
    method: str, target: str, operation: Operation
) -> None:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"h")],
    }
    assert resolve(parse_request(scope)) is operation
