"""Parsing what an upstream S3 server answers: listings, multipart and copy results.

Client bodies are hostile and go through defusedxml (:mod:`s3proxy.xmlcodec`); an upstream is
configured by the operator, and its answers are parsed on every listing page, so they go
through the C ElementTree parser once any DTD is refused (:func:`_upstream_document` says why
that is safe), a listing's entries through :mod:`s3proxy.listing_scan` when it can read them
exactly. An answer that cannot be read is the upstream's fault, never the client's:
InternalError, not MalformedXML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from s3proxy import listing_scan
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    DeleteResult,
    ListEntry,
    ListPage,
    PartInfo,
    PartsPage,
    UploadInfo,
    UploadsPage,
)
from s3proxy.multipart_xml import checksums_in
from s3proxy.xmlcodec import child_text, children_named, local_name, quoted_etag

UNREADABLE = "The storage behind this gateway sent an answer that could not be read."
NOWHERE_TO_RESUME = "The storage behind this gateway said a listing goes on but not from where."


def _form_decode(value: str) -> str:
    """``unquote_plus``: S3's encoding-type=url is form encoding, a space arrives as "+"
    (botocore decodes the same way). Most keys hold neither "+" nor "%": two scans and no call
    instead of two calls (5% of the proxy's CPU when listing, py-spy)."""
    if "+" in value:
        value = value.replace("+", " ")
    return unquote(value) if "%" in value else value


def parse_list_v2(body: bytes, url_encoded: bool) -> ListPage:
    """An upstream ListObjectsV2 response; an unreadable one is InternalError.

    The run of entries is read by :func:`listing_scan.scan` when it can (half the CPU of a tree
    per entry), the rest of the page by the C parser, which must find the scanned run's
    placeholder where the entries were; any page the shortcut cannot take is parsed whole.
    Fields are found with ``findtext`` on the root's namespace (a C scan of an entry's
    children, the first match wins): half the Python work of a dict per entry."""
    text = _upstream_text(body)
    decode = _form_decode if url_encoded else _same
    scanned = listing_scan.scan(text, decode)
    if scanned is not None:
        entries, rest = scanned
        try:
            return _list_v2_page(_parse_text(rest), decode, entries)
        except (S3Error, _Misplaced):
            pass  # the whole page, parsed below, says what is wrong with it
    return _list_v2_page(_parse_text(text), decode, None)


def _same(value: str) -> str:
    return value


class _Misplaced(Exception):
    """The scanned run's placeholder is not a child of the root in its namespace."""


def _list_v2_page(
    root: ET.Element, decode: Callable[[str], str], scanned: list[ListEntry] | None
) -> ListPage:
    """The page of a parsed document, ``scanned`` entries where their placeholder is."""
    ns = root.tag[: root.tag.find("}") + 1]
    contents, common, key, etag, size, modified, storage, prefix, placeholder = (
        ns + name
        for name in (
            "Contents",
            "CommonPrefixes",
            "Key",
            "ETag",
            "Size",
            "LastModified",
            "StorageClass",
            "Prefix",
            listing_scan.PLACEHOLDER,
        )
    )
    if root.tag != ns + "ListBucketResult":  # an HTML page or another document read as an
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)  # empty page would end a listing
    entries: list[ListEntry] = []
    prefixes: list[str] = []
    placed = scanned is None
    for item in root:
        if item.tag == contents:
            entries.append(
                ListEntry(
                    decode(item.findtext(key) or ""),
                    item.findtext(etag) or "",
                    int(item.findtext(size) or 0),
                    item.findtext(modified) or "",
                    item.findtext(storage) or "STANDARD",
                )
            )
        elif item.tag == common:
            prefixes.append(decode(item.findtext(prefix) or ""))
        elif item.tag == placeholder and not placed and scanned is not None:
            entries += scanned
            placed = True
    if not placed:
        raise _Misplaced
    # Found in C too: child_text would compare the local name of each of the page's entries.
    if not _truncated(root.findtext(ns + "IsTruncated")):
        return ListPage(entries, prefixes, None)
    token = root.findtext(ns + "NextContinuationToken") or None
    return ListPage(entries, prefixes, token or _resume_after(entries, prefixes))


def _truncated(text: str | None) -> bool:
    """A page's ``IsTruncated``. S3 always sends it; a page without it (or with neither
    ``true`` nor ``false``) is unreadable, never taken for the last page: a listing that ends
    early with a 200 is what sync tools (``--delete``) delete the rest of the bucket on."""
    value = (text or "").strip().lower()
    if value not in ("true", "false"):
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)
    return value == "true"


RESUME = "\x00"
"""Starts a token that is not the upstream's: the rest is the start-after to resume from (XML
1.0 cannot carry U+0000, so no upstream token starts with it). See :func:`resume_after`."""


