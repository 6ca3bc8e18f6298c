"""How bucket names, keys, queries and read headers are written to an S3 upstream, and how
Content-Range and object headers are read back. Pure.

Shared by :mod:`s3proxy.backends.s3` and :mod:`s3proxy.backends.s3_multipart` (which cannot
import each other both ways).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from s3proxy import sse
from s3proxy.backends.upstream_metadata import (
    content_from_upstream,
    metadata_from_upstream,
    unpacked,
)
from s3proxy.model import (
    CONTENT_HEADERS,
    META_PREFIX,
    STANDARD,
    ObjectAttributes,
    ObjectInfo,
    ReadConditions,
    without_aws_chunked,
)
from s3proxy.xmlcodec import quoted_etag

# Response headers (besides content headers and metadata) that clients may rely on.
PASSED_RESPONSE_HEADERS = ("x-amz-mp-parts-count",)
_CONTENT_HEADERS = frozenset(CONTENT_HEADERS)


_NOTHING_TO_ENCODE = re.compile(r"[A-Za-z0-9_.~/-]*")
"""What ``quote(..., safe="/~")`` leaves as it is."""


def xml_body_headers(body: bytes) -> tuple[dict[str, str], str]:
    """Headers and SigV4 payload hash for an XML request body the gateway sends upstream
    (DeleteObjects, PutObjectTagging): S3 requires Content-MD5 on both."""
    headers = {
        "content-md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        "content-type": "application/xml",
        "content-length": str(len(body)),
    }
    return headers, hashlib.sha256(body).hexdigest()


def encode_path(text: str) -> str:
    """Percent-encode a bucket or key for the wire the way SigV4 canonicalises it."""
    if _NOTHING_TO_ENCODE.fullmatch(text):  # most names: skip quote's byte-by-byte pass
        return text
    return quote(text.encode("utf-8", "surrogatepass"), safe="/~")


def encode_query(params: list[tuple[str, str]]) -> str:
    """A canonical query string (sorted, RFC 3986 encoded): the signer can take it verbatim."""
    return "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in sorted(params)
    )


def parse_content_range(value: str) -> tuple[int, int, int] | None:
    """``bytes first-last/total`` → (first, last, total); None for anything else."""
    unit, _, rest = value.partition(" ")
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    if unit != "bytes" or not (first.isdigit() and last.isdigit() and total.isdigit()):
        return None
    return int(first), int(last), int(total)


def read_headers(conditions: ReadConditions, checksum_mode: bool) -> dict[str, str]:
    """GET/HEAD request headers for the client's conditions, checksum mode and SSE-C key."""
    headers: dict[str, str] = {}
    if conditions.if_match is not None:
        headers["if-match"] = conditions.if_match
    if conditions.if_none_match is not None:
        headers["if-none-match"] = conditions.if_none_match
    if conditions.if_modified_since is not None:
        headers["if-modified-since"] = conditions.if_modified_since
    if conditions.if_unmodified_since is not None:
        headers["if-unmodified-since"] = conditions.if_unmodified_since
    if checksum_mode:
        headers["x-amz-checksum-mode"] = "ENABLED"
    if conditions.customer_key is not None:
        headers.update(sse.key_headers(conditions.customer_key))
    return headers


def http_date(value: str) -> str:
    """An upstream's Last-Modified as S3 writes it, the IMF-fixdate (RFC 9110): HTTP allows
    two obsolete formats too, and some servers send ISO 8601; clients and the proxy's own
    condition checks (:mod:`s3proxy.conditions`) read the one S3 sends. A value already in
    that form (every real upstream's) is passed on without being parsed; one that cannot be
    read at all is passed on as it came."""
    if len(value) == 29 and value[3] == "," and value[-4:] == " GMT":
        return value
    try:
        if value[:4].isdigit():
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return value
    if moment.tzinfo is None:  # asctime and RFC 850 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def object_info(headers: Mapping[str, str], size: int) -> ObjectInfo:
    """An object's stored state from a GET/HEAD response's headers."""
    content: dict[str, str] = {}
    metadata: dict[str, str] = {}
    extra: dict[str, str] = {}
    storage_class, tag_count = STANDARD, 0
    for name, value in headers.items():
        lower = name.lower()
        if lower in _CONTENT_HEADERS:
            if lower == "content-encoding":
                # Some upstreams (SeaweedFS) keep "aws-chunked" from an aws-chunked PUT.
                kept = without_aws_chunked(value)
                if kept is not None:
                    content[lower] = kept
            else:
                content[lower] = value
        elif not lower.startswith("x-amz-"):  # Date, Server, Content-Length, ETag, ...
            continue
        elif lower.startswith(META_PREFIX):
            metadata[lower[len(META_PREFIX) :]] = metadata_from_upstream(value)
        elif lower.startswith("x-amz-checksum-") or lower in PASSED_RESPONSE_HEADERS:
            extra[lower] = value
        elif lower == "x-amz-storage-class":
            storage_class = value
        elif lower == "x-amz-tagging-count" and value.isdigit():
            tag_count = int(value)
        elif lower in sse.RESPONSE_HEADERS:
            extra[lower] = sse.reported(value)
    if metadata:
        content_from_upstream(metadata, content)  # those the upstream would not keep
        metadata = unpacked(metadata)
    etag, modified = headers.get("ETag", ""), headers.get("Last-Modified", "")
    if etag[:1] != '"':  # what every real upstream sends costs a comparison, not a call
        etag = quoted_etag(etag)
    if len(modified) != 29 or modified[-4:] != " GMT":
        modified = http_date(modified)
    return ObjectInfo(
        size=size,
        etag=etag,
        last_modified=modified,
        attributes=ObjectAttributes(headers=content, metadata=metadata),
        extra_headers=extra,
        storage_class=storage_class,
        tag_count=tag_count,
    )
