"""Request bodies with more markup than their S3 document could hold (wave 11 H).

A DeleteObjects body may be 6 MiB and a Complete body 4 MiB; filled with empty elements, the
tree built from them cost ~2 s (DeleteObjects, on the event loop) and ~1 s (Complete) of CPU and
136 / 87 MiB, and both were then carried out, the extra elements ignored. A body with more ``<``
than the largest legal document is MalformedXML before the parser sees a byte: these tests count
the parser's calls, never time them, and check the largest legal documents still parse.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from s3proxy import complete_parse, xmlcodec
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import parse_delete_request


@pytest.fixture()
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the bodies handed to defusedxml, by either parser."""
    seen: list[int] = []
    fromstring = xmlcodec.DefusedET.fromstring
    parser_class = complete_parse.DefusedXMLParser

    def counted_fromstring(body: bytes, **options: Any) -> ET.Element:
        seen.append(len(body))
        return fromstring(body, **options)

    class CountedParser(parser_class):  # type: ignore[misc, valid-type]
        def feed(self, data: bytes) -> None:
            seen.append(len(data))
            super().feed(data)

    monkeypatch.setattr(xmlcodec.DefusedET, "fromstring", counted_fromstring)
    monkeypatch.setattr(complete_parse, "DefusedXMLParser", CountedParser)
    return seen


def refused(call: Any) -> S3ErrorCode:
    with pytest.raises(S3Error) as caught:
        call()
    return caught.value.code


def test_a_delete_of_one_object_holding_a_flood_of_elements_is_never_parsed(
    parses: list[int],
) -> None:
    body = b"<Delete><Object><Key>a</Key>" + b"<x/>" * 100_000 + b"</Object></Delete>"
    assert refused(lambda: parse_delete_request(body)) is S3ErrorCode.MalformedXML
    assert parses == []


def test_the_largest_legal_delete_still_parses(parses: list[int]) -> None:
    """1,000 objects whose Key and VersionId are CDATA sections: ~8,000 ``<``."""
    entries = b"".join(
        b"<Object><Key><![CDATA[k%d]]></Key><VersionId><![CDATA[null]]></VersionId></Object>" % n
        for n in range(1000)
    )
    quiet, keys = parse_delete_request(b"<Delete><Quiet>true</Quiet>" + entries + b"</Delete>")
    assert quiet is True and len(keys) == 1000 and keys[-1] == ("k999", "null")
    all_children = b"<ETag>e</ETag><LastModifiedTime>t</LastModifiedTime><Size>1</Size>"
    conditional = b"".join(
        b"<Object><Key>k%d</Key><VersionId>null</VersionId>%s</Object>" % (n, all_children)
        for n in range(1000)
    )
    body = b"<Delete><Quiet>true</Quiet>" + conditional + b"</Delete>"
    assert refused(lambda: parse_delete_request(body)) is S3ErrorCode.NotImplemented  # read
    assert len(parses) == 2


def test_a_complete_holding_a_flood_of_elements_is_never_parsed(parses: list[int]) -> None:
    flood = b"<x/>" * (1024 * 1024)
    body = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag>"
    body += flood + b"</Part></CompleteMultipartUpload>"
    stepped = complete_parse.parse_complete_request_stepped(body)
    assert refused(lambda: asyncio.run(stepped)) is S3ErrorCode.MalformedXML
    assert parses == []


def test_the_largest_legal_complete_still_parses(parses: list[int]) -> None:
    """10,000 parts, each with its part number, ETag and a checksum as CDATA sections."""
    parts = b"".join(
        b'<Part><PartNumber><![CDATA[%d]]></PartNumber><ETag><![CDATA["e"]]></ETag>'
        b"<ChecksumCRC32><![CDATA[AAAAAA==]]></ChecksumCRC32></Part>" % n
        for n in range(1, 10_001)
    )
    body = b"<CompleteMultipartUpload>" + parts + b"</CompleteMultipartUpload>"
    completed = asyncio.run(complete_parse.parse_complete_request_stepped(body))
    assert len(completed) == 10_000 and completed[-1].part_number == 10_000
    assert sum(parses) == len(body)
