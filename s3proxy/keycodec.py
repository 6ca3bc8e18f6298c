"""The ``flat`` key encoding: a client key as an upstream name no filesystem can misread. Pure.

Filesystem-backed upstreams (SeaweedFS, MinIO) read a key as a path: they fold ``//``, refuse
``.``/``..`` segments and NUL, store a trailing ``/`` as a directory, limit a segment to 255
bytes and list in directory-tree order. Under ``flat`` the upstream never sees the client key,
only this encoding of its UTF-8 bytes (README, "Upstream layout"):

- ASCII letters and digits stand for themselves; every other byte is an escape, one of four
  prefix characters and two lowercase hex digits. Each prefix sits in the gap of the
  alphanumeric ranges where its bytes sort: 0x00–0x2F → ``-xx`` ('-' < '0'), 0x3A–0x40 →
  ``=xx`` ('9' < '=' < 'A'), 0x5B–0x60 → ``_xx`` ('Z' < '_' < 'a'), 0x7B–0xFF → ``~xx``
  ('~' > 'z'). Codes are prefix-free and ordered as their bytes, so encoded strings sort exactly
  as the keys' bytes do;
- the encoded string is cut into segments of ``SEGMENT`` characters joined by ``"!/"``: every
  non-final segment ends in ``!``, so a final segment never shares a name with a continued one
  and a directory-tree walk meets names in byte order. No ``/``, ``.``, empty segment or
  trailing ``/`` can appear; a segment is at most 255 bytes.

Decoding is strict: a name this module did not produce (another tool's object, an upstream's
answer outside the asked prefix) decodes to None, so it can never reach a client.
"""

from __future__ import annotations

import binascii

SEGMENT = 254
"""Characters of encoded key per upstream path segment (plus the ``!`` of a continued one)."""
CONTINUED = "!"


def _code(byte: int) -> str:
    char = chr(byte)
    if char.isascii() and char.isalnum():
        return char
    if byte < 0x30:
        return f"-{byte:02x}"
    if byte < 0x41:
        return f"={byte:02x}"
    if byte < 0x61:
        return f"_{byte:02x}"
    return f"~{byte:02x}"


_CODES = [_code(byte) for byte in range(256)]
"""Byte → its code; also a ``str.translate`` table from the Latin-1 character of each byte."""
_TO_QP = bytes.maketrans(b"-_~", b"===")
"""Every escape prefix as ``=``: an escape becomes quoted-printable's ``=xx``."""


def encode_bytes(data: bytes) -> str:
    """The encoded string of ``data``, before cutting into segments (one C-level translate of
    its Latin-1 reading, 2-3× a join over the bytes)."""
    return data.decode("latin-1").translate(_CODES)


def segments(encoded: str) -> str:
    """``encoded`` cut into path segments: every ``SEGMENT`` characters, ``"!/"``."""
    if len(encoded) <= SEGMENT:
        return encoded
    cut = range(0, len(encoded), SEGMENT)
    return (CONTINUED + "/").join(encoded[i : i + SEGMENT] for i in cut)


def encode(key: str) -> str:
    """The upstream name of client key ``key`` (relative to its shard directory)."""
    return segments(encode_bytes(key.encode("utf-8", "surrogatepass")))


def encode_prefix(prefix: str) -> str:
    """What every encoded key starting with client prefix ``prefix`` starts with."""
    return segments(encode_bytes(prefix.encode("utf-8", "surrogatepass")))


def after_all_starting_with(prefix: str) -> str:
    """An upstream start-after past every key that starts with ``prefix``, and before every
    later key: ``prefix`` + byte 0xFF (which UTF-8 never contains)."""
    return segments(encode_bytes(prefix.encode("utf-8", "surrogatepass") + b"\xff"))


def decode(name: str) -> str | None:
    """The client key whose encoding is ``name``, or None when ``name`` is no such encoding.

    Run on every key of every listing page (15 % of listing CPU when it split on a regular
    expression and joined pieces in Python), so it works on whole strings in C: every escape
    prefix becomes ``=`` and ``binascii.a2b_qp`` turns each ``=xx`` into its byte. That alone
    would accept names this module never writes (a wrong prefix, upper-case hex, a literal
    ``=``, a quoted-printable soft break), so the bytes found are encoded again and must give
    ``name`` back exactly: an encoding is one-to-one, so only a canonical name decodes."""
    if "/" in name:
        parts = name.split("/")
        for part in parts[:-1]:
            if len(part) != SEGMENT + 1 or part[-1] != CONTINUED:
                return None
        last = parts[-1]
        joined = "".join(part[:-1] for part in parts[:-1]) + last
    else:
        last = joined = name
    if not last or len(last) > SEGMENT:
        return None
    if joined.isalnum() and joined.isascii():
        return joined
    if not joined.isascii():
        return None
    data = binascii.a2b_qp(joined.encode("ascii").translate(_TO_QP))
    if data.decode("latin-1").translate(_CODES) != joined:
        return None
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
