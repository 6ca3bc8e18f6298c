"""S3 XML documents: rendering them, and parsing what clients send.

Rendering is plain string building with escaping (fast, and S3's documents are flat); answers
that can be large (listings, DeleteObjects) are rendered as pieces, sent as they are made
(s3proxy.responses.xml_stream). Parsing of client bodies (CompleteMultipartUpload,
DeleteObjects) goes through defusedxml with a size cap, so hostile XML is refused before it can
expand. What upstream servers answer is parsed in
:mod:`s3proxy.upstream_xml`, with the element helpers below.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    DeleteResult,
    ListEntry,
)
from s3proxy.owner import Owner
from s3proxy.responses import rendered
from s3proxy.timestamps import s3_time

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]")
"""Characters a key may hold that cannot stand as themselves in XML 1.0 text: a raw CR reads
back as LF (a different key), the others make the document unparseable."""


def xml_text(value: str) -> str:
    """``value`` escaped as XML text, CR and control characters as character references, as S3
    writes them (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html, "XML
    related object key constraints"); the references to control characters are still not XML
    1.0, which is why clients list such keys with ``encoding-type=url``."""
    value = escape(value)
    if value.isprintable():  # most keys: one C-speed scan; the regex only for the rest
        return value
    return _NOT_XML_TEXT.sub(lambda match: f"&#{ord(match.group())};", value)


_NOT_XML_AT_ALL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def message_text(value: str) -> str:
    """An error's ``<Message>`` as XML 1.0 every parser reads. A message may quote what the
    client sent (a key or prefix a scoped key may not touch, a bucket name); a control
    character there, raw or as ``&#1;``, made the whole document unparseable, and botocore then
    reports the bare status ("403") instead of the error's code. Such characters are written
    ``\\u0001`` instead: the message is for people. An error's other fields are written so too
    (:func:`error_xml`): most quote the client (a key, a bucket name, an access key), and a
    document no parser reads names nothing exactly."""
    if not value.isprintable():
        value = _NOT_XML_AT_ALL.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    return xml_text(value)


def error_xml(error: S3Error, request_id: str, resource: str | None = None) -> bytes:
    """The ``<Error>`` document of https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
    parts = [
        XML_DECLARATION,
        "<Error><Code>",
        error.code.name,
        "</Code><Message>",
        message_text(error.message),
        "</Message>",
    ]
    for name, value in error.fields.items():  # as <Message>: a client's \x01 there was &#1;
        parts.append(f"<{name}>{message_text(value)}</{name}>")
    if resource is not None:
        parts.append(f"<Resource>{message_text(resource)}</Resource>")
    parts.append(f"<RequestId>{request_id}</RequestId></Error>")
    return "".join(parts).encode("utf-8")


# --- parsing: client bodies (hostile); element helpers shared with upstream_xml ----------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


MAX_MARKUP = 17 * 1024
"""The most ``<`` a request body parsed at once may hold: DeleteObjects' largest legal document
(1,000 objects of six elements, each opened and closed, and five texts that may be CDATA, 17 each,
plus the root and Quiet) has ~17,000; every other such body (tags, ACL, CORS, versioning,
CreateBucket) far fewer. See :func:`check_markup`."""

MAX_COMPLETE_MARKUP = 10_000 * 23 + 16
"""The most ``<`` a CompleteMultipartUpload body may hold: 10,000 parts of eight elements (Part,
PartNumber, ETag, five checksums), each opened and closed, and seven texts that may be CDATA.
4 MiB of empty elements in one Part took ~1 s of CPU (its children walked in one loop step) and
87 MiB, and was completed (wave 11 H)."""


def check_markup(body: bytes, limit: int) -> None:
    """MalformedXML, before any parsing, for a body with more than ``limit`` ``<``: more markup
    than the document S3 defines could hold, so it fails S3's schema. Every element, comment
    and CDATA section starts with one (text holds it escaped), and counting them costs a
    millisecond for 6 MiB, where building the tree of a 6 MiB DeleteObjects of empty elements
    took ~2 s of the worker's CPU and 136 MiB (wave 11 H)."""
    if body.count(b"<") > limit:
        raise S3Error(S3ErrorCode.MalformedXML)


def _parse(body: bytes, max_markup: int = MAX_MARKUP) -> ET.Element:
    """Parse with defusedxml: entities, DTDs and external references are refused, and so is
    more markup than ``max_markup`` (:func:`check_markup`)."""
    check_markup(body, max_markup)
    try:
        root: ET.Element = DefusedET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise S3Error(S3ErrorCode.MalformedXML) from None
    return root


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def children_named(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if local_name(child.tag) == name]


def text_of(element: ET.Element) -> str:
    """A client's value element's text; MalformedXML if it holds an element, as S3's schema
    says: ``.text`` stops at a child, so ``<Key>a<x/>b</Key>`` was the key "a" (wave 18, I)."""
    if len(element):
        raise S3Error(S3ErrorCode.MalformedXML)
    return element.text or ""


def child_text(element: ET.Element, name: str, default: str = "") -> str:
    """An upstream answer's value, read leniently; a client's goes through :func:`text_of`."""
    for child in element:
        if local_name(child.tag) == name:
            return child.text or ""
    return default


# ObjectIdentifier elements that make an entry's delete conditional (S3, 2024): ETag is carried
# out (s3proxy.backends.conditional_deletes); the other two S3 takes on directory buckets only.
_DELETE_CONDITIONS = ("LastModifiedTime", "Size")


def parse_delete_request(
    body: bytes, max_keys: int = 1000
) -> tuple[bool, list[tuple[str, str | None]]]:
    """``<Delete><Quiet/><Object><Key/><VersionId/>…</Delete>`` → (quiet, [(key, version)]),
    for a caller that carries out no condition: an entry's ``<ETag>`` is refused here (501),
    never dropped (:func:`parse_delete_entries` gives it)."""
    quiet, entries, etags = parse_delete_entries(body, max_keys)
    if any(etag is not None for etag in etags):
        raise S3Error(
            S3ErrorCode.NotImplemented,
            "Conditional deletes (ETag in DeleteObjects) are not implemented.",
        )
    return quiet, entries


def parse_delete_entries(
    body: bytes, max_keys: int = 1000
) -> tuple[bool, list[tuple[str, str | None]], list[str | None]]:
    """DeleteObjects' body → (quiet, [(key, version)], [each entry's ``<ETag>``, or None]): an
    entry with an ETag is deleted only if it names the current object (S3's conditional
    delete). ``<LastModifiedTime>`` and ``<Size>`` (directory buckets only) are 501."""
    root = _parse(body)
    if local_name(root.tag) != "Delete":
        raise S3Error(S3ErrorCode.MalformedXML)
    objects = children_named(root, "Object")
    if not objects or len(objects) > max_keys:
        raise S3Error(S3ErrorCode.MalformedXML)
    entries: list[tuple[str, str | None]] = []
    etags: list[str | None] = []
    for item in objects:
        key, version = children_named(item, "Key"), children_named(item, "VersionId")
        etag = children_named(item, "ETag")
        if len(key) != 1 or not text_of(key[0]) or len(version) > 1 or len(etag) > 1:
            raise S3Error(S3ErrorCode.MalformedXML)
        for condition in _DELETE_CONDITIONS:
            if children_named(item, condition):  # refused, never deleted unconditionally
                raise S3Error(
                    S3ErrorCode.NotImplemented,
                    f"Conditional deletes ({condition} in DeleteObjects) are not implemented.",
                )
        entries.append((text_of(key[0]), text_of(version[0]) if version else None))
        etags.append(text_of(etag[0]).strip() if etag else None)
    quiets = children_named(root, "Quiet")  # <Quiet>true<x/></Quiet> was read as "true"
    quiet = _XML_BOOLEAN.get(text_of(quiets[0]).strip().lower() if quiets else "false")
    if quiet is None or len(quiets) > 1:  # S3 validates against its schema: "maybe" is no answer
        raise S3Error(S3ErrorCode.MalformedXML)
    return quiet, entries, etags


_XML_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}
"""XML Schema's xs:boolean (Quiet's type): ``1`` is true, as ``true`` is."""


