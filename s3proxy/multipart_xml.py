"""S3 XML of multipart uploads: parsing a client's CompleteMultipartUpload body, and rendering
the results of CreateMultipartUpload, CompleteMultipartUpload, UploadPartCopy, ListParts and
ListMultipartUploads.

Split from :mod:`s3proxy.xmlcodec` (the other operations' documents and the shared element and
escaping helpers it keeps) so that each module stays one concern of a readable size.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping

from s3proxy.checksums import ALGORITHMS, decode_value
from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart, PartInfo, UploadInfo
from s3proxy.owner import Owner
from s3proxy.responses import rendered
from s3proxy.timestamps import s3_time
from s3proxy.xmlcodec import (
    MAX_COMPLETE_MARKUP,
    _element,
    _owner,
    _parse,
    children_named,
    document,
    document_pieces,
    local_name,
    quoted_etag,
    text_of,
    url_encode,
)

# --- multipart uploads -------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html and the
# CreateMultipartUpload, UploadPartCopy, ListParts and ListMultipartUploads pages.

MAX_PARTS = 10000
_CHECKSUM_ELEMENTS = {"Checksum" + algorithm: algorithm for algorithm in ALGORITHMS}


def checksums_in(element: ET.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for child in element:
        algorithm = _CHECKSUM_ELEMENTS.get(local_name(child.tag))
        if algorithm is not None and child.text and child.text.strip():
            found[algorithm] = child.text.strip()
    return found


def parse_complete_request(body: bytes) -> list[CompletedPart]:
    """A client's ``<CompleteMultipartUpload>``: structure only; the handler checks order.

    :mod:`s3proxy.complete_parse` does the same in event-loop steps for a large body."""
    return [completed_part(item) for item in complete_items(_parse(body, MAX_COMPLETE_MARKUP))]


def complete_items(root: ET.Element) -> list[ET.Element]:
    """The ``<Part>`` elements of a parsed Complete body (1 to 10,000, else MalformedXML)."""
    if local_name(root.tag) != "CompleteMultipartUpload":
        raise S3Error(S3ErrorCode.MalformedXML)
    items = children_named(root, "Part")
    if not items or len(items) > MAX_PARTS:
        raise S3Error(S3ErrorCode.MalformedXML)
    return items


def completed_part(item: ET.Element) -> CompletedPart:
    """One ``<Part>``: exactly one PartNumber (digits) and one ETag, and at most one checksum
    (:func:`_check_part_checksums`). One pass over the children: a 10,000-part body walks
    them 10,000 times."""
    numbers: list[str] = []
    etags: list[str] = []
    listed: list[tuple[str, str]] = []
    for child in item:
        name = local_name(child.tag)
        if name == "PartNumber":
            numbers.append(text_of(child))
        elif name == "ETag":
            etags.append(text_of(child))
        elif (algorithm := _CHECKSUM_ELEMENTS.get(name)) and text_of(child).strip():
            listed.append((algorithm, text_of(child).strip()))
    if len(numbers) != 1 or len(etags) != 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    number = decimal(numbers[0].strip())
    if number is None:
        raise S3Error(S3ErrorCode.MalformedXML)
    _check_part_checksums(listed)
    return CompletedPart(number, quoted_etag(etags[0]), dict(listed))


def _check_part_checksums(listed: list[tuple[str, str]]) -> None:
    """A part lists at most one checksum, of valid base64 for its algorithm: else S3's 400
    InvalidArgument naming them all, ``CRC32:<value>;`` each (the answer AWS gives to an
    invalid one, measured by OpenStack Swift's s3api tests; its message covers several)."""
    if len(listed) <= 1 and all(_is_digest(algorithm, value) for algorithm, value in listed):
        return
    raise S3Error(
        S3ErrorCode.InvalidArgument,
        "Invalid Base64 or multiple checksums present in request",
        ArgumentName="Checksum",
        ArgumentValue="".join(f"{algorithm}:{value};" for algorithm, value in listed),
    )


def _is_digest(algorithm: str, value: str) -> bool:
    try:
        decode_value(algorithm, value)
    except S3Error:
        return False
    return True


def complete_request_xml(parts: Iterable[CompletedPart]) -> bytes:
    """The upstream's CompleteMultipartUpload body, checksums passed on for it to check."""
    return document("CompleteMultipartUpload", map(complete_part_xml, parts))


def complete_part_xml(part: CompletedPart) -> str:
    sums = "".join(_element("Checksum" + alg, value) for alg, value in part.checksums.items())
    etag = _element("ETag", part.etag)
    return f"<Part><PartNumber>{part.part_number}</PartNumber>{etag}{sums}</Part>"


def initiate_result_xml(bucket: str, key: str, upload_id: str) -> bytes:
    return document(
        "InitiateMultipartUploadResult",
        [_element("Bucket", bucket), _element("Key", key), _element("UploadId", upload_id)],
    )


def complete_result_xml(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str],
    checksum_type: str | None = None,
) -> bytes:
    parts = [
        _element("Location", location),
        _element("Bucket", bucket),
        _element("Key", key),
        _element("ETag", etag),
    ]
    parts.extend(_element("Checksum" + alg, value) for alg, value in checksums.items())
    if checksum_type is not None:
        parts.append(_element("ChecksumType", checksum_type))
    return document("CompleteMultipartUploadResult", parts)


