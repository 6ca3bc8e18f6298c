"""User metadata (``x-amz-meta-*``) on an S3 upstream, names and values kept exactly as sent.

S3 keeps each name as the client sent it (lower-cased) and each value byte for byte. Upstreams
do not all do so, measured on the test lanes:

- SeaweedFS 4.48 drops an empty value;
- Ceph RGW 16 reads header names the CGI way, so ``_`` comes back as ``-`` (``a_b`` is stored
  as ``a-b``) and a write holding both ``a_b`` and ``a-b`` fails its own signature check (403
  SignatureDoesNotMatch); it refuses a name over 80 characters with 500 UnknownError (the OSD
  keeps attribute names of at most 100 bytes, and ``user.rgw.x-amz-meta-`` takes 20); and it
  answers a request head over ~16 KiB with an empty 400, which a few hundred short names reach
  once SignedHeaders lists each of them again; a value holding a tab fails its signature check
  too (it canonicalises the value otherwise than SigV4 does).

So an empty value, or one that itself begins with ``=?``, travels as an RFC 2047 encoded word
(:func:`metadata_to_upstream`). On an upstream that folds names (Ceph RGW, and one not yet
known), the names it would change or refuse, and those whose value it would refuse, are
*packed*: all of them go, with their values, into one entry named :data:`CARRIER` (split over
``CARRIER-2``, ``CARRIER-3``… when longer than :data:`PIECE`), made only of characters every
upstream keeps. Every other name is stored as it is, as before, so an object written by an
earlier release reads as it did. A client name that begins with :data:`CARRIER` is packed on
every upstream, so such a stored entry is always the proxy's; the digest it begins with makes
one that an earlier release stored for a client read as it was written (README, "The upstream
layout"). Whatever decodes to what no header value carries (a control character, a character
past ISO-8859-1, invalid UTF-8) or a name that is no token was never written so by the proxy:
it is read as stored (decoded, uvicorn refused the answer and every HEAD and GET of the object
failed; such entries come from another tool's writes into a mapped bucket, or from a forged
entry an older release stored for a client).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote, unquote

from s3proxy.model import CONTENT_HEADERS, META_PREFIX, ObjectAttributes

CARRIER = "s3proxy-meta"
"""The packed names' entry, ``x-amz-meta-s3proxy-meta``."""

PIECE = 4000
"""Characters per carrier entry: a header line stays far below aiohttp's 8190 bytes (2 KB of
metadata of the widest kind, percent-encoded as UTF-8, takes ~12,300)."""

MAX_ENTRIES = 64
"""Upstream entries a folding upstream gets at most: past that every name is packed, so a
request head stays below Ceph RGW's limit whatever the names' number."""

_KEPT_NAME = re.compile(r"[0-9a-z!#$%&'*+.^`|~-]{0,80}")
"""A name Ceph RGW 16 stores as it is: token characters but ``_`` and upper case, at most 80."""

_KEPT_VALUE = re.compile(r"[^\x00-\x1f\x7f]*")
"""A value Ceph RGW 16 takes: no control character (HTTP allows a tab in a value)."""

_SAFE = "!#$&'()*+,-./:<>?@[]^_`{|}~"
"""Besides letters and digits, what a packed name or value keeps unescaped: printable ASCII but
space, ``"``, ``%``, ``;``, ``=`` and ``\\``."""

_DIGEST = 16
"""Hex digits of SHA-256 over the packed entries that begin the carrier."""

_ENCODED_WORD = "=?UTF-8?Q?"
_Q_SAFE = re.compile(rb"[A-Za-z0-9!*+/-]")
_Q_ESCAPE = re.compile(r"=([0-9A-F]{2})")


def metadata_to_upstream(value: str, keeps_empty: bool = False) -> str:
    """An ``x-amz-meta-*`` value as the upstream stores it. SeaweedFS drops empty values, so
    an empty value travels as an RFC 2047 encoded word of the empty text (but where the upstream
    is known to keep it: ``keeps_empty``); a client value that itself begins with ``=?`` is
    wrapped the same way, so :func:`metadata_from_upstream` undoes exactly what this did and
    every other value is stored as sent."""
    if (value or keeps_empty) and not value.startswith("=?"):
        return value
    raw = value.encode("utf-8", "surrogatepass")
    quoted = "".join(chr(b) if _Q_SAFE.fullmatch(bytes([b])) else f"={b:02X}" for b in raw)
    return f"{_ENCODED_WORD}{quoted}?="