_VERSIONING_VALUES = {"Status": ("Enabled", "Suspended"), "MfaDelete": ("Enabled", "Disabled")}


def parse_versioning_request(body: bytes) -> dict[str, str]:
    """PutBucketVersioning's ``<VersioningConfiguration>`` → {"Status": …, "MfaDelete": …}, only
    the elements present. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html"""
    root = _parse(body)
    if local_name(root.tag) != "VersioningConfiguration" or (root.text or "").strip():
        raise S3Error(S3ErrorCode.MalformedXML)
    found: dict[str, str] = {}
    for child in root:
        name, value = local_name(child.tag), (child.text or "").strip()
        if name in found or value not in _VERSIONING_VALUES.get(name, ()) or len(child):
            raise S3Error(S3ErrorCode.MalformedXML)
        found[name] = value
    return found


_BUCKET_CONFIGURATION_UNSUPPORTED = frozenset({"Location", "Bucket", "Tags"})
"""CreateBucketConfiguration elements S3 defines (directory buckets, tags) the proxy ignores."""


def parse_create_bucket_body(body: bytes) -> str | None:
    """``<CreateBucketConfiguration><LocationConstraint>`` → the constraint (None when there is
    no body, no constraint or an empty one). Any other element S3 defines → 501
    NotImplemented; anything else, or a constraint with children or given twice → MalformedXML."""
    if not body.strip():
        return None
    root = _parse(body)
    if local_name(root.tag) != "CreateBucketConfiguration":
        raise S3Error(S3ErrorCode.MalformedXML)
    constraints = []
    for child in root:
        name = local_name(child.tag)
        if name in _BUCKET_CONFIGURATION_UNSUPPORTED:
            raise S3Error(
                S3ErrorCode.NotImplemented,
                f"CreateBucketConfiguration {name} is not implemented",
            )
        if name != "LocationConstraint" or len(child):
            raise S3Error(S3ErrorCode.MalformedXML)
        constraints.append((child.text or "").strip())
    if len(constraints) > 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    return (constraints[0] or None) if constraints else None


