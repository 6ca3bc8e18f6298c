"""SigV4 canonicalisation for S3: the canonical URI, query string and headers. Pure.

https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html ("Canonical
request"). S3's quirk, as in botocore's ``S3SigV4Auth._normalize_url_path``: the path is never
normalised; ``.``, ``..`` and ``//`` are kept. Percent-encoding everywhere keeps ``A-Za-z0-9-._~``
and writes every other byte as ``%XX`` with uppercase hex (``quote_from_bytes`` does exactly that).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import quote_from_bytes, unquote_to_bytes

Headers = Sequence[tuple[str, str]]
"""Header (name, value) pairs as received: names in any case, repeats allowed."""


_CANONICAL_PATH = re.compile(r"[A-Za-z0-9\-._~/]*")
_CANONICAL_COMPONENT = re.compile(r"[A-Za-z0-9\-._~]*")


def canonical_uri(raw_path: str) -> str:
    """The raw path decoded to bytes and encoded once; ``/`` kept, never normalised (S3). So
    ``%2F`` is ``/`` here, as S3 decodes it (aws/aws-sdk-net#4473: S3, unlike execute-api,
    decodes ``%2F``), and a bare ``+`` a space (``%20``), as S3 signs it and
    :func:`s3proxy.request.decode_path_component` reads it."""
    if not raw_path:
        return "/"
    if _CANONICAL_PATH.fullmatch(raw_path):
        return raw_path
    return quote_from_bytes(unquote_to_bytes(raw_path.replace("+", "%20")), "/")


def _encode_component(raw: str) -> str:
    if _CANONICAL_COMPONENT.fullmatch(raw):
        return raw
    return _reencoded(raw)


@functools.lru_cache(maxsize=64)
def _reencoded(raw: str) -> str:
    """A component decoded and encoded again; a bare ``+`` is a space (``%20``), as
    :func:`s3proxy.request.decode_query_component` reads it for the handlers. Remembered: a
    presigned URL's X-Amz-Credential (``AK%2F20261203%2F…``) is the same on every request of a
    key and day, and re-encoding it was most of the canonical query's cost. A pure function of
    its argument."""
    return quote_from_bytes(unquote_to_bytes(raw.replace("+", "%20")), "")


def canonical_query(query_string: str, *, exclude: str | None = None) -> str:
    """Names and values decoded (a bare ``+`` is a space), encoded with ``/`` too, sorted."""
    if not query_string:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = _encode_component(name)
        if name != exclude:
            pairs.append((name, _encode_component(value)))
    pairs.sort()
    return "&".join([f"{name}={value}" for name, value in pairs])


def trim_header_value(value: str) -> str:
    """Trimall for a request the gateway sends (as text, written as UTF-8): strip, and
    collapse inner whitespace runs to one space, as botocore does and as an upstream that
    reads the value as UTF-8 text (SeaweedFS, MinIO) folds it."""
    return " ".join(value.split())


_BLANKS = re.compile("[ \t]+")


def fold_received_value(value: str) -> str:
    """Trimall for a request received (each byte read as a character): strip, and collapse
    runs of spaces and tabs, HTTP's blanks, to one space. S3 folds sequential spaces, so a
    value signed as ``a b`` may arrive as ``a  b``; nothing else is folded. Python's
    whitespace would also fold the bytes 0x85 and 0xA0 (NEL and NBSP read as ISO-8859-1): no
    signer folds such a byte (botocore folds the text it writes as UTF-8, C2 A0), so folding
    them only let a value signed as ``a b`` be carried out as ``a\\xa0b``: another key in
    ``x-amz-copy-source``, another metadata value. Control characters never get here (the
    HTTP layer refuses them)."""
    if value.isascii() and value.isprintable():  # most values: only spaces to fold
        return " ".join(value.split())
    return _BLANKS.sub(" ", value.strip(" \t"))


def canonical_headers(headers: Headers, signed: Sequence[str]) -> str:
    """A ``name:value\\n`` line per signed header, in ``signed`` order; repeats joined by ``,``."""
    wanted = set(signed)
    values: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in wanted:
            trimmed = fold_received_value(value)
            values[lower] = f"{values[lower]},{trimmed}" if lower in values else trimmed
    return "".join([f"{name}:{values.get(name, '')}\n" for name in signed])


def canonical_request(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Headers,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    exclude_query: str | None = None,
) -> str:
    return "\n".join(
        (
            method,
            canonical_uri(raw_path),
            canonical_query(query_string, exclude=exclude_query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )
