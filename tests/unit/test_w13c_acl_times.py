"""The times a bucket's settings record keeps of its ACL's grants (wave 13 C): additive members
``public_since`` and ``granted_since``, by which s3proxy.name_claims ranks the buckets of one
name that several tenants have."""

from __future__ import annotations

import json

import pytest

from s3proxy.backends.bucket_settings import BucketSettings, stamped
from s3proxy.errors import S3Error
from s3proxy.name_claims import UNKNOWN, _since


def test_the_times_follow_the_acl() -> None:
    private = BucketSettings(created="2020-01-01T00:00:00.000Z")
    public = stamped(private, BucketSettings(acl="public-read", created=private.created))
    assert public.public_since is not None and public.public_since == public.granted_since
    wider = stamped(public, BucketSettings(acl="public-read-write", created=private.created))
    assert (wider.public_since, wider.granted_since) == (public.public_since, public.granted_since)
    narrower = stamped(wider, BucketSettings(acl="authenticated-read"))
    assert narrower.public_since is None and narrower.granted_since == public.granted_since
    again = stamped(narrower, BucketSettings(acl="public-read"))
    assert again.public_since is not None and again.public_since > public.public_since
    assert again.granted_since == public.granted_since
    assert stamped(again, BucketSettings()).encode() == b""
    # Encoded additively, and read back; a record of an earlier release (no such member) counts
    # from the bucket's creation date, one without that either from nowhere (ranks last).
    decoded = BucketSettings.decode(again.encode())
    assert decoded == again
    assert json.loads(again.encode())["public_since"] == again.public_since
    old = BucketSettings.decode(b'{"acl":"public-read","created":"2020-01-01T00:00:00.000Z"}')
    assert _since(old, frozenset({"public-read", "public-read-write"})).year == 2020
    assert _since(BucketSettings(acl="public-read"), frozenset({"public-read"})) == UNKNOWN


@pytest.mark.parametrize("member", ["public_since", "granted_since"])
def test_a_time_that_is_not_a_string_is_no_record_of_ours(member: str) -> None:
    with pytest.raises(S3Error):
        BucketSettings.decode(json.dumps({"acl": "public-read", member: 1}).encode())
