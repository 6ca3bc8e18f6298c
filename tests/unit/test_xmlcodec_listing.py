"""Upstream ListObjectsV2 documents: what the proxy reads from them, and hostile ones refused.

Upstream responses are parsed by the C ElementTree once any DTD is refused
(``upstream_xml._upstream_document``); these tests pin both halves of that bargain.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ListEntry
from s3proxy.owner import Owner
from s3proxy.upstream_xml import parse_list_parts, parse_list_v2
from s3proxy.xmlcodec import list_objects_xml, url_encode

OWNER = Owner("123456789012", "alice")

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def listing(items: str, *, truncated: bool = False, token: str = "tok", ns: bool = True) -> bytes:
    xmlns = f' xmlns="{NS}"' if ns else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult{xmlns}><Name>b</Name>'
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        f"<NextContinuationToken>{token}</NextContinuationToken>{items}</ListBucketResult>"
    ).encode()


CONTENTS = (
    "<Contents><Key>a+b%2Bc%20d</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>"
    "<ETag>&quot;0123&quot;</ETag><Size>42</Size><Owner><ID>x</ID></Owner>"
    "<StorageClass>REDUCED_REDUNDANCY</StorageClass></Contents>"
    "<Contents><Key>plain</Key><ETag>e</ETag><Size>0</Size></Contents>"
    "<CommonPrefixes><Prefix>dir%2F+x/</Prefix></CommonPrefixes>"
)


@pytest.mark.parametrize("ns", [True, False], ids=["s3-namespace", "no-namespace"])
def test_entries_prefixes_and_token_are_read(ns: bool) -> None:
    page = parse_list_v2(listing(CONTENTS, truncated=True, ns=ns), url_encoded=True)
    assert page.entries == [
        ListEntry("a b+c d", '"0123"', 42, "2026-01-02T03:04:05.000Z", "REDUCED_REDUNDANCY"),
        ListEntry("plain", "e", 0, "", "STANDARD"),
    ]
    assert page.prefixes == ["dir/ x/"]
    assert page.next_token == "tok"


def test_keys_are_taken_as_sent_without_url_encoding_and_last_page_has_no_token() -> None:
    page = parse_list_v2(listing(CONTENTS), url_encoded=False)
    assert [entry.key for entry in page.entries] == ["a+b%2Bc%20d", "plain"]
    assert page.prefixes == ["dir%2F+x/"]
    assert page.next_token is None


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.text(st.characters(exclude_categories=["Cs"]), min_size=1), max_size=20),
    prefixes=st.lists(st.text(st.characters(exclude_categories=["Cs"]), min_size=1), max_size=5),
)
def test_what_the_proxy_renders_url_encoded_reads_back_the_same(
    keys: list[str], prefixes: list[str]
) -> None:
    entries = [
        ListEntry(key, f'"{i}"', i, "2026-01-01T00:00:00.000Z") for i, key in enumerate(keys)
    ]
    body = list_objects_xml([("IsTruncated", "false")], entries, prefixes, encode=True, owner=OWNER)
    page = parse_list_v2(body, url_encoded=True)
    assert (page.entries, page.prefixes) == (entries, prefixes)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    "body",
    [
        (
            LAUGHS + "<ListBucketResult><Contents><Key>&lol9;</Key></Contents></ListBucketResult>"
        ).encode(),
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>",
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><ListBucketResult/>',
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><ListBucketResult/>',
        b'<!DOCTYPE r [<!ENTITY x "y">]><ListBucketResult><Contents><Key>&x;</Key></Contents>'
        b"</ListBucketResult>",
        # The same DTD in UTF-16: a search of the raw bytes would not see "<!DOCTYPE".
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]>'
        "<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>".encode("utf-16"),
        b"<ListBucketResult><Contents><Key>&undeclared;</Key></Contents></ListBucketResult>",
        b"<ListBucketResult><Contents><Key>\xff</Key></Contents></ListBucketResult>",
        b"<ListBucketResult><Contents>",
        b"",
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "external-dtd",
        "parameter-entity",
        "internal-entity",
        "utf16-dtd",
        "undeclared-entity",
        "not-utf8",
        "truncated",
        "empty",
    ],
)
def test_hostile_or_broken_upstream_listing_is_an_internal_error(body: bytes) -> None:
    with pytest.raises(S3Error) as raised:
        parse_list_v2(body, url_encoded=True)
    assert raised.value.code is S3ErrorCode.InternalError


def test_other_upstream_results_refuse_a_dtd_too() -> None:
    body = b'<!DOCTYPE r [<!ENTITY x "1">]><ListPartsResult><IsTruncated>false</IsTruncated>'
    with pytest.raises(S3Error) as raised:
        parse_list_parts(body + b"<Part><PartNumber>&x;</PartNumber></Part></ListPartsResult>")
    assert raised.value.code is S3ErrorCode.InternalError


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(["+", "%", "2", "B", "C", "3", "A", "9", "a", " ", "é", "/"])))
def test_url_encoded_keys_decode_as_form_encoding(text: str) -> None:
    """botocore's decoding of encoding-type=url (``unquote_plus``), odd escapes included."""
    page = parse_list_v2(listing(f"<Contents><Key>{text}</Key></Contents>"), url_encoded=True)
    assert [entry.key for entry in page.entries] == [unquote_plus(text)]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_url_encode_is_quote_with_slash_safe(value: str) -> None:
    """encoding-type=url's shortcut for keys that need no quoting gives quote()'s answer for
    every key, plain or not."""
    assert url_encode(value) == quote(value, safe="/")


@pytest.mark.parametrize("key", ["a/b-c_d.e~f", "a b", "a+b", "ü", "%41", "a\nb", ""])
def test_url_encode_examples(key: str) -> None:
    assert url_encode(key) == quote(key, safe="/")
