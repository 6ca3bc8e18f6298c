"""The multipart documents: hostile client XML (multipart_xml), odd upstream answers
(upstream_xml)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
import zlib

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo, UploadInfo
from s3proxy.multipart_xml import (
    complete_request_xml,
    complete_result_xml,
    list_parts_xml,
    list_uploads_xml,
    parse_complete_request,
)
from s3proxy.owner import Owner
from s3proxy.upstream_xml import (
    EmbeddedError,
    parse_complete_result,
    parse_copy_result,
    parse_initiate_result,
    parse_list_parts,
    parse_list_uploads,
)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CRC = base64.b64encode(zlib.crc32(b"x").to_bytes(4, "big")).decode()


def part_xml(number: str, etag: str, extra: str = "") -> str:
    return f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag>{extra}</Part>"


def complete(*parts: str) -> bytes:
    body = "".join(parts)
    return f'<CompleteMultipartUpload xmlns="{NS[1:-1]}">{body}</CompleteMultipartUpload>'.encode()


def test_complete_request_round_trip_with_checksums() -> None:
    body = complete(
        part_xml("1", '"' + "a" * 32 + '"', f"<ChecksumCRC32>{CRC}</ChecksumCRC32>"),
        part_xml(" 2 ", "b" * 32),  # unquoted ETags are accepted and quoted
    )
    parts = parse_complete_request(body)
    assert parts == [
        CompletedPart(1, '"' + "a" * 32 + '"', {"CRC32": CRC}),
        CompletedPart(2, '"' + "b" * 32 + '"', {}),
    ]
    assert parse_complete_request(complete_request_xml(parts)) == parts


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<CompleteMultipartUpload>", S3ErrorCode.MalformedXML),
        (b"<Other>" + part_xml("1", "e").encode() + b"</Other>", S3ErrorCode.MalformedXML),
        (complete(), S3ErrorCode.MalformedXML),
        (complete("<Part><ETag>e</ETag></Part>"), S3ErrorCode.MalformedXML),
        (complete(part_xml("one", "e")), S3ErrorCode.MalformedXML),
        (complete(part_xml("-1", "e")), S3ErrorCode.MalformedXML),
        (complete(part_xml("1", "e") * 10001), S3ErrorCode.MalformedXML),
        (
            b'<!DOCTYPE d [<!ENTITY x "y">]><CompleteMultipartUpload>'
            + part_xml("1", "&x;").encode()
            + b"</CompleteMultipartUpload>",
            S3ErrorCode.MalformedXML,
        ),
        (
            complete(part_xml("1", "e", "<ChecksumCRC32>not base64</ChecksumCRC32>")),
            S3ErrorCode.InvalidArgument,
        ),
        (
            complete(part_xml("1", "e", f"<ChecksumSHA256>{CRC}</ChecksumSHA256>")),
            S3ErrorCode.InvalidArgument,
        ),
    ],
    ids=[
        "truncated", "wrong-root", "no-parts", "no-number", "bad-number", "negative",
        "too-many", "entity", "bad-checksum", "checksum-of-wrong-size",
    ],
)  # fmt: skip
def test_bad_complete_requests(body: bytes, code: S3ErrorCode) -> None:
    with pytest.raises(S3Error) as caught:
        parse_complete_request(body)
    assert caught.value.code is code


def test_complete_result_after_keepalive_whitespace() -> None:
    body = b" \n \n " * 1000 + (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult>'
        b"<ETag>&quot;abc-2&quot;</ETag><ChecksumCRC32>AAAAAA==-2</ChecksumCRC32>"
        b"</CompleteMultipartUploadResult>"
    )
    assert parse_complete_result(body) == ('"abc-2"', {"CRC32": "AAAAAA==-2"})


def test_error_inside_a_200_raises_embedded_error() -> None:
    body = b"   \n" + b"<Error><Code>InvalidPart</Code><Message>upstream words</Message></Error>"
    with pytest.raises(EmbeddedError) as caught:
        parse_complete_result(body)
    assert caught.value.code == "InvalidPart"
    with pytest.raises(EmbeddedError):
        parse_copy_result(b"<Error><Code>SlowDown</Code></Error>")


@pytest.mark.parametrize("body", [b"", b"   ", b"<Unclosed>", b"not xml"])
def test_unreadable_upstream_documents_are_internal_errors(body: bytes) -> None:
    """The upstream's fault, never the client's MalformedXML."""
    with pytest.raises(S3Error) as caught:
        parse_complete_result(body)
    assert caught.value.code is S3ErrorCode.InternalError


def test_empty_etag_and_unquoted_etags() -> None:
    complete = b"<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>"
    assert parse_complete_result(complete) == ("", {})  # Ceph RGW 16: computed by the caller
    copied = b"<CopyObjectResult><ETag>abc</ETag><LastModified>t</LastModified></CopyObjectResult>"
    assert parse_copy_result(copied) == ('"abc"', "t")
    with pytest.raises(S3Error):  # a copy without an ETag says nothing was copied
        parse_copy_result(b"<CopyPartResult><ETag></ETag></CopyPartResult>")
    initiated = b"<InitiateMultipartUploadResult><UploadId>2~x</UploadId>"
    assert parse_initiate_result(initiated + b"</InitiateMultipartUploadResult>") == "2~x"
    with pytest.raises(S3Error):
        parse_initiate_result(b"<R><UploadId></UploadId></R>")


def test_list_parts_page() -> None:
    body = (
        b"<ListPartsResult><IsTruncated>true</IsTruncated>"
        b"<NextPartNumberMarker>2</NextPartNumberMarker><StorageClass>STANDARD</StorageClass>"
        b"<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag><Size>5</Size>"
        b"<LastModified>t1</LastModified><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        b"<Part><PartNumber>2</PartNumber><ETag>b</ETag><Size>6</Size>"
        b"<LastModified>t2</LastModified></Part></ListPartsResult>"
    )
    page = parse_list_parts(body)
    assert page.parts == [
        PartInfo(1, '"a"', 5, "t1", {"CRC32": "AAAAAA=="}),
        PartInfo(2, '"b"', 6, "t2", {}),
    ]
    assert page.next_marker == 2
    last = parse_list_parts(body.replace(b"true", b"false"))
    assert last.next_marker is None


def test_list_uploads_page_without_next_key_marker() -> None:
    """SeaweedFS leaves NextKeyMarker out: the page's last key stands in."""
    body = (
        b"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
        b"<NextUploadIdMarker>id2</NextUploadIdMarker>"
        b"<Upload><Key>a+b c</Key><UploadId>id1</UploadId><Initiated>t</Initiated></Upload>"
        b"<Upload><Key>k</Key><UploadId>id2</UploadId><Initiated>t</Initiated></Upload>"
        b"</ListMultipartUploadsResult>"
    )
    page = parse_list_uploads(body)
    assert [u.key for u in page.uploads] == ["a+b c", "k"]  # never URL-decoded
    assert page.next_marker == ("k", "id2")


