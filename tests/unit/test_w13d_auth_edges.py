"""Query strings as S3 reads them, and a SigV2 form of botocore's (wave 13, D).

- A bare ``+`` in the query is a space, as S3, MinIO and Ceph RGW decode a query (form
  encoding): a client that sends ``prefix=a+b`` and signs ``prefix=a%20b`` (URLSearchParams,
  form encoders) is served prefix "a b"; one that signed a plus sign there is refused, never
  served the other reading. ``%2B`` is the plus sign, as botocore, s3cmd and rclone send it.
- A query parameter given twice with different values is refused (400 InvalidArgument) before
  any signature check: the signature covers all values in sorted order, so reordering them kept
  it valid while changing the one the handlers read.
- SigV2: botocore's HmacV1Auth signs an empty sub-resource value sent as ``name=`` as
  ``name=``; AWS's form is ``name``. Both verify.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy.auth.dispatch import authenticate
from s3proxy.auth.sigv4 import canonical_query
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import S3Request, parse_query, parse_request

AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "127.0.0.1:9000"

# --- a bare "+" in the query ------------------------------------------------------------------


def _scope(method: str, path: str, query: str, headers: dict[str, str]) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(n.lower().encode(), v.encode()) for n, v in headers.items()],
    }


def _verified(method: str, path: str, query: str, headers: dict[str, str]) -> S3Request:
    request = parse_request(_scope(method, path, query, headers))
    authenticate(request, {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)
    return request


def _signed_headers(query: str) -> dict[str, str]:
    """The headers botocore signs for GET /bkt?<query> (the query taken as it is written)."""
    request = AWSRequest(method="GET", url=f"http://{HOST}/bkt?{query}")
    request.headers["Host"] = HOST
    S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def test_a_bare_plus_is_read_and_signed_as_a_space() -> None:
    assert parse_query("prefix=a+b&marker=%2B&x=a%2Bb+c") == {
        "prefix": "a b",
        "marker": "+",
        "x": "a+b c",
    }
    assert canonical_query("prefix=a+b&marker=%2B") == "marker=%2B&prefix=a%20b"


def test_a_client_that_sends_plus_for_a_space_is_served_the_space() -> None:
    """URLSearchParams' way: "+" on the wire, "%20" in the canonical request."""
    request = _verified(
        "GET", "/bkt", "list-type=2&prefix=a+b", _signed_headers("list-type=2&prefix=a%20b")
    )
    assert request.query["prefix"] == "a b"


def test_a_bare_plus_signed_as_a_plus_sign_is_refused() -> None:
    """The other reading is never served: a signature over "a%2Bb" is not one over "a b"."""
    with pytest.raises(S3Error) as refused:
        _verified("GET", "/bkt", "prefix=a+b", _signed_headers("prefix=a%2Bb"))
    assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch
    assert _verified("GET", "/bkt", "prefix=a%2Bb", _signed_headers("prefix=a%2Bb")).query == {
        "prefix": "a+b"
    }


def test_a_presigned_url_with_plus_for_a_space() -> None:
    request = AWSRequest(method="GET", url=f"http://{HOST}/bkt/k?response-content-type=a%20b")
    S3SigV4QueryAuth(Credentials(AK, SK), "s3", "us-east-1", expires=60).add_auth(request)
    parts = urlsplit(request.url)
    sent = parts.query.replace("a%20b", "a+b")
    verified = _verified("GET", parts.path, sent, {"Host": HOST})
    assert verified.query["response-content-type"] == "a b"


# --- a parameter given twice ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["versionId=1&versionId=2", "prefix=a&prefix=a+b", "uploads&uploads=x", "a=%41&a=B"]
)
def test_a_parameter_twice_with_different_values_is_refused(query: str) -> None:
    with pytest.raises(S3Error) as refused:
        parse_query(query)
    assert refused.value.code is S3ErrorCode.InvalidArgument
    assert refused.value.status == 400


@pytest.mark.parametrize("query", ["uploads&uploads=", "a=1&a=1", "a=%41&a=A", "p=a+b&p=a%20b"])
def test_a_parameter_repeated_with_its_value_is_kept(query: str) -> None:
    assert len(parse_query(query)) == 1


def test_reordering_repeated_values_no_longer_changes_what_is_read() -> None:
    """Before: both orders verified under one signature and read different versions."""
    headers = _signed_headers("versionId=1&versionId=2")
    for query in ("versionId=1&versionId=2", "versionId=2&versionId=1"):
        with pytest.raises(S3Error) as refused:
            _verified("GET", "/bkt", query, headers)
        assert refused.value.code is S3ErrorCode.InvalidArgument


# --- SigV2: an empty sub-resource value sent as "name=" -----------------------------------------


def test_sigv2_accepts_botocores_name_equals_for_an_empty_value() -> None:
    """botocore's HmacV1Auth signs ``?versionId=`` as sent (``versionId=``); AWS's rules and
    rclone's signer render ``versionId``. Both name the same empty value: both verify."""
    for query, empty in (("versionId=", "versionId"), ("uploads=&acl", "uploads")):
        request = AWSRequest(method="GET", url=f"http://{HOST}/bkt/k?{query}")
        request.headers["Host"] = HOST
        HmacV1Auth(Credentials(AK, SK)).add_auth(request)
        headers = {name: str(value) for name, value in request.headers.items()}
        assert _verified("GET", "/bkt/k", query, headers).query[empty] == ""
