"""Parse an ASGI HTTP scope into the parts S3 cares about. Pure: no I/O.

Addressing (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html):
virtual-hosted style when the Host header is ``<bucket>.<domain>`` for a configured domain,
path style (``/<bucket>/<key>``) otherwise. The key comes from the *raw* path, percent-decoded
once (a bare ``+`` is a space, as S3 reads it) and never normalised, so ``a/../b``, ``//x`` and
``%2F`` stay distinct keys — the same raw path the signature was verified over.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from s3proxy.auth.sigv4 import join_headers
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.quick_init import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class S3Request:
    method: str
    raw_path: str
    """The path exactly as sent, still percent-encoded."""
    query_string: str
    query: Mapping[str, str]
    """Decoded query parameters; the first value wins for repeated names."""
    headers: Sequence[tuple[str, str]]
    """(lower-case name, value) pairs in arrival order, repeats kept."""
    header_map: Mapping[str, str]
    """Lower-case name → value; repeated headers joined with ","."""
    bucket: str | None
    """None for service requests (path ``/``); "" when a path-style path's first segment is
    empty (``//docs/k``): a name no bucket has."""
    key: str | None
    """None for service and bucket requests; may be "" only for ``/bucket/``."""
    virtual_host_bucket: str | None = None
    """The bucket when it came from the Host header (SigV2 signs it as part of the path)."""
    secure: bool = False
    """Whether the request came over TLS (the ASGI scheme is https)."""

    def header(self, name: str) -> str | None:
        return self.header_map.get(name)


_IDS_PER_READ = 512
"""Request ids drawn from one read of the kernel's random source."""
_ids: Iterator[str] = iter(())


def new_request_id() -> str:
    """A request's ``x-amz-request-id``: 16 upper-case hex digits, as the gateway always sent.

    From the kernel's random source, 512 at a time (one system call per 512 requests). Before
    wave 17 the process's Mersenne Twister gave them: its state follows from 312 consecutive
    ids, so a tenant that read that many answers could compute every later id of the worker,
    and from the next id it got, how many requests other tenants had sent there meanwhile."""
    global _ids
    for request_id in _ids:
        return request_id
    raw = os.urandom(8 * _IDS_PER_READ).hex().upper()
    _ids = iter([raw[at : at + 16] for at in range(0, len(raw), 16)])
    return next(_ids)


def _forget_ids() -> None:
    """A forked worker draws its own: ids left in the parent's batch would repeat."""
    global _ids
    _ids = iter(())


os.register_at_fork(after_in_child=_forget_ids)


def _wire_text(raw: bytes) -> str:
    """A raw path or query as ASCII text: bytes ≥ 0x80 sent unencoded are percent-encoded, so
    that decoding gives back exactly the bytes on the wire (the bytes the signature covers)."""
    if raw.isascii():
        return raw.decode("ascii")
    return "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in raw)


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def decode_component(raw: str) -> str:
    """Percent-decode a path or query component to text; invalid UTF-8 → InvalidURI, and so
    is a ``%`` not followed by two hex digits (S3's answer; decoding would keep it literally,
    a key that no signer produces, since every signer encodes ``%`` as ``%25``)."""
    if raw.isascii() and "%" not in raw:  # nothing to decode: most keys and bucket names
        return raw
    if _BAD_ESCAPE.search(raw):
        raise S3Error(S3ErrorCode.InvalidURI)
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error(S3ErrorCode.InvalidURI) from None


def decode_path_component(raw: str) -> str:
    """A bucket or key of the request path decoded as S3 decodes it: a bare ``+`` is a space,
    ``%2B`` a plus sign (``GET /docs/a+b`` reads key "a b" there, and S3 canonicalises that
    ``+`` as ``%20``: aws/aws-sdk-net#4473's live results, s3tools/s3cmd#554). SDKs always
    send ``%2B``; :func:`s3proxy.auth.canonical.canonical_uri` signs a bare one as ``%20``,
    so the key carried out is the one signed."""
    return decode_component(raw.replace("+", " ") if "+" in raw else raw)


def decode_query_component(raw: str) -> str:
    """A query name or value decoded as S3 decodes it: form encoding, so a bare ``+`` is a
    space and ``%2B`` a plus sign. SDKs send ``%20`` and ``%2B`` and never a bare ``+``; the
    clients that do (URLSearchParams, form encoders) mean a space by it, and sign it as ``%20``
    (:func:`s3proxy.auth.canonical.canonical_query` reads it the same way, so the request
    executed is the one signed)."""
    return decode_component(raw.replace("+", " ") if "+" in raw else raw)


def parse_query(query_string: str) -> dict[str, str]:
    """Decode ``a=1&b&c=`` into a dict (a bare ``+`` is a space: :func:`decode_query_component`).

    A name given twice with different values is 400 InvalidArgument: a signature covers every
    value in sorted order, so reordering them would keep the signature valid and change the one
    a handler reads. A repeat with the same value is harmless and kept."""
    query: dict[str, str] = {}
    if not query_string:
        return query
    for part in query_string.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name, value = decode_query_component(raw_name), decode_query_component(raw_value)
        if query.setdefault(name, value) != value:
            raise S3Error(
                S3ErrorCode.InvalidArgument,
                "A query parameter is given more than once with different values.",
                ArgumentName=name,
            )
    return query


def _host_bucket(host: str, domains: Iterable[str]) -> str | None:
    """The bucket a virtual-hosted Host names: what precedes the *longest* configured domain
    the host name ends in. A host name that is itself a configured domain is the endpoint, so
    path style, even when a shorter configured domain is its suffix: with ``s3.example.com``
    and ``example.com`` both listed, ``s3.example.com/docs/k`` is bucket ``docs`` (never bucket
    ``s3``, key ``docs/k``) and ``b.s3.example.com`` is bucket ``b`` (never ``b.s3``), whatever
    the order of the list."""
    if not domains:  # path style only (the default): nothing to compare
        return None
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    hostname = hostname.lower().removesuffix(".")  # an absolute name: "bucket.domain."
    longest = ""
    for domain in domains:
        domain = domain.lower()
        if hostname == domain:
            return None
        if len(domain) > len(longest) and hostname.endswith("." + domain):
            longest = domain
    return (hostname[: -len(longest) - 1] or None) if longest else None


def parse_request(scope: Mapping[str, Any], virtual_host_domains: Iterable[str] = ()) -> S3Request:
    raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
    headers = [
        (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw_headers
    ]
    # The same map SigV4 verification reads (it is passed on as ``joined``): one rule for
    # repeated headers, so a header is never verified under one value and used under another.
    header_map = join_headers(headers)
    raw_path_bytes = scope.get("raw_path")
    if raw_path_bytes:
        raw_path = _wire_text(raw_path_bytes.split(b"?", 1)[0])
    else:
        raw_path = quote(scope.get("path", "/"), safe="/")
    if not raw_path.startswith("/"):
        raise S3Error(S3ErrorCode.InvalidURI)
    query_string = _wire_text(scope.get("query_string", b""))

    bucket: str | None
    key: str | None
    host_bucket = _host_bucket(header_map.get("host", ""), virtual_host_domains)
    if host_bucket is not None:
        bucket = host_bucket
        key = decode_path_component(raw_path[1:]) if len(raw_path) > 1 else None
    else:
        bucket_part, slash, key_part = raw_path[1:].partition("/")
        # The first segment is the bucket whenever a "/" follows it, even empty: "//docs/k"
        # is key "docs/k" of bucket "" (no such bucket), never the service (ListBuckets
        # answered 200 to a GET signed for an object, and a PUT was 405).
        bucket = decode_path_component(bucket_part) if bucket_part or slash else None
        key = decode_path_component(key_part) if slash and key_part else None
    return S3Request(
        method=scope["method"].upper(),
        raw_path=raw_path,
        query_string=query_string,
        query=parse_query(query_string),
        headers=headers,
        header_map=header_map,
        bucket=bucket,
        key=key,
        virtual_host_bucket=host_bucket,
        secure=scope.get("scheme") == "https",
    )