def test_rendered_listings_are_well_formed() -> None:
    parts = list_parts_xml(
        [("Bucket", "b"), ("Key", "<k&>"), ("NextPartNumberMarker", None)],
        [PartInfo(1, '"e"', 3, "t", {"CRC32": CRC})],
        Owner("123456789012", "alice"),
    )
    root = ET.fromstring(parts)
    assert root.findtext(f"{NS}Key") == "<k&>"
    assert root.find(f"{NS}NextPartNumberMarker") is None
    assert root.findtext(f"{NS}Part/{NS}ChecksumCRC32") == CRC
    uploads = list_uploads_xml(
        [("Bucket", "b")],
        [UploadInfo("a b\x7f", "tok", "t")],
        ["p/"],
        encode=True,
        owner=Owner("123456789012", "alice"),
    )
    root = ET.fromstring(uploads)
    assert root.findtext(f"{NS}Upload/{NS}Key") == "a%20b%7F"
    assert root.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "p/"
    result = ET.fromstring(complete_result_xml("http://h/b/k", "b", "k", '"e-2"', {}))
    assert result.findtext(f"{NS}ETag") == '"e-2"'


def test_listed_uploads_carry_their_checksum_after_initiated() -> None:
    """ListMultipartUploads' Upload: S3's older elements in their order, then the checksum
    elements S3 added in 2025; none for an upload without a checksum."""
    owner = Owner("123456789012", "alice")
    with_sum = UploadInfo("k", "tok", "t", "GLACIER", "CRC32", "FULL_OBJECT")
    body = list_uploads_xml(
        [], [with_sum, UploadInfo("j", "t2", "t")], [], encode=False, owner=owner
    )
    first, second = ET.fromstring(body).findall(f"{NS}Upload")
    assert [child.tag[len(NS) :] for child in first] == [
        "Key", "UploadId", "Initiator", "Owner", "StorageClass", "Initiated",
        "ChecksumAlgorithm", "ChecksumType",
    ]  # fmt: skip
    assert first.findtext(f"{NS}StorageClass") == "GLACIER"
    assert first.findtext(f"{NS}ChecksumType") == "FULL_OBJECT"
    assert second.find(f"{NS}ChecksumAlgorithm") is None
    parsed = parse_list_uploads(
        b"<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId>"
        b"<Initiated>t</Initiated><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"
        b"<ChecksumType>COMPOSITE</ChecksumType></Upload><IsTruncated>false</IsTruncated>"
        b"</ListMultipartUploadsResult>"
    ).uploads[0]
    assert (parsed.checksum_algorithm, parsed.checksum_type) == ("SHA256", "COMPOSITE")
