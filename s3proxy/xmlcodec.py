"""S3 XML documents: the only module that renders or parses XML.

Rendering is plain string building with escaping (fast, and S3's documents are flat); parsing of
client bodies (later: CompleteMultipartUpload, DeleteObjects) goes through defusedxml with a size
cap, so hostile XML is refused before it can expand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from urllib.parse import quote, unquote_plus
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import DeleteResult, ListEntry, ListPage

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def error_xml(error: S3Error, request_id: str, resource: str | None = None) -> bytes:
    """The ``<Error>`` document of https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
    parts = [
        XML_DECLARATION,
        "<Error><Code>",
        error.code.name,
        "</Code><Message>",
        escape(error.message),
        "</Message>",
    ]
    for name, value in error.fields.items():
        parts.append(f"<{name}>{escape(value)}</{name}>")
    if resource is not None:
        parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{request_id}</RequestId></Error>")
    return "".join(parts).encode("utf-8")


# --- parsing: client bodies (hostile) and upstream responses ---------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _parse(body: bytes) -> ET.Element:
    """Parse with defusedxml: entities, DTDs and external references are refused."""
    try:
        root: ET.Element = DefusedET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise S3Error(S3ErrorCode.MalformedXML) from None
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element, name: str, default: str = "") -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return default


def parse_delete_request(body: bytes, max_keys: int = 1000) -> tuple[bool, list[str]]:
    """``<Delete><Quiet/><Object><Key/>…</Delete>`` → (quiet, keys)."""
    root = _parse(body)
    if _local(root.tag) != "Delete":
        raise S3Error(S3ErrorCode.MalformedXML)
    objects = _children(root, "Object")
    if not objects or len(objects) > max_keys:
        raise S3Error(S3ErrorCode.MalformedXML)
    keys = []
    for item in objects:
        key = _children(item, "Key")
        if len(key) != 1 or not key[0].text:
            raise S3Error(S3ErrorCode.MalformedXML)
        keys.append(key[0].text)
    quiet = _text(root, "Quiet", "false").strip().lower() == "true"
    return quiet, keys


def check_create_bucket_body(body: bytes) -> None:
    """CreateBucketConfiguration is accepted (any region); malformed XML is refused."""
    if body.strip():
        root = _parse(body)
        if _local(root.tag) != "CreateBucketConfiguration":
            raise S3Error(S3ErrorCode.MalformedXML)


def parse_list_v2(body: bytes, url_encoded: bool) -> ListPage:
    """An upstream ListObjectsV2 response."""
    root = _parse(body)
    # S3's encoding-type=url is form encoding: a space arrives as "+" (botocore: unquote_plus).
    decode = unquote_plus if url_encoded else (lambda value: value)
    entries = [
        ListEntry(
            key=decode(_text(item, "Key")),
            etag=_text(item, "ETag"),
            size=int(_text(item, "Size", "0") or 0),
            last_modified=_text(item, "LastModified"),
            storage_class=_text(item, "StorageClass", "STANDARD") or "STANDARD",
        )
        for item in _children(root, "Contents")
    ]
    prefixes = [decode(_text(item, "Prefix")) for item in _children(root, "CommonPrefixes")]
    truncated = _text(root, "IsTruncated", "false").strip().lower() == "true"
    token = _text(root, "NextContinuationToken") or None
    return ListPage(entries, prefixes, token if truncated else None)


def parse_delete_result(body: bytes) -> list[DeleteResult]:
    root = _parse(body)
    results = [DeleteResult(_text(item, "Key")) for item in _children(root, "Deleted")]
    results.extend(
        DeleteResult(_text(item, "Key"), _text(item, "Code") or "InternalError")
        for item in _children(root, "Error")
    )
    return results


def parse_copy_result(body: bytes) -> tuple[str, str]:
    """(ETag, LastModified) of an upstream CopyObjectResult; an ``<Error>`` body raises."""
    root = _parse(body)
    if _local(root.tag) == "Error":
        raise S3Error(S3ErrorCode.InternalError)
    etag = _text(root, "ETag").strip()
    if etag and not etag.startswith('"'):  # SeaweedFS leaves the quotes out
        etag = f'"{etag}"'
    return etag, _text(root, "LastModified")


# --- rendering ---------------------------------------------------------------------------------


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def document(root: str, parts: Iterable[str]) -> bytes:
    return f'{XML_DECLARATION}<{root} xmlns="{S3_NS}">{"".join(parts)}</{root}>'.encode()


def delete_request_xml(keys: Iterable[str]) -> bytes:
    objects = "".join(f"<Object>{_element('Key', key)}</Object>" for key in keys)
    return f"{XML_DECLARATION}<Delete><Quiet>false</Quiet>{objects}</Delete>".encode()


def delete_result_xml(results: Iterable[DeleteResult], quiet: bool) -> bytes:
    parts = []
    for result in results:
        if result.error is None:
            if not quiet:
                parts.append(f"<Deleted>{_element('Key', result.key)}</Deleted>")
        else:
            code = S3ErrorCode[result.error] if result.error in S3ErrorCode.__members__ else None
            message = code.default_message if code else "We encountered an internal error."
            parts.append(
                f"<Error>{_element('Key', result.key)}{_element('Code', result.error)}"
                f"{_element('Message', message)}</Error>"
            )
    return document("DeleteResult", parts)


def copy_result_xml(etag: str, last_modified: str) -> bytes:
    return document(
        "CopyObjectResult", [_element("LastModified", last_modified), _element("ETag", etag)]
    )


def list_buckets_xml(owner_id: str, buckets: Iterable[tuple[str, str]]) -> bytes:
    items = "".join(
        f"<Bucket>{_element('Name', name)}{_element('CreationDate', created)}</Bucket>"
        for name, created in buckets
    )
    owner = f"<Owner>{_element('ID', owner_id)}{_element('DisplayName', owner_id)}</Owner>"
    return document("ListAllMyBucketsResult", [owner, f"<Buckets>{items}</Buckets>"])


def location_xml(region: str) -> bytes:
    value = "" if region == "us-east-1" else escape(region)
    body = f'<LocationConstraint xmlns="{S3_NS}">{value}</LocationConstraint>'
    return (XML_DECLARATION + body).encode()


def versioning_xml() -> bytes:
    return document("VersioningConfiguration", [])


def list_objects_xml(
    fields: list[tuple[str, str | None]],
    entries: Iterable[ListEntry],
    prefixes: Iterable[str],
    *,
    encode: bool,
    owner_id: str | None,
) -> bytes:
    """ListBucketResult for V1 and V2: ``fields`` are the top-level elements, in order (a None
    value is left out); keys and prefixes are URL-encoded when the client asked for it."""
    code = (lambda value: quote(value, safe="/")) if encode else (lambda value: value)
    parts = [_element(name, value) for name, value in fields if value is not None]
    owner = (
        f"<Owner>{_element('ID', owner_id)}{_element('DisplayName', owner_id)}</Owner>"
        if owner_id is not None
        else ""
    )
    for entry in entries:
        parts.append(
            f"<Contents>{_element('Key', code(entry.key))}"
            f"{_element('LastModified', entry.last_modified)}{_element('ETag', entry.etag)}"
            f"<Size>{entry.size}</Size>{owner}"
            f"{_element('StorageClass', entry.storage_class)}</Contents>"
        )
    parts.extend(
        f"<CommonPrefixes>{_element('Prefix', code(prefix))}</CommonPrefixes>"
        for prefix in prefixes
    )
    return document("ListBucketResult", parts)
