"""Header values outside ASCII, as S3 verifies and answers them (wave 14, D).

S3 verifies a signature over the bytes it received and reads a header's bytes as ISO-8859-1:

- botocore writes ``Content-Disposition: é`` (and any header value) as UTF-8 and signs those
  same bytes, so S3 stores it (boto/boto3#3063, with the metadata check taken out); the gateway
  hashed the UTF-8 of each received byte read as a character, so every such request was 403
  SignatureDoesNotMatch, on every lane;
- a client that signs the UTF-8 of ``é`` but sends the one byte 0xE9 (Node's http,
  http.client) is refused by S3 (aws/aws-sdk-js#1648); the gateway accepted it;
- a ``x-amz-meta-*`` value holding a byte outside ASCII comes back as one RFC 2047 encoded
  word of the text S3 read: ``ö`` sent as UTF-8 is answered ``=?UTF-8?B?w4PCtg==?=`` (measured
  on S3, minio/minio#21282), and S3's 2 KB of metadata counts that text's UTF-8 bytes.

The same holds for presigned URLs and for SigV2 (botocore's HmacV1Auth sends and signs UTF-8).

SigV4 folds sequential spaces of a signed value (S3 too: a value signed as ``a b`` may arrive
as ``a  b``); the gateway folded every character Python calls whitespace, the bytes 0x85 and
0xA0 too, which no signer folds, so a copy signed for ``docs/a b`` could be carried out for
``docs/a\\xa0b``. And curl's ``--aws-sigv4`` releases that sign a plus sign in the query otherwise
than S3 reads it are refused, as S3 refuses them (curl/curl#20543).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from s3proxy.auth.dispatch import authenticate
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.object import mail_safe
from s3proxy.request import parse_request

AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "127.0.0.1:9000"
URL = f"http://{HOST}/bkt/key"
VALUES = ['attachment; filename="é.txt"', "中文", "café  au lait", "\u00a9 2026"]


def _botocore(kind: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The query and headers botocore sends for PUT /bkt/key with ``headers`` (text)."""
    body = b"" if kind == "presigned" else b"x"  # botocore reads a presigned body as a form
    request = AWSRequest(method="PUT", url=URL, headers=dict(headers), data=body)
    request.headers["Host"] = HOST
    credentials = Credentials(AK, SK)
    if kind == "v4":
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    elif kind == "presigned":
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=300).add_auth(request)
    else:
        HmacV1Auth(credentials).add_auth(request)
    query = request.url.partition("?")[2]
    return query, {name: str(value) for name, value in request.headers.items()}


