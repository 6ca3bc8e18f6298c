"""Numbers a client writes, read without an uncaught exception (wave 18, I).

``str.isdigit()`` then ``int()`` failed two ways: Python's ``int`` raises ValueError past 4,300
digits, and ``isdigit`` is true for ``"²"``, which ``int`` refuses. Each was a 500
InternalError (and a traceback in the log) for a request S3 answers with a 4xx, or serves:
``max-uploads``, ``max-parts``, ``part-number-marker``, ``partNumber`` (GetObject, UploadPart),
``max-buckets``, ``x-amz-max-parts`` / ``x-amz-part-number-marker`` (GetObjectAttributes),
``x-amz-copy-source-range``, a Complete's ``<PartNumber>``, a rate-limited tenant's Range and
Content-Length, a CORS rule's ``<MaxAgeSeconds>`` and ``x-amz-decoded-content-length``.
Requests go into the ASGI app in process over a local store (tests/support/fuzz_requests).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.auth.chunked import ChunkedContext
from s3proxy.auth.sigv4 import Credential, VerifiedSigV4
from s3proxy.config import Settings
from s3proxy.config.server import ServerLimits
from s3proxy.cors import parse_cors_configuration
from s3proxy.digits import CAP, decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.limits import declared_bytes
from s3proxy.multipart_xml import parse_complete_request
from tests.support.fuzz_requests import Answer, Req, call, gateway_settings

HUGE = "1" * 5000
"""Past the 4,300 digits Python's int() converts."""
PADDED = "0" * 5000 + "7"
"""Seven, zero-padded past the same limit."""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        (PADDED, 7),
        ("9" * 18, 10**18 - 1),
        ("1" + "0" * 18, CAP),
        (HUGE, CAP),
        ("", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("\u00b2", None),
        ("\u0663", None),
    ],
)
def test_decimal(text: str, value: int | None) -> None:
    assert decimal(text) == value


@pytest.mark.parametrize(
    ("method", "length", "byte_range", "declared"),
    [
        ("PUT", "10", None, 10),
        ("PUT", "\u00b2", None, 0),
        ("PUT", PADDED, None, 7),
        ("GET", None, "bytes=0-9", 10),
        ("GET", None, "bytes=\u00b2-\u00b3", 0),
        ("GET", None, f"bytes={HUGE}-{HUGE}", 1),
        ("GET", None, f"bytes=0-{HUGE}", CAP + 1),
    ],
)
def test_declared_bytes_reads_any_header(
    method: str, length: str | None, byte_range: str | None, declared: int
) -> None:
    """A latin-1 header holds ``²``: a rate-limited tenant's Range ``bytes=²-³`` was a 500."""
    assert declared_bytes(method, length, byte_range) == declared


def _cors(age: str) -> bytes:
    return (
        "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
        f"<AllowedOrigin>*</AllowedOrigin><MaxAgeSeconds>{age}</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>"
    ).encode()


@pytest.mark.parametrize(
    ("age", "kept"),
    [
        ("3000", 3000),
        ("-5", -5),
        (" 60 ", 60),
        ("2147483647", 2**31 - 1),
        ("-2147483648", -(2**31)),
    ],
)
def test_max_age_seconds_of_a_32_bit_integer_is_kept(age: str, kept: int) -> None:
    (rule,) = parse_cors_configuration(_cors(age))
    assert rule.max_age_seconds == kept


@pytest.mark.parametrize("age", ["--5", "\u00b2", HUGE, "2147483648", "-2147483649", "", "+5"])
def test_max_age_seconds_that_is_no_32_bit_integer_is_malformed(age: str) -> None:
    """S3's schema types MaxAgeSeconds as xsd:int; ``--5`` and ``²`` were ValueErrors."""
    with pytest.raises(S3Error) as raised:
        parse_cors_configuration(_cors(age))
    assert raised.value.code is S3ErrorCode.MalformedXML


