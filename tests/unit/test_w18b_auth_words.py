"""SigV4 header errors in S3's words, and an empty SignedHeaders as S3 answers it (wave 18, B).

S3 says what is wrong with an Authorization header after "The authorization header is malformed;
" (botocore users read it in the ClientError): the wording here is what S3 sends, as clients
quote it and as S3 clones that test against S3 reproduce it (versitygw's s3err, OpenStack
Swift's s3api): the three components, a component without ``=``, a missing one, the credential's
shape, service and terminal (in double quotes), and the region (in single quotes, with the
prefix the gateway left out). An Authorization header of no known scheme names the header and
the scheme as ArgumentName / ArgumentValue, and an unknown access key is named as
AWSAccessKeyId in S3's message ("The AWS Access Key Id you provided …"), in every scheme.

An empty ``SignedHeaders=`` signs no header, so host was not signed: 403 AccessDenied naming it
(and every x-amz-* header sent), as S3 answers an empty X-Amz-SignedHeaders
(brendanhay/amazonka#272) and as the gateway answers that since wave 17; it was 400
AuthorizationHeaderMalformed in the header form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy.auth.dispatch import authenticate
from s3proxy.auth.sigv4 import parse_authorization
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.request import parse_request
from tests.unit.test_sigv4 import AK, ENDPOINT, Wire, botocore_signed, expect_error, verify

CRED = f"Credential={AK}/20260101/us-east-1/s3/aws4_request"
SIGNED = "SignedHeaders=host;x-amz-content-sha256;x-amz-date"
SIG = "Signature=" + "0123456789abcdef" * 4
PREFIX = "The authorization header is malformed; "


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            f"AWS4-HMAC-SHA256 {CRED}, {SIGNED}",
            "the authorization header requires three components: Credential, SignedHeaders, "
            "and Signature.",
        ),
        (
            f"AWS4-HMAC-SHA256 {CRED}, {SIGNED}, {SIG},",
            "the authorization header requires three components: Credential, SignedHeaders, "
            "and Signature.",
        ),
        (
            f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders, {SIG}",
            'the authorization component "SignedHeaders" is malformed.',
        ),
        (f"AWS4-HMAC-SHA256 {CRED}, Foo=bar, {SIG}", "missing SignedHeaders."),
        (f"AWS4-HMAC-SHA256 Credentials=x, {SIGNED}, {SIG}", "missing Credential."),
        (f"AWS4-HMAC-SHA256 {CRED}, {SIGNED}, {SIGNED}", "missing Signature."),
        (
            f"AWS4-HMAC-SHA256 Credential={AK}/20260101/us-east-1/s3, {SIGNED}, {SIG}",
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
            'aws4_request".',
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AK}/20260101/us-east-1/ec2/aws4_request, "
            f"{SIGNED}, {SIG}",
            'incorrect service "ec2". This endpoint belongs to "s3".',
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AK}/20260101/us-east-1/s3/aws5_request, {SIGNED}, {SIG}",
            'incorrect terminal "aws5_request". This endpoint uses "aws4_request".',
        ),
    ],
    ids=[
        "two-components",
        "four-components",
        "no-equals",
        "unknown-name",
        "no-credential",
        "no-signature",
        "credential-shape",
        "service",
        "terminal",
    ],
)
def test_a_malformed_header_is_refused_in_s3s_words(value: str, detail: str) -> None:
    error = expect_error(
        S3ErrorCode.AuthorizationHeaderMalformed, lambda: parse_authorization(value)
    )
    assert error.message == PREFIX + detail


def test_a_wrong_region_is_refused_in_s3s_words() -> None:
    wire = botocore_signed("GET", f"{ENDPOINT}/bkt/k", region="us-west-2")
    error = expect_error(
        S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(wire, region="eu-central-1")
    )
    assert error.message == (
        "The authorization header is malformed; the region 'us-west-2' is wrong; "
        "expecting 'eu-central-1'"
    )
    assert error.fields == {"Region": "eu-central-1"}


def _with_signed_headers(wire: Wire, listed: str) -> Wire:
    value = wire.header("authorization")
    head, _, rest = value.partition("SignedHeaders=")
    _, _, tail = rest.partition(",")
    return wire.with_header("Authorization", f"{head}SignedHeaders={listed},{tail}")


def test_an_empty_signed_headers_is_host_not_signed() -> None:
    wire = _with_signed_headers(botocore_signed("PUT", f"{ENDPOINT}/bkt/k", body=b"x"), "")
    assert parse_authorization(wire.header("authorization")).signed_headers == ()
    error = expect_error(S3ErrorCode.AccessDenied, lambda: verify(wire))
    assert error.message == "There were headers present in the request which were not signed"
    assert error.fields == {"HeadersNotSigned": "host, x-amz-content-sha256, x-amz-date"}


@pytest.mark.parametrize("listed", ["host;;x-amz-date", ";", "host;"])
def test_an_empty_name_among_signed_headers_is_malformed(listed: str) -> None:
    wire = _with_signed_headers(botocore_signed("GET", f"{ENDPOINT}/bkt/k"), listed)
    error = expect_error(S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(wire))
    assert (
        error.message
        == f'{PREFIX}the authorization component "SignedHeaders={listed}" is malformed.'
    )


def _authenticate(authorization: str) -> S3Error:
    scope = {
        "type": "http",
        "method": "GET",
        "raw_path": b"/bkt/k",
        "path": "/bkt/k",
        "query_string": b"",
        "headers": [(b"host", b"h"), (b"authorization", authorization.encode())],
    }
    request = parse_request(scope)
    with pytest.raises(S3Error) as caught:
        authenticate(request, {AK: "sk"}.get, datetime.now(UTC), max_skew=900, region=None)
    return caught.value


@pytest.mark.parametrize(
    ("authorization", "message", "value"),
    [
        ("AWS4-HMAC-SHA512 Credential=x", "Unsupported Authorization Type", "AWS4-HMAC-SHA512"),
        ("Bearer abc", "Unsupported Authorization Type", "Bearer"),
        (
            "AWS4-HMAC-SHA256",
            "Authorization header is invalid -- one and only one ' ' (space) required.",
            "AWS4-HMAC-SHA256",
        ),
    ],
)
def test_an_unknown_scheme_names_the_header_and_the_scheme(
    authorization: str, message: str, value: str
) -> None:
    error = _authenticate(authorization)
    assert (error.code, error.message) == (S3ErrorCode.InvalidArgument, message)
    assert error.fields == {"ArgumentName": "Authorization", "ArgumentValue": value}


@pytest.mark.parametrize("scheme", ["header", "presigned", "sigv2"])
def test_an_unknown_access_key_is_named_as_s3_names_it(scheme: str) -> None:
    request = AWSRequest(method="GET", url="http://h/bkt/k", headers={"Host": "h"})
    credentials = Credentials("AKUNKNOWN000000000", "secret")
    if scheme == "header":
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    elif scheme == "presigned":
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=60).add_auth(request)
    else:
        HmacV1Auth(credentials).add_auth(request)
    parts = urlsplit(request.url)
    scope = {
        "type": "http",
        "method": "GET",
        "raw_path": parts.path.encode(),
        "path": parts.path,
        "query_string": parts.query.encode(),
        "headers": [(n.lower().encode(), str(v).encode()) for n, v in request.headers.items()],
    }
    with pytest.raises(S3Error) as caught:
        authenticate(parse_request(scope), {}.get, datetime.now(UTC), max_skew=900, region=None)
    error = caught.value
    assert (error.code, error.message) == (
        S3ErrorCode.InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    assert error.fields == {"AWSAccessKeyId": "AKUNKNOWN000000000"}