# --- rendering ---------------------------------------------------------------------------------


def _element(name: str, value: str) -> str:
    return f"<{name}>{xml_text(value)}</{name}>"


def document(root: str, parts: Iterable[str]) -> bytes:
    return f'{XML_DECLARATION}<{root} xmlns="{S3_NS}">{"".join(parts)}</{root}>'.encode()


def document_pieces(root: str, parts: Iterable[str]) -> Iterator[str]:
    """:func:`document`'s text piece by piece, for answers that can be large (listings,
    DeleteObjects), which s3proxy.responses.xml_stream sends as they are rendered."""
    yield f'{XML_DECLARATION}<{root} xmlns="{S3_NS}">'
    yield from parts
    yield f"</{root}>"


def delete_request_xml(keys: Iterable[str], etags: Sequence[str | None] = ()) -> bytes:
    """An upstream DeleteObjects; ``etags``, where given, bind each key's delete to an ETag."""
    pieces: list[str] = []
    for at, key in enumerate(keys):
        etag = etags[at] if at < len(etags) else None
        condition = _element("ETag", etag) if etag else ""
        pieces.append(f"<Object>{_element('Key', key)}{condition}</Object>")
    objects = "".join(pieces)
    return f"{XML_DECLARATION}<Delete><Quiet>false</Quiet>{objects}</Delete>".encode()


def delete_result_xml(results: Iterable[tuple[DeleteResult, str | None]], quiet: bool) -> bytes:
    return rendered(delete_result_pieces(results, quiet))


def delete_result_pieces(
    results: Iterable[tuple[DeleteResult, str | None]], quiet: bool
) -> Iterator[str]:
    """DeleteResult: each result with the VersionId its entry named (echoed, as S3 does).
    Pieces, rendered as they are sent: 1,000 keys of 1,024 '&' make ~5 MiB."""
    return document_pieces("DeleteResult", _delete_results(results, quiet))


def _delete_results(
    results: Iterable[tuple[DeleteResult, str | None]], quiet: bool
) -> Iterator[str]:
    for result, version in results:
        echo = _element("VersionId", version) if version is not None else ""
        if result.error is None:
            if not quiet:
                yield f"<Deleted>{_element('Key', result.key)}{echo}</Deleted>"
        else:
            code = S3ErrorCode[result.error] if result.error in S3ErrorCode.__members__ else None
            message = code.default_message if code else "We encountered an internal error."
            yield (
                f"<Error>{_element('Key', result.key)}{echo}{_element('Code', result.error)}"
                f"{_element('Message', message)}</Error>"
            )


def copy_result_xml(
    etag: str, last_modified: str, checksums: Mapping[str, str] | None = None
) -> bytes:
    """CopyObjectResult; ``checksums``: the copy's, always FULL_OBJECT (a copy is one object,
    s3proxy.backends.copy_checksum), with ChecksumType as S3 answers."""
    items = [_element("LastModified", s3_time(last_modified)), _element("ETag", etag)]
    if checksums:
        items.append(_element("ChecksumType", "FULL_OBJECT"))
        items += [_element("Checksum" + alg, value) for alg, value in checksums.items()]
    return document("CopyObjectResult", items)


def _owner(name: str, owner: Owner) -> str:
    """``<Owner>`` or ``<Initiator>``: the owner id and the tenant name as DisplayName (none
    to anyone but the owner: :meth:`Owner.unnamed`)."""
    shown = _element("DisplayName", owner.display_name) if owner.display_name else ""
    return f"<{name}>{_element('ID', owner.id)}{shown}</{name}>"


