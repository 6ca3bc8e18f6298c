"""How bucket names, keys and queries are written to an S3 upstream, and Content-Range read. Pure.

Shared by :mod:`s3proxy.backends.s3` and :mod:`s3proxy.backends.s3_multipart` (which cannot
import each other both ways).
"""

from __future__ import annotations

from urllib.parse import quote


def encode_path(text: str) -> str:
    """Percent-encode a bucket or key for the wire the way SigV4 canonicalises it."""
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
