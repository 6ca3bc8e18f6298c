"""The ``<Contents>`` run of an upstream ListObjectsV2 page, read without building a tree.

Parsing was the largest part of the proxy's CPU per listed key (issue 18): the C tree builder
makes an element for every child of every entry, and ``findtext`` walks them again. Upstream
pages are machine-written and uniform (every SeaweedFS or Ceph RGW entry has the same children
in the same order), so the run of entries is matched by one regular expression per entry,
compiled for the children the first entry has.

This is a shortcut, never a second parser with its own reading. :func:`scan` accepts only
entries whose every child is a plain element with text and no attributes, comments, CDATA,
``\\r`` or markup characters, whose only references are the predefined entities and
``&#34;``, so that the text read is exactly what expat would report. The run is then replaced
by one empty placeholder element and the rest of the page (header, common prefixes, trailer,
and any entry the pattern did not take) goes through the C parser as before: the caller must
find the placeholder as a direct child of the root, in the root's namespace, else the whole
page is parsed the old way. So a page that is not well-formed is refused exactly as before,
and a run that sits anywhere else (in a comment, nested, under another namespace) is never
taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from s3proxy.model import ListEntry

PLACEHOLDER = "S3proxyScannedEntries"
"""The element that stands for the scanned run in what is left to parse."""

_FIELDS = ("Key", "ETag", "Size", "LastModified", "StorageClass")
"""What ``parse_list_v2`` reads from an entry, in :class:`ListEntry`'s field order."""
_NOT_TEXT = r"<>\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff"
"""Markup, and what XML forbids in text or expat rewrites (``\\r`` becomes ``\\n``)."""
_TEXT = f"[^{_NOT_TEXT}]*"
"""A field's text: ``&`` allowed here, every reference checked by :func:`_references`."""
_PLAIN = f"[^&{_NOT_TEXT}]*"
"""The text of a child that is not read: no reference at all (expat would check it)."""
_OWNER = f"<Owner>(?:<ID>{_PLAIN}</ID>)?(?:<DisplayName>{_PLAIN}</DisplayName>)?</Owner>"
_owner = re.compile(_OWNER).match
_child = re.compile(r"<([A-Za-z][A-Za-z0-9]{0,63})>[^<]*</\1>").match
_START, _END = "<Contents>", "</Contents>"


class _Unscannable(Exception):
    """A field holds a reference the shortcut does not read: the page is parsed instead."""


def _references(value: str) -> str:
    """The five predefined entities, and SeaweedFS's ``&#34;``; any other reference (a
    character reference expat would check, an entity no DTD declared) is left to the parser.
    ``&amp;`` is replaced last, so ``&amp;lt;`` stays ``&lt;``."""
    value = value.replace("&#34;", '"').replace("&quot;", '"').replace("&apos;", "'")
    if "&" in value:
        value = value.replace("&lt;", "<").replace("&gt;", ">")
        if value.count("&") != value.count("&amp;"):
            raise _Unscannable
        value = value.replace("&amp;", "&")
    return value


def _shape(text: str, at: int) -> tuple[str, ...] | None:
    """The children's names of the entry at ``at``: each once, the five fields among them."""
    names: list[str] = []
    at += len(_START)
    while not text.startswith(_END, at):
        if text.startswith("<Owner>", at):
            found, name = _owner(text, at), "Owner"
        else:
            found = _child(text, at)
            name = found.group(1) if found else ""
        if found is None or name in names:
            return None
        names.append(name)
        at = found.end()
    return tuple(names) if all(field in names for field in _FIELDS) else None


@lru_cache(maxsize=16)
def _pattern(
    shape: tuple[str, ...],
) -> tuple[Callable[[str, int], re.Match[str] | None], tuple[int, ...]]:
    """An entry of exactly this shape, and the groups of the five fields in argument order."""
    parts = []
    for name in shape:
        if name == "Owner":
            parts.append(_OWNER)
        elif name == "Size":
            parts.append("<Size>([0-9]{1,19})</Size>")
        elif name in _FIELDS:
            parts.append(f"<{name}>({_TEXT})</{name}>")
        else:
            parts.append(f"<{name}>{_PLAIN}</{name}>")
    read = [name for name in shape if name in _FIELDS]
    groups = tuple(read.index(field) + 1 for field in _FIELDS)
    return re.compile(_START + "".join(parts) + _END).match, groups


def scan(text: str, decode: Callable[[str], str]) -> tuple[list[ListEntry], str] | None:
    """(the entries of the first run of ``<Contents>``, the page with the run replaced by
    ``<S3proxyScannedEntries/>``), or None when there is nothing the shortcut can take."""
    start = text.find(_START)
    if start < 0 or PLACEHOLDER in text:  # an upstream's own would take its place
        return None
    shape = _shape(text, start)
    if shape is None:
        return None
    match, groups = _pattern(shape)
    entries: list[ListEntry] = []
    append = entries.append
    at = start
    try:
        while (found := match(text, at)) is not None:
            key, etag, size, modified, storage = found.group(*groups)
            if "&" in key:
                key = _references(key)
            if "&" in etag:
                etag = _references(etag)
            if "&" in modified:
                modified = _references(modified)
            if "&" in storage:
                storage = _references(storage)
            append(ListEntry(decode(key), etag, int(size), modified, storage or "STANDARD"))
            at = found.end()
    except _Unscannable:
        return None
    if not entries:
        return None
    return entries, f"{text[:start]}<{PLACEHOLDER}/>{text[at:]}"
