"""The pure parsers of what a client sends, fuzzed (wave 18, I): each answers every input with a
value or an S3Error, never another exception (a 500), and parsers that read the same thing agree.

- aws-chunked bodies (s3proxy.auth.chunked) in the three modes, valid ones changed a few bytes at
  a time: the outcome (data and trailers, or the error) is the same however the wire bytes are
  cut into reads, and data is only ever accepted as it was encoded;
- the XML bodies (DeleteObjects, versioning, CreateBucket, tagging, ACL, CORS, Complete) with
  their elements' text replaced by hostile values; a Complete parsed in event-loop steps
  (s3proxy.complete_parse) gives the one-go parse's answer;
- headers: Range, conditional dates and ETags, x-amz-copy-source-range, x-amz-tagging, the
  bytes a rate-limited request declares, in latin-1 (what a header may hold).

Derandomized, with a bounded number of examples: a few seconds in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from s3proxy import acl, complete_parse, conditions, cors, ranges, tagging, xmlcodec
from s3proxy.auth.chunked import ChunkedContext, _Decoder
from s3proxy.errors import S3Error
from s3proxy.handlers.multipart import copy_source_range
from s3proxy.limits import declared_bytes
from s3proxy.model import ReadConditions
from s3proxy.multipart_xml import parse_complete_request
from s3proxy.owner import Owner
from tests.unit.test_chunked import MODES, build

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# --- aws-chunked -------------------------------------------------------------------------------

DATA = bytes(range(256)) * 36  # 9,216 bytes: two chunks of at least the 8 KiB minimum
Outcome = tuple[Any, ...]


def decode(wire: bytes, ctx: ChunkedContext, cuts: Sequence[int]) -> Outcome:
    """("ok", data, trailers) or ("error", code, bytes released before it), reading ``wire``
    in reads that end at ``cuts``."""
    try:
        decoder = _Decoder(ctx, None)
    except S3Error as error:
        return ("refused", error.code)
    released: list[bytes] = []
    position = 0
    try:
        for cut in [*sorted(set(cuts)), len(wire)]:
            if cut > position:
                released.extend(decoder.feed(wire[position:cut]))
                position = cut
        released.append(decoder.finish())
    except S3Error as error:
        return ("error", error.code, len(b"".join(released)))
    return ("ok", b"".join(released), dict(decoder.trailers))


@st.composite
def chunked_bodies(draw: st.DrawFn) -> tuple[bytes, ChunkedContext, list[int]]:
    mode = draw(st.sampled_from(MODES))
    data = DATA[: draw(st.sampled_from([0, 1, 8192, len(DATA)]))]
    wire, ctx = build(mode, data, "CRC32", 8192)
    changed = bytearray(wire)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(changed) - 1))
        change = draw(st.sampled_from(["byte", "delete", "insert", "repeat"]))
        if change == "byte":
            changed[at] = draw(st.sampled_from(b"\r\n;:= 0fF\x00x-"))
        elif change == "delete":
            del changed[at : at + draw(st.integers(1, 4))]
        elif change == "insert":
            changed[at:at] = draw(st.binary(min_size=1, max_size=6))
        else:
            changed[at:at] = changed[at : at + draw(st.integers(1, 40))]
    cuts = draw(st.lists(st.integers(0, len(changed)), max_size=8))
    return bytes(changed), ctx, cuts


@FUZZ
@given(chunked_bodies())
def test_aws_chunked_answers_the_same_however_it_is_read(
    case: tuple[bytes, ChunkedContext, list[int]],
) -> None:
    wire, ctx, cuts = case
    whole = decode(wire, ctx, [])
    assert decode(wire, ctx, cuts) == whole
    assert decode(wire, ctx, range(0, len(wire), 7)) == whole
    if whole[0] == "ok":
        assert DATA.startswith(whole[1]) and ctx.decoded_length == len(whole[1])
    else:  # what was released before the error is never the whole body
        assert whole[0] == "refused" or whole[2] < (ctx.decoded_length or 1)


# --- XML bodies --------------------------------------------------------------------------------

OWNER = Owner("123456789012", "t")
DOCUMENTS: dict[str, tuple[Callable[[bytes], object], bytes]] = {
    "Complete": (
        parse_complete_request,
        b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag>'
        b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>",
    ),
    "Delete": (
        xmlcodec.parse_delete_entries,
        b"<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId><ETag>e</ETag>"
        b"</Object></Delete>",
    ),
    "Versioning": (
        xmlcodec.parse_versioning_request,
        b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>"
        b"</VersioningConfiguration>",
    ),
    "CreateBucket": (
        xmlcodec.parse_create_bucket_body,
        b"<CreateBucketConfiguration><LocationConstraint>eu</LocationConstraint>"
        b"</CreateBucketConfiguration>",
    ),
    "Tagging": (
        tagging.parse_document,
        b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
    ),
    "ACL": (
        lambda body: acl.parse_policy(body, OWNER),
        b"<AccessControlPolicy><Owner><ID>123456789012</ID></Owner><AccessControlList><Grant>"
        b"<Grantee><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>"
        b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
    ),
    "CORS": (
        cors.parse_cors_configuration,
        b"<CORSConfiguration><CORSRule><ID>x</ID><AllowedMethod>GET</AllowedMethod>"
        b"<AllowedOrigin>*</AllowedOrigin><AllowedHeader>a*</AllowedHeader>"
        b"<MaxAgeSeconds>5</MaxAgeSeconds><ExposeHeader>e</ExposeHeader></CORSRule>"
        b"</CORSConfiguration>",
    ),
}
HOSTILE_TEXT = [
    b"",
    b" ",
    b"-",
    b"--5",
    b"+5",
    "\u00b2".encode(),
    "\u0663".encode(),
    b"1" * 5000,
    b"0" * 5000 + b"1",
    b"2147483648",
    b"&amp;",
    b"&#1;",
    b"&#x10FFFF;",
    b"<![CDATA[x]]>",
    b"<!--c-->",
    b"<x/>",
    b"\xff",
    b"\xc3",
    b"*",
    b"**",
    b"aws:k",
    b"PUT",
]
_TEXT = re.compile(rb">([^<]*)<")
_ELEMENT = re.compile(rb"<(\w+)>[^<]*</\1>")


@st.composite
def xml_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    body = bytearray(DOCUMENTS[name][1])
    for _ in range(draw(st.integers(1, 3))):
        change = draw(st.sampled_from(["text", "text", "repeat", "insert"]))
        texts = [match.span(1) for match in _TEXT.finditer(body)]
        elements = [match.span() for match in _ELEMENT.finditer(body)]
        if change == "text" and texts:
            start, end = draw(st.sampled_from(texts))
            body[start:end] = draw(st.sampled_from(HOSTILE_TEXT))
        elif change == "repeat" and elements:
            start, end = draw(st.sampled_from(elements))
            body[start:start] = body[start:end]
        else:
            at = draw(st.integers(0, len(body)))
            body[at:at] = draw(st.sampled_from(HOSTILE_TEXT))
    return name, bytes(body)


def outcome(parse: Callable[[bytes], object], body: bytes) -> Outcome:
    try:
        return ("ok", repr(parse(body)))
    except S3Error as error:
        return ("error", error.code, error.message)


def _with_text(name: str, old: bytes, new: bytes) -> tuple[str, bytes]:
    return name, DOCUMENTS[name][1].replace(old, new)


@FUZZ
@given(xml_bodies())
@example(_with_text("CORS", b">5<", b">--5<"))  # each was a ValueError (a 500): wave 18, I
@example(_with_text("CORS", b">5<", ">\u00b2<".encode()))
@example(_with_text("CORS", b">5<", b">" + b"1" * 5000 + b"<"))
@example(_with_text("Complete", b">1<", b">" + b"0" * 5000 + b"1<"))
def test_an_xml_body_gets_a_value_or_an_s3_error(case: tuple[str, bytes]) -> None:
    name, body = case
    outcome(DOCUMENTS[name][0], body)


@FUZZ
@given(case=xml_bodies().filter(lambda case: case[0] == "Complete"))
def test_a_complete_parsed_in_steps_answers_as_one_go(
    case: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(complete_parse, "SLICE_BYTES", 7)  # every body here is stepped
    body = case[1]
    stepped = outcome(
        lambda data: asyncio.run(complete_parse.parse_complete_request_stepped(data)), body
    )
    assert stepped == outcome(parse_complete_request, body)


# --- headers -----------------------------------------------------------------------------------

LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)
NUMBERS = st.sampled_from(["", "0", "5", "-1", "\u00b2", "1" * 5000, "0" * 5000 + "1", " 7"])
DATES = st.sampled_from(
    [
        "Mon, 01 Jan 2001 00:00:00 GMT",
        "Sunday, 01-Jan-01 00:00:00 GMT",
        "Mon Jan  1 00:00:00 2001",
        "01 Jan 99999999999999999999 00:00:00 GMT",
        "31 Dec 9999 23:59:59 +9999",
        "00 Foo 0000 99:99:99",
        "Mon, 01 Jan 2001 24:00:60 -2400",
    ]
)
HEADER = st.one_of(
    LATIN1,
    DATES,
    st.builds("bytes={}-{}".format, NUMBERS, NUMBERS),
    st.builds("{}{}".format, DATES, LATIN1),
)


@FUZZ
@given(HEADER, HEADER, st.sampled_from(['"e"', "e", 'W/"e"', "", "*"]))
@example("bytes=\u00b2-\u00b3", "", "e")  # a ValueError in declared_bytes (wave 18, I)
@example(f"bytes={'1' * 5000}-{'1' * 5000}", "", "e")  # and in copy_source_range
def test_a_header_gets_a_value_or_an_s3_error(first: str, second: str, etag: str) -> None:
    read = ReadConditions(
        if_match=first, if_none_match=etag, if_modified_since=second, if_unmodified_since=first
    )
    calls: list[Callable[[], object]] = [
        lambda: ranges.parse_range(first),
        lambda: conditions.usable_date(first),
        lambda: conditions.quoted_etag(first),
        lambda: conditions.etag_matches(first, etag),
        lambda: conditions.upstream_conditions(read),
        lambda: conditions.failed_condition(read, etag, second),
        lambda: conditions.failed_source_condition(read, etag, first),
        lambda: copy_source_range(first),
        lambda: tagging.parse_header(first),
        lambda: declared_bytes("GET", None, first),
        lambda: declared_bytes("PUT", first, None),
        lambda: cors.requested_headers(first),
    ]
    for call in calls:
        with contextlib.suppress(S3Error):
            call()
    byte_range = ranges.parse_range(first)
    if byte_range is not None:
        for size in (0, 1, 10):
            try:
                resolved = ranges.resolve_range(byte_range, size)
            except S3Error:
                continue
            assert resolved is None or 0 <= resolved[0] <= resolved[1] < size
