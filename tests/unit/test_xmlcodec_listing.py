"""Upstream ListObjectsV2 documents: what the proxy reads from them, and hostile ones refused.

Upstream responses are parsed by the C ElementTree once any DTD is refused
(``upstream_xml._upstream_document``); these tests pin both halves of that bargain.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote, unquote_plus
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy import listing_scan
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ListEntry, ListPage
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


# --- the scanned run of entries (listing_scan): the same page as the tree gives -------------


def tree_reading(body: bytes, url_encoded: bool) -> ListPage | None:
    """What the C tree parser alone reads from ``body`` (the reading before the shortcut),
    None when it refuses the page."""
    try:
        root = ET.fromstring(body.decode("utf-8"))
    except (ET.ParseError, UnicodeDecodeError):
        return None
    ns = root.tag[: root.tag.find("}") + 1]
    decode = unquote_plus if url_encoded else (lambda value: value)
    entries = [
        ListEntry(
            decode(item.findtext(ns + "Key") or ""),
            item.findtext(ns + "ETag") or "",
            int(item.findtext(ns + "Size") or 0),
            item.findtext(ns + "LastModified") or "",
            item.findtext(ns + "StorageClass") or "STANDARD",
        )
        for item in root
        if item.tag == ns + "Contents"
    ]
    prefixes = [
        decode(item.findtext(ns + "Prefix") or "")
        for item in root
        if item.tag == ns + "CommonPrefixes"
    ]
    truncated = (root.findtext(ns + "IsTruncated") or "").strip().lower() == "true"
    token = root.findtext(ns + "NextContinuationToken") or None
    return ListPage(entries, prefixes, token if truncated else None)


def seaweedfs_entry(key: str, etag: str = "&#34;9dd4e461&#34;", size: str = "1") -> str:
    """An entry as SeaweedFS 3.x writes it (captured)."""
    return (
        f"<Contents><Key>{key}</Key><ETag>{etag}</ETag><Size>{size}</Size>"
        "<StorageClass>STANDARD</StorageClass><LastModified>2026-12-03T20:00:57Z</LastModified>"
        "</Contents>"
    )


def ceph_entry(key: str, etag: str = "&quot;9dd4e461&quot;", size: str = "1") -> str:
    """An entry as Ceph RGW 16 writes it (captured)."""
    return (
        f"<Contents><Key>{key}</Key><LastModified>2026-12-03T20:00:57.123Z</LastModified>"
        f"<ETag>{etag}</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass>"
        "<Type>Normal</Type></Contents>"
    )


def owner_entry(key: str, etag: str = "&#34;9dd4e461&#34;", size: str = "1") -> str:
    """An entry with its owner (fetch-owner), AWS's order."""
    return (
        f"<Contents><Key>{key}</Key><LastModified>2026-12-03T20:00:57.000Z</LastModified>"
        f"<ETag>{etag}</ETag><Size>{size}</Size>"
        "<Owner><ID>bench</ID><DisplayName>bench</DisplayName></Owner>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
    )


@pytest.mark.parametrize(
    "entry", [seaweedfs_entry, ceph_entry, owner_entry], ids=["seaweedfs", "ceph", "owner"]
)
def test_the_upstreams_entries_are_scanned(entry: Callable[[str], str]) -> None:
    """The shortcut takes both upstreams' entries: without it each listed key costs twice the
    parse (benchmarks.listing_cpu); what it reads is pinned by the tests below."""
    text = listing("".join(entry(f"k{i}") for i in range(3))).decode()
    scanned = listing_scan.scan(text, unquote_plus)
    assert scanned is not None
    assert [item.key for item in scanned[0]] == ["k0", "k1", "k2"]
    assert scanned[0][0].etag == '"9dd4e461"'


ODD_PAGES = {
    "in-a-comment": "<!--" + seaweedfs_entry("hidden") + "-->" + seaweedfs_entry("shown"),
    "in-cdata": "<Name><![CDATA[" + seaweedfs_entry("hidden") + "]]></Name>",
    "nested": "<Other>" + seaweedfs_entry("nested") + "</Other>" + seaweedfs_entry("top"),
    "other-namespace": '<x:Other xmlns:x="urn:x" xmlns="urn:y">'
    + seaweedfs_entry("elsewhere")
    + "</x:Other>",
    "carriage-return": seaweedfs_entry("a\rb") + seaweedfs_entry("c\r\nd"),
    "amp-reference": seaweedfs_entry("a&amp;b", "&#x22;e&#x22;") + seaweedfs_entry("z"),
    "lt-reference": seaweedfs_entry("x", "&lt;e&gt;&apos;&amp;lt;"),
    "ceph-apos": ceph_entry("p%2F%C3%A9%26%3C%3E&apos;%22"),
    "bad-reference": seaweedfs_entry("x&bogus;y"),
    "bad-char-reference": seaweedfs_entry("x&#0;y"),
    "control-char": seaweedfs_entry("x\x01y"),
    "non-character": seaweedfs_entry("x\ufffey"),
    "bad-reference-in-ignored-child": owner_entry("x").replace("bench<", "a&bogus;<", 1),
    "reference-in-ignored-child": ceph_entry("x").replace("Normal", "&amp;") + ceph_entry("y"),
    "attribute": seaweedfs_entry("a").replace("<Key>", '<Key a="1">'),
    "placeholder-name": "<S3proxyScannedEntries/><Contents ><Key>z</Key></Contents>"
    + seaweedfs_entry("a"),
    "spaced-tag-first": "<Contents ><Key>z</Key></Contents>" + seaweedfs_entry("a"),
    "second-key": seaweedfs_entry("a").replace("<Size>", "<Key>b</Key><Size>"),
    "empty-class": seaweedfs_entry("a").replace(">STANDARD<", "><"),
    "size-with-spaces": seaweedfs_entry("a", size=" 7 ") + seaweedfs_entry("b"),
    "shapes-change": seaweedfs_entry("a") + ceph_entry("b") + seaweedfs_entry("c"),
    "prefixes-between": seaweedfs_entry("a")
    + "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"
    + seaweedfs_entry("c"),
    "unclosed": seaweedfs_entry("a") + "<Contents><Key>b</Key>",
    "whitespace": "\n  " + seaweedfs_entry("a") + "\n  " + seaweedfs_entry("b") + "\n",
}