def _resume_after(entries: list[ListEntry], prefixes: list[str]) -> str:
    """The token of a truncated page that came without a NextContinuationToken.

    ``IsTruncated`` says more follows; taking the missing token for the end would end the
    listing early with a 200, and sync tools (``aws s3 sync --delete``, ``rclone sync``) delete
    what a listing omits. ListObjectsV2's token is only the upstream's way of saying where the
    page ended, so the listing resumes after the last key or common prefix the page listed, as
    a V1 ``NextMarker`` would (S3 leaves out a common prefix at or before start-after, so a
    prefix is not listed again). A truncated page that listed nothing says nowhere to resume
    from: an error, never a short 200."""
    last = max(entries[-1].key if entries else "", prefixes[-1] if prefixes else "")
    if not last:
        raise S3Error(S3ErrorCode.InternalError, NOWHERE_TO_RESUME)
    return RESUME + last


def resume_after(token: str) -> str | None:
    """The start-after a token of :func:`_resume_after` stands for; None for an upstream's."""
    return token[1:] if token.startswith(RESUME) else None


def parse_tagging(body: bytes) -> tuple[tuple[str, str], ...]:
    """An upstream GetObjectTagging answer → (key, value) pairs, in its order. Ceph RGW 16
    answers an empty body for an object whose tags were never set."""
    if not body.strip():
        return ()
    root = _upstream_root(body, "Tagging")
    return tuple(
        (child_text(tag, "Key"), child_text(tag, "Value"))
        for tag_set in children_named(root, "TagSet")
        for tag in children_named(tag_set, "Tag")
    )


def parse_delete_result(body: bytes, asked: Iterable[str] = ()) -> list[DeleteResult]:
    """An upstream DeleteResult: the keys deleted and the ones that failed, with their code.

    The gateway asks with ``<Quiet>false</Quiet>``, so the upstream names every key it was
    ``asked``, deleted or not. A key it leaves out (a result cut short by something in front
    of it, an upstream that answers an empty ``<DeleteResult/>``) was not seen deleted: it is
    an InternalError result, which a client retries, never "Deleted", which a client (a sync
    that deletes what a listing no longer has) takes for done."""
    root = _upstream_root(body, "DeleteResult")
    results = [DeleteResult(child_text(item, "Key")) for item in children_named(root, "Deleted")]
    results.extend(
        DeleteResult(child_text(item, "Key"), child_text(item, "Code") or "InternalError")
        for item in children_named(root, "Error")
    )
    named = {result.key for result in results}
    results.extend(
        DeleteResult(key, S3ErrorCode.InternalError.name)
        for key in dict.fromkeys(asked)
        if key not in named
    )
    return results


def parse_copy_result(body: bytes) -> tuple[str, str]:
    """(ETag, LastModified) of an upstream CopyObjectResult or CopyPartResult (CopyObject too
    can fail with an ``<Error>`` after its 200 status line: :class:`EmbeddedError`)."""
    root = _upstream_root(body, "CopyObjectResult", "CopyPartResult")
    etag = quoted_etag(child_text(root, "ETag"))
    if not etag:  # a copy S3 made always has one: without it, nothing says a copy was made
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)
    return etag, child_text(root, "LastModified")


