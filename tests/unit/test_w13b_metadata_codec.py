"""User-metadata names on an S3 upstream (s3proxy.backends.upstream_metadata): what the proxy
writes reads back as the client sent it, through an upstream that folds names as Ceph RGW 16
does; names every upstream keeps are written as before; what earlier releases wrote reads as
it did."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.backends.upstream_metadata import (
    CARRIER,
    MAX_ENTRIES,
    PIECE,
    metadata_from_upstream,
    metadata_to_upstream,
    upstream_metadata,
)
from s3proxy.backends.wire import object_info

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
"""What a lower-cased HTTP header name is made of (RFC 9110 tchar)."""

names = st.text(alphabet=TOKEN, max_size=120)
values = st.text(  # what a header value can hold: httptools refuses DEL (0x7F) in one
    alphabet=st.sampled_from("\t")
    | st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
metadatas = st.dictionaries(names, values, max_size=90)


def as_ceph_returns(headers: dict[str, str]) -> dict[str, str]:
    """What Ceph RGW 16 answers for these headers (measured): ``_`` in a name as ``-``; it
    refuses a name over 80 characters and a value with a tab, which the test asserts never
    reach it."""
    returned: dict[str, str] = {}
    for name, value in headers.items():
        assert len(name) - len("x-amz-meta-") <= 80, name
        assert "\t" not in value, value
        returned[name.replace("_", "-")] = value
    return returned


def read(headers: dict[str, str]) -> dict[str, str]:
    return object_info({"ETag": '"e"', **headers}, 0).attributes.metadata


@settings(max_examples=150)
@given(metadatas)
def test_ceph_rgw_returns_every_name_as_sent(metadata: dict[str, str]) -> None:
    for folds in (True, None):  # Ceph RGW, and an upstream not known yet
        headers = upstream_metadata(metadata, folds)
        assert len(headers) <= MAX_ENTRIES + 4
        assert all(len(value) <= PIECE for value in headers.values())
        assert read(as_ceph_returns(headers)) == metadata


@settings(max_examples=150)
@given(metadatas)
def test_other_upstreams_store_names_as_before(metadata: dict[str, str]) -> None:
    headers = upstream_metadata(metadata, False)
    ours = {name for name in metadata if name.startswith(CARRIER)}
    before = {f"x-amz-meta-{n}": metadata_to_upstream(v) for n, v in metadata.items()}
    assert {n: v for n, v in headers.items() if n[len("x-amz-meta-") :] not in ours} == {
        n: v for n, v in before.items() if n[len("x-amz-meta-") :] not in ours
    }
    assert read(headers) == metadata


def test_names_ceph_keeps_are_written_as_before() -> None:
    metadata = {"origin": "readme", "a-b": "1", "e.f": "", "t!#$%&'*+.^`|~": "x"}
    assert upstream_metadata(metadata, True) == {
        "x-amz-meta-origin": "readme",
        "x-amz-meta-a-b": "1",
        "x-amz-meta-e.f": "=?UTF-8?Q??=",
        "x-amz-meta-t!#$%&'*+.^`|~": "x",
    }
    assert upstream_metadata({}, True) == {}


def test_only_the_names_ceph_would_change_are_packed() -> None:
    metadata = {"a_b": "1", "a-b": "2", "x" * 81: "long", "x" * 80: "kept", "t": "a\tb c"}
    headers = upstream_metadata(metadata, True)
    assert set(headers) == {"x-amz-meta-a-b", "x-amz-meta-" + "x" * 80, f"x-amz-meta-{CARRIER}"}
    carrier = headers[f"x-amz-meta-{CARRIER}"]
    assert re.fullmatch(r"[0-9a-f]{16};a_b=1;x{81}=long;t=a%09b%20c", carrier), carrier
    assert read(as_ceph_returns(headers)) == metadata


def test_many_names_go_into_one_entry_on_ceph() -> None:
    """Each header is listed again in SignedHeaders; a few hundred overflow RGW's request head."""
    metadata = {f"{n:03d}": "" for n in range(MAX_ENTRIES + 1)}
    headers = upstream_metadata(metadata, True)
    assert list(headers) == [f"x-amz-meta-{CARRIER}"]
    assert read(as_ceph_returns(headers)) == metadata
    assert len(upstream_metadata(dict(list(metadata.items())[:MAX_ENTRIES]), True)) == MAX_ENTRIES


def test_the_widest_2_kb_is_split_into_pieces() -> None:
    metadata = {"w_": "\xe9" * 2046}  # 2,048 bytes as sent; six characters each packed
    headers = upstream_metadata(metadata, True)
    assert [name[len("x-amz-meta-") :] for name in headers] == [
        CARRIER,
        f"{CARRIER}-2",
        f"{CARRIER}-3",
        f"{CARRIER}-4",
    ]
    reordered = dict(reversed(list(as_ceph_returns(headers).items())))
    assert read(reordered) == metadata


@pytest.mark.parametrize("folds", [True, False])
def test_a_client_name_like_the_carrier_is_packed_everywhere(folds: bool) -> None:
    metadata = {CARRIER: "0123456789abcdef;a_b=1", f"{CARRIER}-2": "x", "plain": "p"}
    headers = upstream_metadata(metadata, folds)
    assert set(headers) == {f"x-amz-meta-{CARRIER}", "x-amz-meta-plain"}
    assert read(headers) == metadata


def test_what_earlier_releases_stored_reads_as_it_did() -> None:
    """Before this codec every name was stored as sent: a client's own ``s3proxy-meta`` entry,
    whatever its value, is no carrier (its digest does not hold) and reads as written."""
    for value in ("hello", "0123456789abcdef;a_b=1", ";", "=?UTF-8?Q??=", "=?UTF-8?Q?=ED=A0=80?="):
        stored = {f"x-amz-meta-{CARRIER}": value, "x-amz-meta-a-b": "v"}
        expected = {CARRIER: metadata_from_upstream(value), "a-b": "v"}
        assert read(stored) == expected
    lone_piece = {f"x-amz-meta-{CARRIER}-2": "x"}
    assert read(lone_piece) == {f"{CARRIER}-2": "x"}
