"""416 InvalidRange as S3 writes it (wave 12 A): the Range as sent and the object's size."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from s3proxy.errors import S3ErrorCode
from s3proxy.ranges import invalid_range
from s3proxy.xmlcodec import error_xml


def test_the_body_names_the_requested_range_then_the_size() -> None:
    error = invalid_range(11, "bytes=40-50")
    assert error.code is S3ErrorCode.InvalidRange
    assert error.headers == {"Content-Range": "bytes */11"}
    root = ET.fromstring(error_xml(error, "REQ"))
    assert [(child.tag, child.text) for child in root] == [
        ("Code", "InvalidRange"),
        ("Message", "The requested range is not satisfiable"),
        ("RangeRequested", "bytes=40-50"),
        ("ActualObjectSize", "11"),
        ("RequestId", "REQ"),
    ]


def test_without_the_header_only_the_size_is_named() -> None:
    root = ET.fromstring(error_xml(invalid_range(0), "REQ"))
    assert root.findtext("ActualObjectSize") == "0"
    assert root.find("RangeRequested") is None