class EmbeddedError(Exception):
    """An upstream ``<Error>`` document in a 200 response: CompleteMultipartUpload and
    UploadPartCopy can fail after S3 has sent its status line. The backend translates it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _upstream_root(body: bytes, *expected: str) -> ET.Element:
    """An upstream result document whose root is one of ``expected``; an embedded ``<Error>``
    raises :class:`EmbeddedError`. Any other document (an HTML page from something between
    the gateway and the upstream, a result of another request) is unreadable: read for the
    one expected, it would give an empty listing or a result without an ETag, and a 200."""
    root = _upstream_document(body)
    name = local_name(root.tag)
    if name == "Error":
        raise EmbeddedError(child_text(root, "Code") or "InternalError")
    if name not in expected:
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)
    return root


def _upstream_document(body: bytes) -> ET.Element:
    """An upstream response document, parsed by the C-accelerated ElementTree.

    defusedxml drives expat through pure-Python callbacks: 20 ms per 1,000 listing entries
    where the C tree builder takes 4 ms, and parsing was half of the proxy's CPU when listing.
    What defusedxml guards against (entity expansion, external entities and DTDs) all needs a
    document type declaration: without ``<!DOCTYPE`` no entity can be declared, so only the five
    predefined ones and character references exist, and nothing is fetched. So any DTD is
    refused here, before parsing. The check is made on text, and the text is what is parsed:
    on raw bytes a UTF-16 document (or one declaring another encoding) would hide its
    ``<!DOCTYPE`` from a byte search, while expat parses a ``str`` as UTF-8 whatever its XML
    declaration says. Client bodies are not parsed here: they stay on defusedxml (:func:`_parse`).

    Leading whitespace is S3's keep-alive while a long CompleteMultipartUpload runs; an
    unreadable document is the upstream's fault, not the client's (InternalError, never
    MalformedXML)."""
    return _parse_text(_upstream_text(body))


def _upstream_text(body: bytes) -> str:
    """The document as text, refused when it is not UTF-8 or holds a DTD."""
    try:
        text = body.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE) from None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)
    return text


def _parse_text(text: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError):
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE) from None


def _int(text: str, default: int = 0) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else default


def parse_initiate_result(body: bytes) -> str:
    """The upload id of an upstream InitiateMultipartUploadResult."""
    upload_id = child_text(_upstream_root(body, "InitiateMultipartUploadResult"), "UploadId")
    upload_id = upload_id.strip()
    if not upload_id:
        raise S3Error(S3ErrorCode.InternalError, UNREADABLE)
    return upload_id


def _without_location(body: bytes) -> bytes:
    """``body`` without its first ``<Location>`` element, which the gateway never reads (its
    own answer names its own URL). Ceph RGW 16 writes that URL with a length it did not
    format: once endpoint, bucket and key pass ~1,020 characters, the element ends in raw
    bytes of the gateway's memory (not UTF-8, ``&#x00;``), a document no parser reads, for an
    upload it completed. Those bytes are escaped XML text, so the first ``</Location>`` is the
    element's own end."""
    start = body.find(b"<Location>")
    end = body.find(b"</Location>", start)
    if start < 0 or end < 0:
        return body
    return body[:start] + body[end + len(b"</Location>") :]


def parse_complete_result(body: bytes) -> tuple[str, dict[str, str]]:
    """(ETag — empty from Ceph RGW 16 —, object checksums) of a CompleteMultipartUploadResult,
    read without its ``<Location>`` (:func:`_without_location`)."""
    root = _upstream_root(_without_location(body), "CompleteMultipartUploadResult")
    return quoted_etag(child_text(root, "ETag")), checksums_in(root)


def parse_list_parts(body: bytes) -> PartsPage:
    root = _upstream_root(body, "ListPartsResult")
    parts = [
        PartInfo(
            part_number=_int(child_text(item, "PartNumber")),
            etag=quoted_etag(child_text(item, "ETag")),
            size=_int(child_text(item, "Size")),
            last_modified=child_text(item, "LastModified"),
            checksums=checksums_in(item),
        )
        for item in children_named(root, "Part")
    ]
    truncated = _truncated(child_text(root, "IsTruncated"))
    next_marker = _int(
        child_text(root, "NextPartNumberMarker"), parts[-1].part_number if parts else 0
    )
    return PartsPage(
        parts=parts,
        next_marker=next_marker if truncated else None,
        storage_class=child_text(root, "StorageClass") or "STANDARD",
        checksum_algorithm=child_text(root, "ChecksumAlgorithm") or None,
        checksum_type=child_text(root, "ChecksumType") or None,
    )


def parse_list_uploads(body: bytes) -> UploadsPage:
    """An upstream ListMultipartUploads page, asked for without ``encoding-type``: SeaweedFS
    echoes ``encoding-type=url`` but sends keys unencoded, so decoding would corrupt ``+``."""
    root = _upstream_root(body, "ListMultipartUploadsResult")
    uploads = [
        UploadInfo(
            key=child_text(item, "Key"),
            upload_id=child_text(item, "UploadId"),
            initiated=child_text(item, "Initiated"),
            storage_class=child_text(item, "StorageClass") or "STANDARD",
            checksum_algorithm=child_text(item, "ChecksumAlgorithm") or None,
            checksum_type=child_text(item, "ChecksumType") or None,
        )
        for item in children_named(root, "Upload")
    ]
    prefixes = [child_text(item, "Prefix") for item in children_named(root, "CommonPrefixes")]
    next_marker = None
    if _truncated(child_text(root, "IsTruncated")):
        last_key = uploads[-1].key if uploads else ""
        last_key = max(last_key, prefixes[-1]) if prefixes else last_key
        last_id = uploads[-1].upload_id if uploads and uploads[-1].key == last_key else ""
        # SeaweedFS leaves NextKeyMarker out: fall back to where the page ended.
        next_marker = (
            child_text(root, "NextKeyMarker") or last_key,
            child_text(root, "NextUploadIdMarker") or last_id,
        )
    return UploadsPage(uploads, prefixes, next_marker)