def _receive(query: str, headers: dict[str, str], encoding: str) -> None:
    """Authenticate the request as the gateway receives it, header text written in
    ``encoding`` on the wire (botocore's http stack writes UTF-8; http.client, ISO-8859-1)."""
    scope = {
        "type": "http",
        "method": "PUT",
        "path": "/bkt/key",
        "raw_path": b"/bkt/key",
        "query_string": query.encode(),
        "headers": [(n.lower().encode(), v.encode(encoding)) for n, v in headers.items()],
    }
    authenticate(parse_request(scope), {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)


@pytest.mark.parametrize("kind", ["v4", "presigned", "v2"])
@pytest.mark.parametrize("value", VALUES)
def test_a_value_sent_as_the_utf8_it_was_signed_as_is_verified(kind: str, value: str) -> None:
    for header in ("Content-Disposition", "x-amz-meta-m"):
        _receive(*_botocore(kind, {header: value}), "utf-8")


@pytest.mark.parametrize("kind", ["v4", "presigned", "v2"])
@pytest.mark.parametrize("value", [v for v in VALUES if v.isascii() is False and max(v) < "\u0100"])
def test_a_value_sent_as_other_bytes_than_signed_is_refused(kind: str, value: str) -> None:
    """Signed as the UTF-8 of ``é`` (C3 A9), sent as the one byte 0xE9: not what was signed."""
    with pytest.raises(S3Error) as refused:
        _receive(*_botocore(kind, {"x-amz-meta-m": value}), "latin-1")
    assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch


def test_a_non_ascii_metadata_value_is_answered_as_s3_answers_it() -> None:
    sent = "Miniö".encode().decode("latin-1")  # as the gateway reads the bytes sent
    assert mail_safe(sent) == "=?UTF-8?B?TWluacODwrY=?="  # S3's answer for "Miniö" in UTF-8
    assert mail_safe("é") == "=?UTF-8?B?w6k=?="


# --- SigV4's folding of a signed value: sequential spaces, nothing else -----------------------


def _tampered(value: bytes, header: str = "x-amz-copy-source") -> None:
    """botocore signs ``header: docs/a b``; the value is replaced by ``value`` on the wire."""
    query, headers = _botocore("v4", {header: "docs/a b"})
    scope = {
        "type": "http",
        "method": "PUT",
        "path": "/bkt/key",
        "raw_path": b"/bkt/key",
        "query_string": query.encode(),
        "headers": [
            (n.lower().encode(), value if n.lower() == header else v.encode())
            for n, v in headers.items()
        ],
    }
    authenticate(parse_request(scope), {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)


@pytest.mark.parametrize("value", [b"docs/a  b", b"docs/a \t b", b"docs/a\tb"])
def test_spaces_and_tabs_fold_as_s3_folds_them(value: bytes) -> None:
    _tampered(value)


@pytest.mark.parametrize(
    "value", [b"docs/a\xa0b", b"docs/a\x85b", b"docs/a b\xa0", b"\x85docs/a b"]
)
def test_no_other_byte_folds_into_a_signed_space(value: bytes) -> None:
    """NBSP and NEL bytes are whitespace to Python, not to any signer: folding them let a copy
    signed for ``docs/a b`` read ``docs/a\\xa0b``, another key."""
    with pytest.raises(S3Error) as refused:
        _tampered(value)
    assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch


# --- curl's --aws-sigv4 and a plus sign in the query ------------------------------------------


class _SignsQueryAs(S3SigV4Auth):
    """botocore's signer with the canonical query a given curl release computes."""

    def __init__(self, canonical_query: str) -> None:
        super().__init__(Credentials(AK, SK), "s3", "us-east-1")
        self._canonical_query = canonical_query

    def canonical_query_string(self, request: AWSRequest) -> str:
        return self._canonical_query


@pytest.mark.parametrize(
    ("sent", "signed_as", "served"),
    [
        ("prefix=a%2Bb", "prefix=a%2Bb", "a+b"),  # every curl, and curl after curl#20543
        ("prefix=a+b", "prefix=a%20b", "a b"),  # curl 8.14 and later: "+" is a space
        ("prefix=a+b", "prefix=a%2Bb", None),  # curl before 8.14: S3 reads a space, refuses
        ("prefix=a%2Bb", "prefix=a%20b", None),  # curl 8.14 until curl#20543: S3 refuses
    ],
)
def test_curl_query_signing_is_served_exactly_as_s3_serves_it(
    sent: str, signed_as: str, served: str | None
) -> None:
    request = AWSRequest(method="GET", url=f"http://{HOST}/bkt?{sent}")
    request.headers["Host"] = HOST
    _SignsQueryAs(signed_as).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/bkt",
        "raw_path": b"/bkt",
        "query_string": sent.encode(),
        "headers": [(n.lower().encode(), v.encode()) for n, v in headers.items()],
    }
    parsed = parse_request(scope)
    if served is None:
        with pytest.raises(S3Error) as refused:
            authenticate(parsed, {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)
        assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch
    else:
        authenticate(parsed, {AK: SK}.get, datetime.now(UTC), max_skew=900, region=None)
        assert parsed.query["prefix"] == served


# --- a differential sweep: what the signature covers is what is carried out -------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), max_codepoint=0x3000)
    | st.sampled_from(" \t"),
    max_size=12,
)


def _folded(raw: bytes) -> bytes:
    """S3's reading of a signed value: runs of spaces and tabs are one space, ends stripped."""
    return re.sub(rb"[ \t]+", b" ", raw).strip(b" ")


@settings(
    max_examples=int(os.environ.get("W14D_EXAMPLES", "60")),
    derandomize="W14D_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
)
@given(value=_TEXT, wire=st.binary(max_size=14) | _TEXT.map(str.encode))
def test_a_signed_value_verifies_only_as_what_s3_folds_it_to(value: str, wire: bytes) -> None:
    """botocore signs ``x-amz-meta-m: value`` (no whitespace but spaces and tabs, which it folds
    as S3 does) and writes it as UTF-8: that verifies. Sent as any other bytes (no control
    character but a tab: the HTTP layer refuses them), it verifies exactly when S3 folds those
    bytes to what was signed; a request carried out with another value is refused."""
    assume(all(b == 9 or (b >= 0x20 and b != 0x7F) for b in wire))
    query, headers = _botocore("v4", {"x-amz-meta-m": value})
    _receive(query, headers, "utf-8")
    headers["x-amz-meta-m"] = wire.decode("latin-1")  # written back as these very bytes
    if _folded(wire) == _folded(value.encode()):
        _receive(query, headers, "latin-1")
    else:
        with pytest.raises(S3Error) as refused:
            _receive(query, headers, "latin-1")
        assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch
