"""Pure parts of the hostile-input fixes: XML text for odd keys, ignored conditional dates,
reserved bucket names, If-Match forms kept from the upstream."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from s3proxy.backends.buckets import check_bucket_name, valid_bucket_name
from s3proxy.conditions import upstream_conditions, usable_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.bucket import max_keys_of
from s3proxy.model import DeleteResult, ListEntry, ReadConditions
from s3proxy.xmlcodec import delete_result_xml, error_xml, list_objects_xml, xml_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("photos/2024/a.jpg", "photos/2024/a.jpg"),
        ("a&b<c>", "a&amp;b&lt;c&gt;"),
        ("cr\rlf\n", "cr&#13;lf\n"),
        ("nul\x00\x01", "nul&#0;&#1;"),
        ("\ufffe", "&#65534;"),
        ("tab\té", "tab\té"),
    ],
)
def test_xml_text(value: str, text: str) -> None:
    assert xml_text(value) == text


def _entry(key: str) -> ListEntry:
    return ListEntry(key=key, last_modified="2026-01-01T00:00:00.000Z", etag='"e"', size=1)


@pytest.mark.parametrize("key", ["a\rb", "a\r\nb", "x&y", "\r"])
def test_a_listed_key_parses_back_exactly(key: str) -> None:
    """A raw CR would be read back as LF by every XML parser: another key."""
    document = list_objects_xml([("Name", "b")], [_entry(key)], [key], encode=False, owner=None)
    root = ET.fromstring(document)
    assert [e.text for e in root.iter() if e.tag.endswith("}Key")] == [key]
    assert [e.text for e in root.iter() if e.tag.endswith("}Prefix")] == [key]


def test_delete_results_and_errors_carry_the_exact_key() -> None:
    document = delete_result_xml([(DeleteResult(key="a\rb"), None)], quiet=False)
    assert ET.fromstring(document).findtext(".//{*}Key") == "a\rb"
    error = error_xml(S3Error(S3ErrorCode.NoSuchKey, Key="a\rb"), "ID")
    assert ET.fromstring(error).findtext("Key") == "a\rb"


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (None, None),
        ("Mon, 01 Jan 2001 00:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT"),
        ("not a date", None),
        ("", None),
        ("2001-01-01", None),
    ],
)
def test_an_unparseable_date_condition_is_dropped(value: str | None, usable: str | None) -> None:
    assert usable_date(value) == usable


@pytest.mark.parametrize("name", ["amzn-s3-demo-x", "abc.mrap", "abc--x-s3", "abc--table-s3"])
def test_later_reserved_names_are_refused_on_create_only(name: str) -> None:
    with pytest.raises(S3Error) as refused:
        check_bucket_name(name)
    assert refused.value.code is S3ErrorCode.InvalidBucketName
    assert valid_bucket_name(name)  # a bucket created before the rule still resolves


@pytest.mark.parametrize(
    ("if_match", "sent"),
    [(None, None), ('"e"', '"e"'), ("*", None), (' "a", "e"', None), ('W/"e"', 'W/"e"')],
)
def test_if_match_forms_an_upstream_misreads_stay_with_the_proxy(
    if_match: str | None, sent: str | None
) -> None:
    since = "Mon, 01 Jan 2001 00:00:00 GMT"
    conditions = ReadConditions(if_match=if_match, if_unmodified_since=since, if_none_match="*")
    upstream = upstream_conditions(conditions)
    assert upstream.if_match == sent
    assert upstream.if_unmodified_since == (since if sent is not None or if_match is None else None)
    assert upstream.if_none_match == "*"


@pytest.mark.parametrize("value", ["1_000", "+5", "٣", "2147483648", "", "1.5"])
def test_max_keys_must_be_a_32_bit_integer(value: str) -> None:
    with pytest.raises(S3Error) as refused:
        max_keys_of(value)
    assert refused.value.code is S3ErrorCode.InvalidArgument


def test_max_keys_is_capped_at_1000() -> None:
    assert (max_keys_of("2147483647"), max_keys_of("0"), max_keys_of(None)) == (1000, 0, 1000)
