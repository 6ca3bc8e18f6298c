"""A large CompleteMultipartUpload body parsed (and the upstream's built) in event-loop steps.

A body of 10,000 parts is ~1.3 MB of XML: parsing it and building the part list in one go took
~190 ms of CPU on the event loop, and every other tenant's request on that worker waited for
it. Here the same defusedxml parser (no DTD, no entities, no external references) is fed the
body in slices and the parts are built in batches, with the loop free between steps, so one
step holds it for a few milliseconds. The answers (MalformedXML, InvalidRequest for a bad
checksum) are :func:`s3proxy.multipart_xml.parse_complete_request`'s, from the same helpers. A body
of one slice or less — every ordinary Complete — is parsed at once, paying nothing extra.
The body sent upstream for 10,000 parts took ~35 ms in one step: it is built in batches too.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart
from s3proxy.multipart_xml import (
    complete_items,
    complete_part_xml,
    complete_request_xml,
    completed_part,
    parse_complete_request,
)
from s3proxy.xmlcodec import MAX_COMPLETE_MARKUP, check_markup, document

SLICE_BYTES = 16 * 1024
"""Bytes of XML fed to the parser per loop step (~1 ms of CPU; a part is ~130 bytes)."""

PARTS_PER_STEP = 200
"""``<Part>`` elements turned into CompletedPart per loop step (~1 ms of CPU)."""


async def parse_complete_request_stepped(body: bytes) -> list[CompletedPart]:
    """:func:`parse_complete_request`, yielding to the event loop between steps."""
    if len(body) <= SLICE_BYTES:
        return parse_complete_request(body)
    check_markup(body, MAX_COMPLETE_MARKUP)
    parser = DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=True)
    view = memoryview(body)
    try:
        for start in range(0, len(body), SLICE_BYTES):
            parser.feed(bytes(view[start : start + SLICE_BYTES]))
            await asyncio.sleep(0)
        root: ET.Element = parser.close()
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise S3Error(S3ErrorCode.MalformedXML) from None
    items = complete_items(root)
    parts: list[CompletedPart] = []
    for start in range(0, len(items), PARTS_PER_STEP):
        parts.extend(completed_part(item) for item in items[start : start + PARTS_PER_STEP])
        await asyncio.sleep(0)
    return parts


async def complete_request_xml_stepped(parts: list[CompletedPart]) -> bytes:
    """:func:`complete_request_xml`, yielding to the event loop between batches of parts."""
    if len(parts) <= PARTS_PER_STEP:
        return complete_request_xml(parts)
    items: list[str] = []
    for start in range(0, len(parts), PARTS_PER_STEP):
        items.extend(map(complete_part_xml, parts[start : start + PARTS_PER_STEP]))
        await asyncio.sleep(0)
    return document("CompleteMultipartUpload", items)
