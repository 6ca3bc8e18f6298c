"""The two kinds of too-long key (wave 15, H; tests/integration/test_w15h_key_limits.py).

A key over S3's 1024 bytes is S3's KeyTooLongError with ``<Size>`` and ``<MaxSizeAllowed>``.
A key S3 takes but whose upstream key would pass the upstream's limit is an UnstorableKey: a
write is refused with KeyTooLongError (no Size: S3 says it of keys over its own limit only),
and where the key must already be stored it is a missing key.
"""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import (
    UnstorableKey,
    UpstreamRoot,
    absent_delete,
    absent_if_unstorable,
    object_key,
)
from s3proxy.xmlcodec import error_xml

ROOT = UpstreamRoot("m", "b", "tenant/bucket/")


def test_a_key_over_1024_bytes_names_its_size_and_the_limit() -> None:
    with pytest.raises(S3Error) as caught:
        object_key(ROOT, "\u00e9" * 512 + "k", 1, "flat")
    error = caught.value
    assert error.code is S3ErrorCode.KeyTooLongError and not isinstance(error, UnstorableKey)
    assert error.fields == {"Size": "1025", "MaxSizeAllowed": "1024"}
    document = error_xml(error, "ID")
    assert b"<Size>1025</Size><MaxSizeAllowed>1024</MaxSizeAllowed>" in document


def test_a_key_whose_upstream_key_is_too_long_is_unstorable_without_a_size() -> None:
    with pytest.raises(UnstorableKey) as caught:
        object_key(ROOT, "\u00e9" * 200, 1, "flat")  # 400 bytes, 1,200 encoded
    assert caught.value.code is S3ErrorCode.KeyTooLongError
    assert caught.value.fields == {}
    assert len(object_key(ROOT, "\u00e9" * 200, 1, "flat", key_limit=None)) > 1024


def test_an_unstorable_key_that_must_be_stored_is_missing() -> None:
    with pytest.raises(S3Error) as caught, absent_if_unstorable():
        raise UnstorableKey
    assert caught.value.code is S3ErrorCode.NoSuchKey and "Key" not in caught.value.fields
    with pytest.raises(S3Error) as caught, absent_if_unstorable("source/key"):
        raise UnstorableKey
    assert caught.value.code is S3ErrorCode.NoSuchKey
    assert caught.value.fields["Key"] == "source/key"
    with pytest.raises(S3Error) as caught, absent_if_unstorable():  # over 1024: as S3 says it
        object_key(ROOT, "k" * 1025, 1)
    assert caught.value.code is S3ErrorCode.KeyTooLongError


def test_deleting_an_unstorable_key_is_done_unless_it_names_an_etag() -> None:
    absent_delete(None)
    with pytest.raises(S3Error) as caught:
        absent_delete('"etag"')
    assert caught.value.code is S3ErrorCode.NoSuchKey