def list_buckets_xml(
    owner: Owner,
    buckets: Iterable[tuple[str, str]],
    *,
    region: str | None = None,
    prefix: str | None = None,
    continuation_token: str | None = None,
) -> bytes:
    return rendered(
        list_buckets_pieces(
            owner, buckets, region=region, prefix=prefix, continuation_token=continuation_token
        )
    )


def list_buckets_pieces(
    owner: Owner,
    buckets: Iterable[tuple[str, str]],
    *,
    region: str | None = None,
    prefix: str | None = None,
    continuation_token: str | None = None,
) -> Iterator[str]:
    """ListAllMyBucketsResult piece by piece (10,000 buckets are ~1 MiB); ``region``: each
    bucket's BucketRegion (S3 adds it when the request had a parameter)."""
    region_element = _element("BucketRegion", region) if region is not None else ""
    yield f'{XML_DECLARATION}<ListAllMyBucketsResult xmlns="{S3_NS}"><Buckets>'
    for name, created in buckets:
        yield (
            f"<Bucket>{_element('Name', name)}{_element('CreationDate', s3_time(created))}"
            f"{region_element}</Bucket>"
        )
    yield "</Buckets>" + _owner("Owner", owner)
    if continuation_token is not None:
        yield _element("ContinuationToken", continuation_token)
    if prefix is not None:
        yield _element("Prefix", prefix)
    yield "</ListAllMyBucketsResult>"


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
    owner: Owner | None,
) -> bytes:
    """:func:`list_objects_pieces` as one document."""
    return rendered(list_objects_pieces(fields, entries, prefixes, encode=encode, owner=owner))


def list_objects_pieces(
    fields: list[tuple[str, str | None]],
    entries: Iterable[ListEntry],
    prefixes: Iterable[str],
    *,
    encode: bool,
    owner: Owner | None,
) -> Iterator[str]:
    """ListBucketResult for V1 and V2, piece by piece (rendered as sent: a page of 1,000 long
    escaped keys is ~5 MiB): ``fields`` are the top-level elements, in order (a None value is
    left out); keys and prefixes are URL-encoded when the client asked for it. One f-string
    per entry: a third less CPU than an :func:`_element` call per field."""
    yield f'{XML_DECLARATION}<ListBucketResult xmlns="{S3_NS}">'
    yield "".join(_element(name, value) for name, value in fields if value is not None)
    owner_xml = _owner("Owner", owner) if owner is not None else ""
    for entry in entries:
        # escape() costs three replace calls per field: a third of the rendering's CPU per
        # key; fields almost never hold markup, and three "in" tests are cheaper.
        modified, etag, storage = entry.last_modified, entry.etag, entry.storage_class
        if len(modified) != 24 or modified[19:] != ".000Z":  # not S3's form (whole seconds)
            if len(modified) == 20 and modified[19] == "Z":  # SeaweedFS's: no call per key
                modified = modified[:19] + ".000Z"
            elif len(modified) == 24 and modified[19] == "." and modified[20:23].isdigit():
                modified = modified[:20] + "000Z"  # Ceph RGW's milliseconds: S3's whole second
            else:
                modified = s3_time(modified)
        if "&" in modified or "<" in modified or ">" in modified:
            modified = escape(modified)
        if "&" in etag or "<" in etag or ">" in etag:
            etag = escape(etag)
        if "&" in storage or "<" in storage or ">" in storage:
            storage = escape(storage)
        key = entry.key
        if encode:
            key = url_encode(key)
        elif "&" in key or "<" in key or ">" in key or not key.isprintable():
            key = xml_text(key)
        yield (
            f"<Contents><Key>{key}</Key><LastModified>{modified}</LastModified>"
            f"<ETag>{etag}</ETag><Size>{entry.size}</Size>{owner_xml}"
            f"<StorageClass>{storage}</StorageClass></Contents>"
        )
    code = url_encode if encode else xml_text
    for prefix in prefixes:
        yield f"<CommonPrefixes><Prefix>{code(prefix)}</Prefix></CommonPrefixes>"
    yield "</ListBucketResult>"


_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


def url_encode(value: str) -> str:
    """``encoding-type=url`` for a key or prefix: ``quote(value, safe="/")``, which leaves
    exactly these ASCII characters as they are; most keys consist of them only, and the match
    costs a third of ``quote``'s call, once per listed key (aws-cli and boto3 always ask)."""
    return value if _NEEDS_NO_QUOTING(value) else quote(value, safe="/")


def quoted_etag(etag: str) -> str:
    """SeaweedFS and Ceph leave the quotes out of some ETags; clients expect them."""
    etag = etag.strip()
    return f'"{etag}"' if etag and not etag.startswith('"') else etag