@pytest.mark.parametrize(("number", "read"), [(PADDED, 7), (HUGE, CAP)])
def test_a_complete_part_number_of_any_length_is_read(number: str, read: int) -> None:
    body = (
        f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>e</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    assert parse_complete_request(body)[0].part_number == read


def _chunked_context(length: str) -> ChunkedContext:
    auth = VerifiedSigV4(
        access_key="AK",
        credential=Credential("AK", "20260101", "us-east-1", "s3"),
        amz_date="20260101T000000Z",
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        signature="0" * 64,
        signing_key=b"k",
    )
    return ChunkedContext.from_request(auth, {"x-amz-decoded-content-length": length})


@pytest.mark.parametrize(("length", "read"), [("10", 10), (" 10 ", 10), (PADDED, 7), (HUGE, CAP)])
def test_a_decoded_content_length_of_any_length_is_read(length: str, read: int) -> None:
    """A huge one reads as a size past 5 GiB: PutObject answers it EntityTooLarge."""
    assert _chunked_context(length).decoded_length == read


@pytest.mark.parametrize("length", ["", "-1", "\u00b2", "\u00a010", "1e3"])
def test_a_decoded_content_length_that_is_no_number_is_missing(length: str) -> None:
    with pytest.raises(S3Error) as raised:
        _chunked_context(length)
    assert raised.value.code is S3ErrorCode.MissingContentLength


# --- the whole request, in process -------------------------------------------------------------


def _rate_limited(root: Path) -> Settings:
    """gateway_settings with a request and byte rate: admission reads Range and Content-Length
    (s3proxy.limits.declared_bytes) before the handler does."""
    settings = gateway_settings(root)
    limits = ServerLimits(requests_per_second=10_000, bytes_per_second=10**12)
    server = settings.server.model_copy(update={"limits": limits})
    return settings.model_copy(update={"server": server})


class World:
    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.gateway = Gateway(_rate_limited(root / "data"))
        self.app = S3App(self.gateway)
        self.upload = ""

    def call(self, req: Req) -> Answer:
        answer: Answer = self.loop.run_until_complete(call(self.app, req))
        return answer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = World(tmp_path_factory.mktemp("w18i"))
    assert world.call(Req("PUT", "docs", None)).status == 200
    assert world.call(Req("PUT", "docs", "k", body=b"0123456789")).status == 200
    created = world.call(Req("POST", "docs", "up", [("uploads", "")]))
    world.upload = ET.fromstring(created.body).findtext("{*}UploadId") or ""
    assert world.upload
    yield world
    world.loop.run_until_complete(world.gateway.close())
    world.loop.close()


def _code(answer: Answer) -> str | None:
    return ET.fromstring(answer.body).findtext("Code") if answer.body.startswith(b"<?xml") else None


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


UPLOAD = "UPLOAD"
"""Stands for the module's upload id in the cases below."""
ATTRIBUTES = {"x-amz-object-attributes": "ObjectParts"}
CASES: dict[str, tuple[Req, int, str | None]] = {
    "max-uploads": (
        Req("GET", "docs", None, [("uploads", ""), ("max-uploads", HUGE)]),
        400,  # past S3's 32-bit integer (test_w18v2_listing_integers)
        "InvalidArgument",
    ),
    "max-parts": (
        Req("GET", "docs", "up", [("uploadId", UPLOAD), ("max-parts", HUGE)]),
        400,
        "InvalidArgument",
    ),
    "part-number-marker": (
        Req("GET", "docs", "up", [("uploadId", UPLOAD), ("part-number-marker", HUGE)]),
        400,
        "InvalidArgument",
    ),
    "GetObject partNumber": (
        Req("GET", "docs", "k", [("partNumber", HUGE)]),
        400,
        "InvalidArgument",
    ),
    "UploadPart partNumber": (
        Req("PUT", "docs", "up", [("uploadId", UPLOAD), ("partNumber", HUGE)], body=b"x"),
        400,
        "InvalidArgument",
    ),
    "max-buckets": (Req("GET", None, None, [("max-buckets", HUGE)]), 400, "InvalidArgument"),
    "x-amz-max-parts": (
        Req("GET", "docs", "k", [("attributes", "")], {**ATTRIBUTES, "x-amz-max-parts": HUGE}),
        400,
        "InvalidArgument",
    ),
    "x-amz-part-number-marker": (
        Req(
            "GET",
            "docs",
            "k",
            [("attributes", "")],
            {**ATTRIBUTES, "x-amz-part-number-marker": HUGE},
        ),
        400,
        "InvalidArgument",
    ),
    "x-amz-copy-source-range": (
        Req(
            "PUT",
            "docs",
            "up",
            [("uploadId", UPLOAD), ("partNumber", "1")],
            {"x-amz-copy-source": "docs/k", "x-amz-copy-source-range": f"bytes={HUGE}-{HUGE}"},
        ),
        400,  # past the source's end: S3's InvalidArgument (test_w18v2_part_copy_range)
        "InvalidArgument",
    ),
    "Complete PartNumber": (
        Req(
            "POST",
            "docs",
            "up",
            [("uploadId", UPLOAD)],
            body=(
                f"<CompleteMultipartUpload><Part><PartNumber>{HUGE}</PartNumber><ETag>e</ETag>"
                "</Part></CompleteMultipartUpload>"
            ).encode(),
        ),
        400,
        "InvalidArgument",
    ),
    "rate-limited Range": (
        Req("GET", "docs", "k", headers={"Range": f"bytes={HUGE}-{HUGE}"}),
        416,
        "InvalidRange",
    ),
    "rate-limited zero-padded Content-Length": (
        Req("PUT", "docs", "padded", headers={"Content-Length": "0" * 5000 + "3"}, body=b"abc"),
        200,
        None,
    ),
    "MaxAgeSeconds": (
        Req(
            "PUT",
            "docs",
            None,
            [("cors", "")],
            {"Content-MD5": _md5(_cors(HUGE))},
            body=_cors(HUGE),
        ),
        400,
        "MalformedXML",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_number_of_5000_digits_gets_s3s_answer_never_a_500(world: World, name: str) -> None:
    req, status, code = CASES[name]
    req.query = [(key, world.upload if value == UPLOAD else value) for key, value in req.query]
    answer = world.call(req)
    assert (answer.status, _code(answer)) == (status, code), answer.body[:300]


def test_the_zero_padded_content_length_stored_its_bytes(world: World) -> None:
    world.call(CASES["rate-limited zero-padded Content-Length"][0])
    assert world.call(Req("GET", "docs", "padded")).body == b"abc"