def copy_part_result_xml(
    etag: str, last_modified: str, checksums: Mapping[str, str] | None = None
) -> bytes:
    """CopyPartResult; ``checksums``: the part's, as S3 answers for an upload with one."""
    items = [_element("LastModified", s3_time(last_modified)), _element("ETag", etag)]
    items += [_element("Checksum" + alg, value) for alg, value in (checksums or {}).items()]
    return document("CopyPartResult", items)


def list_parts_xml(
    fields: list[tuple[str, str | None]], parts: Iterable[PartInfo], owner: Owner
) -> bytes:
    return rendered(list_parts_pieces(fields, parts, owner))


def list_parts_pieces(
    fields: list[tuple[str, str | None]], parts: Iterable[PartInfo], owner: Owner
) -> Iterator[str]:
    """ListPartsResult, piece by piece (rendered as sent, s3proxy.responses.xml_stream):
    ``fields`` are the top-level elements, in order (None left out)."""
    head = [_element(name, value) for name, value in fields if value is not None]
    head.append(_owner("Initiator", owner) + _owner("Owner", owner))
    return document_pieces("ListPartsResult", _parts(head, parts))


def _parts(head: list[str], parts: Iterable[PartInfo]) -> Iterator[str]:
    yield "".join(head)
    for part in parts:
        sums = "".join(_element("Checksum" + alg, value) for alg, value in part.checksums.items())
        yield (
            f"<Part><PartNumber>{part.part_number}</PartNumber>"
            f"{_element('LastModified', s3_time(part.last_modified))}{_element('ETag', part.etag)}"
            f"<Size>{part.size}</Size>{sums}</Part>"
        )


def list_uploads_xml(
    fields: list[tuple[str, str | None]],
    uploads: Iterable[UploadInfo],
    prefixes: Iterable[str],
    *,
    encode: bool,
    owner: Owner,
) -> bytes:
    return rendered(list_uploads_pieces(fields, uploads, prefixes, encode=encode, owner=owner))


def list_uploads_pieces(
    fields: list[tuple[str, str | None]],
    uploads: Iterable[UploadInfo],
    prefixes: Iterable[str],
    *,
    encode: bool,
    owner: Owner,
) -> Iterator[str]:
    """ListMultipartUploadsResult, piece by piece (1,000 uploads of long escaped keys make
    ~6 MiB; rendered as sent); ``uploads`` carry client keys and client UploadIds. The
    checksum elements (S3 since 2025) follow the older ones, as S3 added them."""
    head = "".join(_element(name, value) for name, value in fields if value is not None)
    return document_pieces(
        "ListMultipartUploadsResult", _uploads(head, uploads, prefixes, encode, owner)
    )


def _uploads(
    head: str, uploads: Iterable[UploadInfo], prefixes: Iterable[str], encode: bool, owner: Owner
) -> Iterator[str]:
    code = url_encode if encode else (lambda value: value)
    yield head
    owners = _owner("Initiator", owner) + _owner("Owner", owner)
    for upload in uploads:
        sums = ""
        if upload.checksum_algorithm is not None:
            sums = _element("ChecksumAlgorithm", upload.checksum_algorithm)
        if upload.checksum_type is not None:
            sums += _element("ChecksumType", upload.checksum_type)
        yield (
            f"<Upload>{_element('Key', code(upload.key))}{_element('UploadId', upload.upload_id)}"
            f"{owners}{_element('StorageClass', upload.storage_class)}"
            f"{_element('Initiated', s3_time(upload.initiated))}{sums}</Upload>"
        )
    for prefix in prefixes:
        yield f"<CommonPrefixes>{_element('Prefix', code(prefix))}</CommonPrefixes>"