def metadata_from_upstream(value: str) -> str:
    if not (value.startswith(_ENCODED_WORD) and value.endswith("?=")):
        return value
    quoted = value[len(_ENCODED_WORD) : -2]
    raw = _Q_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), quoted)
    try:
        decoded = raw.encode("latin-1").decode("utf-8", "surrogatepass")
    except UnicodeError:  # not the proxy's encoded word (module docstring)
        return value
    return decoded if _header_text(decoded) else value


def upstream_metadata(
    metadata: Mapping[str, str], folds_names: bool | None, keeps_empty: bool = False
) -> dict[str, str]:
    """The ``x-amz-meta-*`` headers that store ``metadata`` (names without the prefix) on an
    upstream; ``folds_names`` says whether it is Ceph RGW (None: not known yet, taken as
    yes), ``keeps_empty`` whether it keeps an empty value (AWS S3). Names it would keep go as
    they are; the others are packed (module docstring)."""
    if not metadata:  # most writes: nothing to look at
        return {}
    folding = folds_names is not False
    headers: dict[str, str] = {}
    packed: dict[str, str] = {}
    for name, value in metadata.items():  # one pass: this runs on every write with metadata
        if name.startswith(CARRIER) or (
            folding and not (_KEPT_NAME.fullmatch(name) and _KEPT_VALUE.fullmatch(value))
        ):
            packed[name] = value
        else:
            headers[META_PREFIX + name] = metadata_to_upstream(value, keeps_empty)
    if folding and len(headers) + bool(packed) > MAX_ENTRIES:
        headers, packed = {}, dict(metadata)
    if packed:
        entries = ";".join(f"{_quoted(name)}={_quoted(value)}" for name, value in packed.items())
        text = f"{_digest(entries)};{entries}"
        for index, start in enumerate(range(0, len(text), PIECE)):
            headers[META_PREFIX + _piece_name(index)] = text[start : start + PIECE]
    return headers


def stored_headers(
    attributes: ObjectAttributes, ceph_rgw: bool | None, aws: bool
) -> dict[str, str]:
    """The content headers and ``x-amz-meta-*`` entries that store ``attributes`` on an
    upstream that is Ceph RGW (``ceph_rgw``; None: not known yet) or AWS S3 (``aws``).

    AWS S3 keeps what S3 keeps, since it is S3: there nothing is added but the wrapping of a
    value that begins with ``=?`` (which reads undo). Every entry added elsewhere would count
    toward its 2 KB of user metadata (names and values, in UTF-8 bytes), which the gateway
    checks on the client's own (MetadataTooLarge): an empty value's encoded word (12 bytes
    each) and a carried ``Expires`` would turn writes S3 takes into its MetadataTooLarge.
    SeaweedFS 4.48 and Ceph RGW 16 keep far more (8 KiB, measured), so the entries they need
    are no limit there."""
    headers = content_to_upstream(attributes.headers, ceph_rgw or aws)
    folds = False if aws else ceph_rgw
    headers.update(upstream_metadata(attributes.metadata, folds, keeps_empty=aws))
    return headers


def unpacked(metadata: dict[str, str]) -> dict[str, str]:
    """The client's metadata from what an upstream returned (names without the prefix,
    values already through :func:`metadata_from_upstream`): a carrier whose digest holds is
    replaced by the names packed in it; without one (every object but those with packed
    names: one look-up) or with one that does not verify, the entries are the names."""
    if CARRIER not in metadata:
        return metadata
    pieces: list[str] = []
    while (piece := metadata.get(_piece_name(len(pieces)))) is not None:
        pieces.append(piece)
    digest, _, entries = "".join(pieces).partition(";")
    if _digest(entries) != digest:
        return metadata  # not the proxy's: an earlier release stored a client's name as sent
    carried = {_piece_name(index) for index in range(len(pieces))}
    names = {name: value for name, value in metadata.items() if name not in carried}
    for entry in entries.split(";"):
        name, _, value = entry.partition("=")
        try:
            name, value = _unquoted(name), _unquoted(value)
        except UnicodeError:
            return metadata
        if _TOKEN.fullmatch(name) is None or not _header_text(value):
            return metadata  # not the proxy's either (module docstring)
        names[name] = value
    return names


def _digest(entries: str) -> str:
    return hashlib.sha256(entries.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]


def _piece_name(index: int) -> str:
    return CARRIER if index == 0 else f"{CARRIER}-{index + 1}"


def _quoted(text: str) -> str:
    return quote(text, safe=_SAFE, encoding="utf-8", errors="surrogatepass")


