"""The flat key encoding: order-preserving, reversible, filesystem-safe (property tests)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.keycodec import (
    SEGMENT,
    after_all_starting_with,
    decode,
    encode,
    encode_bytes,
    encode_prefix,
)

# Keys as S3 takes them: any Unicode text (NUL and controls included) up to 1024 UTF-8 bytes;
# a small alphabet of the characters that trip filesystems makes collisions of prefixes likely.
ODD = st.sampled_from(["/", ".", "..", "//", "\\", "\x00", "-", "p", "q", "é", "\U0001f600", "~"])
EDGES = st.sampled_from(list("\x00/0129:@AZ[_`az{~\x7f\x80\u07ff\u0800\uffff\U00010000"))
"""Characters at the edges of the alphanumeric ranges and of UTF-8's lengths."""
KEYS = st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(EDGES, min_size=1, max_size=6),
    st.lists(ODD, min_size=1, max_size=40).map("".join),
    st.text(alphabet="ab/", min_size=SEGMENT - 3, max_size=SEGMENT * 3),
)


def utf8(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def tree_order(name: str) -> list[str]:
    """How a directory-tree walk ranks a name: segment by segment, each by name (a directory
    ``d`` is walked where ``d`` sorts among its siblings)."""
    return name.split("/")


def test_byte_codes_are_ordered_and_prefix_free() -> None:
    """The lemma behind order preservation, checked for every pair of bytes: each byte's code
    sorts as the byte does and no code is a prefix of another, so encoded strings compare at
    the first differing byte exactly as the bytes do."""
    codes = [encode_bytes(bytes([byte])) for byte in range(256)]
    assert codes == sorted(codes)
    assert len(set(codes)) == 256
    for one in codes:
        assert not any(other != one and other.startswith(one) for other in codes)


@given(KEYS)
def test_decode_inverts_encode(key: str) -> None:
    assert decode(encode(key)) == key


@given(KEYS)
def test_segments_are_safe_for_filesystems(key: str) -> None:
    name = encode(key)
    parts = name.split("/")
    for index, part in enumerate(parts):
        assert part not in ("", ".", "..")
        assert len(part.encode()) <= 255
        assert part.endswith("!") == (index < len(parts) - 1)
    assert name.isascii()
    assert "\\" not in name


@settings(max_examples=500)
@given(KEYS, KEYS)
def test_order_is_byte_order_in_flat_and_tree_listings(one: str, two: str) -> None:
    expected = (utf8(one) > utf8(two)) - (utf8(one) < utf8(two))
    a, b = encode(one), encode(two)
    assert ((a > b) - (a < b)) == expected  # an upstream that lists in byte order
    ta, tb = tree_order(a), tree_order(b)
    assert ((ta > tb) - (ta < tb)) == expected  # an upstream that walks a directory tree


@given(KEYS, KEYS)
def test_prefixes_map_to_prefixes(key: str, prefix: str) -> None:
    assert encode(key).startswith(encode_prefix(prefix)) == key.startswith(prefix)


@given(KEYS, KEYS)
def test_after_all_starting_with_skips_exactly_that_prefix(key: str, prefix: str) -> None:
    after = after_all_starting_with(prefix)
    if key.startswith(prefix):
        assert encode(key) < after
    elif utf8(key) > utf8(prefix):
        assert encode(key) > after


def test_a_readable_example() -> None:
    assert encode("photos/2024/a b.jpg") == "photos-2f2024-2fa-20b-2ejpg"
    assert encode("Z[a:{") == "Z_5ba=3a~7b"


def test_long_keys_are_cut_into_marked_segments() -> None:
    name = encode("k" * 600)
    assert name == "k" * SEGMENT + "!/" + "k" * SEGMENT + "!/" + "k" * (600 - 2 * SEGMENT)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b",
        "-2F",  # uppercase hex is not ours
        "-61",  # 'a' escaped: not the canonical form
        "a!",
        "k" * (SEGMENT + 1),
        "k" * SEGMENT + "!/",
        "~ff",  # not UTF-8
        "a.b",
        ".s3proxy-layout",
        "a=",  # a bare prefix at the end
        "=3",
        "a=\nb",  # a quoted-printable soft line break
        "a=\r\nb",
        "=3A",
        "a=zzb",
        "a==3ab",
        "a\\x2fb",  # a backslash escape is not ours either
        "d\u00e9",  # non-ASCII is never written
        "a b",
        "-2f\x00",
    ],
)
def test_names_not_produced_by_encode_do_not_decode(name: str) -> None:
    assert decode(name) is None


_ESCAPE = re.compile(r"([-=_~][0-9a-f]{2})")
_REFERENCE_BYTES = {encode_bytes(bytes([byte])): byte for byte in range(256)}


def reference_decode(name: str) -> str | None:
    """The decoder as first written, piece by piece in Python: the oracle for the C-level one."""
    parts = name.split("/")
    for part in parts[:-1]:
        if len(part) != SEGMENT + 1 or part[-1] != "!":
            return None
    last = parts[-1]
    if not last or len(last) > SEGMENT:
        return None
    joined = "".join(part[:-1] for part in parts[:-1]) + last
    data = bytearray()
    for index, piece in enumerate(_ESCAPE.split(joined)):
        if index % 2:
            byte = _REFERENCE_BYTES.get(piece)
            if byte is None or len(piece) != 3:
                return None
            data.append(byte)
        elif piece:
            if not (piece.isascii() and piece.isalnum()):
                return None
            data += piece.encode("ascii")
    try:
        return bytes(data).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


HOSTILE = st.text(
    alphabet=st.sampled_from(list("-=_~!/0129afAFgzZ \n\r\t\\%.\x00\xe9\u20ac")), max_size=40
)
"""Names an upstream might send that this module never wrote: escape prefixes with odd hex
(upper case, short, none), quoted-printable soft breaks, backslashes, non-ASCII."""


@settings(max_examples=2000)
@given(st.one_of(HOSTILE, KEYS.map(encode)))
def test_decode_agrees_with_the_reference_decoder(name: str) -> None:
    assert decode(name) == reference_decode(name)


@given(KEYS, st.integers(min_value=0), st.sampled_from(list("-=_~!/0aAZ\n\\\xe9")))
def test_a_changed_character_never_decodes_to_the_same_key(key: str, at: int, char: str) -> None:
    name = encode(key)
    index = at % len(name)
    changed = name[:index] + char + name[index + 1 :]
    if changed != name:
        assert decode(changed) != key
        assert decode(changed) == reference_decode(changed)


def test_a_long_hostile_name_is_refused() -> None:
    assert decode("=" * 200) is None
    assert decode(("a=" * 100_000) + "3") is None