@pytest.mark.parametrize(
    ("items", "token"),
    [(items, "tok") for items in ODD_PAGES.values()]
    + [("", f"<![CDATA[{seaweedfs_entry('a')}]]>"), ("", f"<!--{seaweedfs_entry('a')}-->t")],
    ids=[*ODD_PAGES, "token-cdata", "token-comment"],
)
def test_odd_pages_read_as_the_tree_reads_them(items: str, token: str) -> None:
    """Whatever the shortcut cannot read exactly is left to the parser: same entries, same
    order, same token, same refusal."""
    body = listing(items, truncated=True, token=token)
    expected = tree_reading(body, url_encoded=True)
    if expected is None:
        with pytest.raises(S3Error) as raised:
            parse_list_v2(body, url_encoded=True)
        assert raised.value.code is S3ErrorCode.InternalError
    else:
        assert parse_list_v2(body, url_encoded=True) == expected


def test_a_prefixed_root_does_not_take_unprefixed_entries() -> None:
    """The entries of ``<s3:ListBucketResult>`` are ``<s3:Contents>``: unprefixed ones are in
    no namespace, and neither reading takes them."""
    body = (
        f'<s3:ListBucketResult xmlns:s3="{NS}"><s3:IsTruncated>false</s3:IsTruncated>'
        + seaweedfs_entry("a")
        + "</s3:ListBucketResult>"
    ).encode()
    assert (
        parse_list_v2(body, url_encoded=True) == tree_reading(body, True) == ListPage([], [], None)
    )


_REFERENCES = ("&#34;", "&quot;", "&apos;", "&lt;", "&gt;", "&amp;", "&#x22;", "&#0;", "&bogus;")
_FIELD_TEXT = st.lists(
    st.sampled_from([*"a +é日\t\n\r\x01\ufffe><&", *_REFERENCES, "%2B", "]]"]),
    max_size=6,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([seaweedfs_entry, ceph_entry, owner_entry]),
            _FIELD_TEXT,
            _FIELD_TEXT,
            st.sampled_from(["0", "1", "007", "", " 2", "x", "12345678901234567890"]),
        ),
        max_size=8,
    ),
    url_encoded=st.booleans(),
)
def test_pages_read_as_the_tree_reads_them(
    rows: list[tuple[Callable[..., str], str, str, str]], url_encoded: bool
) -> None:
    """Random fields (references good and bad, characters XML forbids or rewrites, markup) in
    both upstreams' shapes: the page read is the tree's, or both refuse it."""
    body = listing(
        "".join(entry(key, etag, size) for entry, key, etag, size in rows), truncated=True
    )
    try:
        expected = tree_reading(body, url_encoded)
    except ValueError:  # a Size int() refuses: the old reading raised the same
        with pytest.raises(ValueError):
            parse_list_v2(body, url_encoded)
        return
    if expected is None:
        with pytest.raises(S3Error):
            parse_list_v2(body, url_encoded)
    else:
        assert parse_list_v2(body, url_encoded) == expected


def escaped_contents(entries: list[ListEntry], encode: bool, owner: Owner | None) -> str:
    """Every field escaped (the rendering before fields were tested for markup first)."""
    owner_xml = ""
    if owner is not None:
        name = owner.display_name  # none shown for an unnamed owner (Owner.unnamed)
        shown = f"<DisplayName>{escape(name)}</DisplayName>" if name else ""
        owner_xml = f"<Owner><ID>{escape(owner.id)}</ID>{shown}</Owner>"
    return "".join(
        f"<Contents><Key>{url_encode(entry.key) if encode else escape(entry.key)}</Key>"
        f"<LastModified>{escape(entry.last_modified)}</LastModified>"
        f"<ETag>{escape(entry.etag)}</ETag><Size>{entry.size}</Size>{owner_xml}"
        f"<StorageClass>{escape(entry.storage_class)}</StorageClass></Contents>"
        for entry in entries
    )


_MARKUP_TEXT = st.text(st.sampled_from("ab<>&;\"'é "), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(
        st.builds(ListEntry, _MARKUP_TEXT, _MARKUP_TEXT, st.integers(0, 10**12), _MARKUP_TEXT),
        max_size=6,
    ),
    encode=st.booleans(),
    owner=st.none() | st.builds(Owner, _MARKUP_TEXT, _MARKUP_TEXT),
)
def test_listing_xml_escapes_every_field_that_needs_it(
    entries: list[ListEntry], encode: bool, owner: Owner | None
) -> None:
    """A field is escaped only when it holds ``&``, ``<`` or ``>``: the document is the one
    escaping every field gives, markup in any field (owner included) or none."""
    body = list_objects_xml([], entries, [], encode=encode, owner=owner).decode()
    assert body.endswith(escaped_contents(entries, encode, owner) + "</ListBucketResult>")
