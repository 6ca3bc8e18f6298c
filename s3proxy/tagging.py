"""Object tag sets: the ``x-amz-tagging`` header, the ``<Tagging>`` document, S3's limits. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html: at most 10 tags, a key
of 1 to 128 characters and a value of up to 256, no key twice, no ``aws:`` key, characters from
S3's pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``. Every tag set is checked here before it reaches a
backend, so no upstream's own (looser or stricter) rules decide what a client may store.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import Tags
from s3proxy.xmlcodec import S3_NS, _parse, children_named, local_name, text_of

MAX_OBJECT_TAGS = 10
MAX_KEY = 128
MAX_VALUE = 256
MAX_DOCUMENT_BYTES = 256 * 1024
"""The largest ``<Tagging>`` body read (PutObjectTagging, PutBucketTagging); past it 400
MalformedXML "Your request body is too large.", the gateway's answer for every oversized XML body,
before a byte is parsed. The largest legal document, 50 tags of 128 + 256 characters each written
as 10-byte character references, is ~195 KB (as SDKs write it, 4-byte UTF-8 at most, ~80 KB).
Under the 2 MiB every small XML body had, a body of 52,000 tags cost ~196 ms of the worker's CPU
before its 400 (wave 11 H): S3 documents no size here, so the bound is the legal maximum's."""
_PUNCTUATION = frozenset("_.:/=+-@")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _allowed(text: str) -> bool:
    return all(
        char in _PUNCTUATION or unicodedata.category(char)[0] in ("L", "Z", "N") for char in text
    )


def check_tags(tags: Tags, limit: int = MAX_OBJECT_TAGS, what: str = "Object tags") -> Tags:
    """``tags`` when S3 would store them; InvalidTag otherwise, but BadRequest for too many
    tags, as AWS answers ("BadRequest: Object tags cannot be greater than 10", boto3#1213)."""
    if len(tags) > limit:
        raise S3Error(S3ErrorCode.BadRequest, f"{what} cannot be greater than {limit}")
    seen: set[str] = set()
    for key, value in tags:
        if not key or len(key) > MAX_KEY:
            raise S3Error(
                S3ErrorCode.InvalidTag, "The TagKey you have provided is too long, max 128"
            )
        if len(value) > MAX_VALUE:
            raise S3Error(
                S3ErrorCode.InvalidTag, "The TagValue you have provided is too long, max 256"
            )
        if key.lower().startswith("aws:"):
            raise S3Error(S3ErrorCode.InvalidTag, "Your TagKey cannot be prefixed with aws:")
        if not _allowed(key):
            raise S3Error(S3ErrorCode.InvalidTag, "The TagKey you have provided is invalid")
        if not _allowed(value):
            raise S3Error(S3ErrorCode.InvalidTag, "The TagValue you have provided is invalid")
        if key in seen:
            raise S3Error(S3ErrorCode.InvalidTag, "Cannot provide multiple Tags with the same key")
        seen.add(key)
    return tags


def parse_header(value: str) -> Tags:
    """``x-amz-tagging``: URL query form (``k1=v1&k2``); a key twice, an empty key (``=v``) or
    a ``%`` not followed by two hex digits (``key%``) is InvalidArgument, as S3 answers the
    header form (versitygw's PutObject_tagging and CopyObject_should_replace_tagging, run on
    S3): the header did not decode to a tag set, so no tag rule is reached."""
    pairs = tuple(parse_qsl(value, keep_blank_values=True))
    undecodable = _BAD_ESCAPE.search(value) is not None or any(not key for key, _ in pairs)
    if undecodable or len({key for key, _ in pairs}) != len(pairs):
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.",
            ArgumentName="x-amz-tagging",
            ArgumentValue=value,
        )
    return check_tags(pairs)


def request_tags(value: str | None) -> Tags:
    """The tags an ``x-amz-tagging`` header (PutObject, CreateMultipartUpload) asks for."""
    return () if value is None else parse_header(value)


def copy_tags(directive: str | None, value: str | None) -> Tags | None:
    """CopyObject's tags: with ``x-amz-tagging-directive: REPLACE`` the request's (none when it
    has no ``x-amz-tagging``); with COPY (the default) None, the source's. S3 reads
    ``x-amz-tagging`` only with REPLACE; it is still checked, so a bad one is never accepted."""
    tags = request_tags(value)
    chosen = (directive or "COPY").strip().upper()
    if chosen not in ("COPY", "REPLACE"):
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Unknown tagging directive.",
            ArgumentName="x-amz-tagging-directive",
            ArgumentValue=directive or "",
        )
    return tags if chosen == "REPLACE" else None


def header_value(tags: Tags) -> str:
    """The ``x-amz-tagging`` form of ``tags``, for an upstream."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags)


def parse_document(body: bytes, limit: int = MAX_OBJECT_TAGS, what: str = "Object tags") -> Tags:
    """``<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>`` → checked tags (the
    same document for objects and, with their own limit, buckets)."""
    root = _parse(body)
    sets = children_named(root, "TagSet")
    if local_name(root.tag) != "Tagging" or len(sets) != 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    tags: list[tuple[str, str]] = []
    for tag in sets[0]:
        keys, values = children_named(tag, "Key"), children_named(tag, "Value")
        if local_name(tag.tag) != "Tag" or len(keys) != 1 or len(values) != 1:
            raise S3Error(S3ErrorCode.MalformedXML)
        tags.append((text_of(keys[0]), text_of(values[0])))
    return check_tags(tuple(tags), limit, what)


def document(tags: Tags) -> bytes:
    """GetObjectTagging's answer (an empty ``<TagSet/>`` for an object without tags)."""
    items = "".join(
        f"<Tag><Key>{escape(key)}</Key><Value>{escape(value)}</Value></Tag>" for key, value in tags
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="{S3_NS}">'
        f"<TagSet>{items}</TagSet></Tagging>"
    ).encode()
