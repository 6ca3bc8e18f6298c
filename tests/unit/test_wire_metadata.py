"""Metadata values on an S3 upstream: empty values survive an upstream that drops them
(SeaweedFS), and every other value is stored exactly as sent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from s3proxy.backends.upstream_metadata import metadata_from_upstream, metadata_to_upstream
from s3proxy.backends.wire import object_info


@given(st.text())
def test_every_value_comes_back_as_it_was_sent(value: str) -> None:
    assert metadata_from_upstream(metadata_to_upstream(value)) == value


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF)))
def test_upstream_values_are_never_empty_and_plain_values_are_unchanged(value: str) -> None:
    stored = metadata_to_upstream(value)
    assert stored
    assert stored.isascii() or stored == value
    if value and not value.startswith("=?"):
        assert stored == value


def test_an_empty_value_is_an_encoded_word_of_nothing() -> None:
    assert metadata_to_upstream("") == "=?UTF-8?Q??="
    info = object_info({"x-amz-meta-empty": "=?UTF-8?Q??=", "x-amz-meta-full": "v"}, 0)
    assert info.attributes.metadata == {"empty": "", "full": "v"}


def test_a_value_that_looks_encoded_is_wrapped_not_decoded() -> None:
    literal = "=?UTF-8?Q??="
    assert metadata_to_upstream(literal) != literal
    assert metadata_from_upstream(metadata_to_upstream(literal)) == literal
