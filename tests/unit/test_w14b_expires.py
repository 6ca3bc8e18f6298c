"""The pure half of tests/integration/test_w14b_expires.py (wave 14 B): an ``Expires`` or
``Cache-Control`` SeaweedFS would refuse travels in an entry of its own and reads back as sent;
every other value, and an entry whose digest does not hold, is stored and read as before."""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_metadata import content_to_upstream
from s3proxy.backends.wire import object_info

WHOLE = {"Content-Length": "6", "ETag": '"e"', "Last-Modified": "Sun, 29 Nov 2026 00:00:00 GMT"}


CARRIED = [
    ("expires", "5d"),
    ("expires", "Thu, 01 Dec 2094 16:00:00 GMT"),  # a Wednesday: SeaweedFS keeps it, but only
    ("expires", "é;=%\t"),  # an IMF-fixdate whose weekday agrees goes as it is
    ("cache-control", "max-age=abc"),
    ("cache-control", "public, MAX-AGE=60"),
    ("cache-control", "max-age = 60"),
    ("cache-control", "max-age"),
]


@pytest.mark.parametrize(("name", "value"), CARRIED)
def test_a_content_header_seaweedfs_would_refuse_is_carried_and_read_back(
    name: str, value: str
) -> None:
    stored = content_to_upstream({name: value, "content-type": "t"}, keeps_as_sent=None)
    assert name not in stored and stored["content-type"] == "t"
    metadata = {k: v for k, v in stored.items() if k != "content-type"}
    info = object_info({**metadata, **WHOLE}, 6)
    assert info.attributes.headers.get(name) == value
    assert info.attributes.metadata == {}


KEPT = [
    ({"expires": "Wed, 01 Dec 2094 16:00:00 GMT"}, None),
    ({"cache-control": "public, max-age=60, s-maxage=x"}, None),
    ({"expires": "5d", "cache-control": "max-age=x"}, True),  # Ceph RGW keeps them
    ({"content-type": "x"}, False),
]


@pytest.mark.parametrize(("headers", "keeps"), KEPT)
def test_content_headers_every_upstream_keeps_are_stored_as_they_are(
    headers: dict[str, str], keeps: bool | None
) -> None:
    assert content_to_upstream(headers, keeps_as_sent=keeps) == headers


def test_an_entry_whose_digest_does_not_hold_is_the_client_s_metadata() -> None:
    """An earlier release stored a client's own ``s3proxy-meta-expires`` name as sent."""
    info = object_info({"x-amz-meta-s3proxy-meta-expires": "0000;5d", **WHOLE}, 6)
    assert "expires" not in info.attributes.headers
    assert info.attributes.metadata == {"s3proxy-meta-expires": "0000;5d"}
