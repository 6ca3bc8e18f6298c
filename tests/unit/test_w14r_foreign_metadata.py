"""Wave 14 review (R): what an upstream returns that the proxy never wrote is read as stored.

An object another tool stored in a mapped bucket, or one holding a forged entry an older release
stored for a client (the ``s3proxy-meta`` carrier is wave 13's, the carried Expires and
Cache-Control wave 14's), can hold entries that decode to what no header carries. Decoded, a CR
LF made uvicorn refuse the answer ("Invalid HTTP header value": the connection dropped, a
traceback logged) and invalid UTF-8 raised UnicodeDecodeError (500): every HEAD and GET of the
object failed. Such an entry is now read as stored; what the proxy writes reads back as before."""

from __future__ import annotations

import hashlib

import pytest

from s3proxy.backends.upstream_metadata import content_to_upstream, upstream_metadata
from s3proxy.backends.wire import object_info

_OBJECT = {"ETag": '"e"', "Last-Modified": "Sun, 29 Nov 2026 00:00:00 GMT"}


def _carrier(pairs: str) -> str:
    return hashlib.sha256(pairs.encode()).hexdigest()[:16] + ";" + pairs


FOREIGN = [
    ("s3proxy-meta", _carrier("x=a%0D%0ASet-Cookie:%20s%3D1")),  # a value with CR LF
    ("s3proxy-meta", _carrier("x%0D%0ASet-Cookie:%20s=1")),  # a name with CR LF
    ("s3proxy-meta", _carrier("a%20b=1")),  # a name that is no token
    ("s3proxy-meta", _carrier("x=%FF")),  # not UTF-8
    ("s3proxy-meta", _carrier("x=%E2%82%AC")),  # past ISO-8859-1: no header text here
    ("s3proxy-meta-expires", _carrier("Thu%0D%0ASet-Cookie:%20s=1")),
    ("s3proxy-meta-cache-control", _carrier("%FF")),
    ("n", "=?UTF-8?Q?a=0D=0ASet-Cookie:_s=3D1?="),
    ("n", "=?UTF-8?Q?=FF?="),
    ("n", "=?UTF-8?Q?=00?="),
]


@pytest.mark.parametrize(("name", "stored"), FOREIGN)
def test_an_entry_that_decodes_to_no_header_text_is_read_as_stored(name: str, stored: str) -> None:
    info = object_info({**_OBJECT, f"x-amz-meta-{name}": stored}, 0)
    assert info.attributes.metadata == {name: stored}
    assert "expires" not in info.attributes.headers
    assert "cache-control" not in info.attributes.headers


def test_what_the_proxy_writes_still_reads_back() -> None:
    metadata = {
        "a_b": "x\ty",
        "e": "",
        "q": "=?UTF-8?Q?x?=",
        "l": "\xc3\xa9\xff",
        "s3proxy-meta-x": "1",
    }
    for folds in (None, True, False):
        headers = content_to_upstream({"expires": "in 5 days\t\xff"}, keeps_as_sent=folds)
        headers.update(upstream_metadata(metadata, folds))
        info = object_info({**_OBJECT, **headers}, 0)
        assert info.attributes.metadata == metadata, folds
        assert info.attributes.headers["expires"] == "in 5 days\t\xff", folds
