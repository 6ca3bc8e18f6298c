"""A bucket's settings record keeps ``"ownership": "BucketOwnerEnforced"`` for a bucket created
with ACLs disabled (s3proxy.handlers.acl refuses its ACLs): the member round-trips, makes the
record non-empty (an empty record is the layout's empty marker, which would lose it), and a
value this gateway did not write is never guessed at."""

from __future__ import annotations

import json

import pytest

from s3proxy.backends.bucket_settings import BUCKET_OWNER_ENFORCED, NO_SETTINGS, BucketSettings
from s3proxy.errors import S3Error, S3ErrorCode


def test_the_ownership_member_round_trips_and_is_a_setting() -> None:
    settings = BucketSettings(ownership=BUCKET_OWNER_ENFORCED)
    assert not settings.empty
    body = settings.encode()
    assert json.loads(body) == {"ownership": "BucketOwnerEnforced"}
    assert BucketSettings.decode(body) == settings
    assert NO_SETTINGS.ownership is None and NO_SETTINGS.encode() == b""


def test_other_members_are_kept_beside_it() -> None:
    body = b'{"acl":"public-read","later":{"x":1},"ownership":"BucketOwnerEnforced"}'
    settings = BucketSettings.decode(body)
    assert (settings.acl, settings.ownership, settings.other) == (
        "public-read",
        BUCKET_OWNER_ENFORCED,
        {"later": {"x": 1}},
    )


@pytest.mark.parametrize("value", ["ObjectWriter", "", 1])
def test_an_ownership_this_gateway_did_not_write_is_refused(value: object) -> None:
    with pytest.raises(S3Error) as caught:
        BucketSettings.decode(json.dumps({"ownership": value}).encode())
    assert caught.value.code is S3ErrorCode.InternalError