def _unquoted(text: str) -> str:
    return unquote(text, encoding="utf-8", errors="surrogatepass")


_NOT_HEADER_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""What no header value holds (uvicorn refuses an answer with it; the HTTP layer a request)."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]*")
"""What a header name (and so a metadata name) is made of."""


def _header_text(value: str) -> bool:
    """Whether ``value`` can be a header value read here: each character one byte received."""
    return (value.isascii() or max(value) <= "\xff") and _NOT_HEADER_TEXT.search(value) is None


_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT"
)


def _expires_kept(value: str) -> bool:
    """An IMF-fixdate whose weekday and date agree: what SeaweedFS parses."""
    if _FIXDATE.fullmatch(value) is None:
        return False
    try:
        return format_datetime(parsedate_to_datetime(value), usegmt=True) == value
    except (TypeError, ValueError):
        return False


def _cache_control_kept(value: str) -> bool:
    """No directive that begins ``max-age`` (any case) but ``max-age=`` and digits: SeaweedFS
    refuses ``max-age=abc``, ``max-age = 60``, ``MAX-AGE=1.5`` … (400 InvalidDigest)."""
    return "max-age" not in value.lower() or all(
        _MAX_AGE.fullmatch(directive.strip()) is not None
        for directive in value.split(",")
        if directive.strip().lower().startswith("max-age")
    )


_MAX_AGE = re.compile(r"max-age=[0-9]+")

CARRIED = {"expires": _expires_kept, "cache-control": _cache_control_kept}
"""Content headers an upstream may refuse where S3 keeps any text, and the values every
upstream keeps as they are (:func:`content_to_upstream`)."""


def content_to_upstream(headers: Mapping[str, str], keeps_as_sent: bool | None) -> dict[str, str]:
    """The content headers (``Content-Type``, ``Expires`` …, lower-case names) that store
    ``headers`` on an upstream.

    S3 keeps ``Expires`` and ``Cache-Control`` as any text and answers them back as sent (the
    SDKs read ``Expires`` with an ``ExpiresString`` fallback for that reason); Ceph RGW 16 and
    the local store do too, but SeaweedFS 4.48 refuses a PutObject whose ``Expires`` is not an
    HTTP date in the one form ``Wed, 01 Dec 2094 16:00:00 GMT`` (400 InvalidRequest), or whose
    ``Cache-Control`` has a ``max-age`` other than digits (400 InvalidDigest). And it drops
    any content header sent empty, where S3, Ceph RGW 16 and the local store keep it (an
    empty ``Content-Type`` came back as ``text/plain; charset=utf-8``, its guess from the
    body). So on an upstream not known to keep them (``keeps_as_sent``: it is Ceph RGW or AWS
    S3; None: not known yet), such a value (:data:`CARRIED`, or any empty one) travels as the
    entry ``s3proxy-meta-`` + its name: the digest of the value, ``;``, the value
    percent-encoded (as a packed name's), which :func:`content_from_upstream` takes back.
    Every other header is stored as it is."""
    if keeps_as_sent or (
        "expires" not in headers and "cache-control" not in headers and "" not in headers.values()
    ):
        return dict(headers)  # most writes: three look-ups
    content = dict(headers)
    for name, value in headers.items():  # one to three headers on nearly every write
        kept = CARRIED.get(name)
        if value and (kept is None or kept(value)):
            continue
        del content[name]
        quoted = _quoted(value)
        content[f"{META_PREFIX}{CARRIER}-{name}"] = f"{_digest(quoted)};{quoted}"
    return content


_ENTRIES = {f"{CARRIER}-{name}": name for name in CONTENT_HEADERS}
"""The entries that carry them (``s3proxy-meta-expires``, ``s3proxy-meta-content-type`` …)."""


def content_from_upstream(metadata: dict[str, str], content: dict[str, str]) -> None:
    """Into ``content``, the headers :func:`content_to_upstream` carried in ``metadata``
    (names without the prefix, as stored: before :func:`unpacked`), their entries removed. An
    entry whose digest does not hold is a client's own name, stored as sent by an earlier
    release, and stays the client's."""
    for entry, name in _ENTRIES.items():
        carried = metadata.get(entry)
        if carried is None:
            continue
        digest, _, quoted = carried.partition(";")
        if _digest(quoted) != digest:
            continue
        try:
            value = _unquoted(quoted)
        except UnicodeError:
            continue
        if _header_text(value):  # else not the proxy's either (module docstring)
            del metadata[entry]
            content[name] = value
