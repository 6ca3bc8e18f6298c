"""Conditional requests as S3 answers them (wave 16 D): a date later than now is no date, the
HTTP-dates the gateway reads reach the upstream as IMF-fixdates, an upstream's 304 is checked
against the client's If-Unmodified-Since, and a copy's ETag list goes as the ETag checked."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import pytest

from s3proxy.backends.mapped import _with_validators
from s3proxy.conditions import failed_condition, sent_source_conditions, usable_date
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import ObjectAttributes, ObjectInfo, ReadConditions

ETAG = '"6654c734ccab8f440ff0825eb443dc7f"'
MODIFIED = "Sun, 29 Nov 2026 06:09:07 GMT"
BEFORE = "Sat, 28 Nov 2026 06:09:07 GMT"


def test_a_date_later_than_now_is_ignored() -> None:
    """S3 answers 200 to a GET whose If-Modified-Since lies ahead and copies under such an
    x-amz-copy-source-if-modified-since; every lane answered 304 / 412 before."""
    ahead = formatdate(time.time() + 3600, usegmt=True)
    assert usable_date(ahead) is None
    conditions = ReadConditions(if_modified_since=usable_date(ahead))
    assert failed_condition(conditions, ETAG, MODIFIED) is None
    now = formatdate(time.time() - 1, usegmt=True)
    assert usable_date(now) == now


@pytest.mark.parametrize(
    ("sent", "upstream"),
    [
        ("Sun, 29 Nov 2026 06:09:07 GMT", "Sun, 29 Nov 2026 06:09:07 GMT"),
        ("Sunday, 29-Nov-26 06:09:07 GMT", "Sun, 29 Nov 2026 06:09:07 GMT"),  # RFC 850
        ("Sunday, 29-Nov-2026 06:09:07 GMT", "Sun, 29 Nov 2026 06:09:07 GMT"),
        ("Sun Nov 29 06:09:07 2026", "Sun, 29 Nov 2026 06:09:07 GMT"),  # asctime
        ("Sun, 29 Nov 2026 07:09:07 +0100", "Sun, 29 Nov 2026 06:09:07 GMT"),
        ("29 Nov 2026", None),
    ],
)
def test_every_http_date_form_goes_upstream_as_an_imf_fixdate(sent: str, upstream: str) -> None:
    """SeaweedFS 4.48 answered RFC 850's layout with a four-digit year 400 InvalidRequest,
    Ceph RGW 16 400 InvalidArgument, where the gateway (and the local store) reads it; what
    the gateway reads goes upstream in the one form every server reads."""
    assert usable_date(sent) == upstream


class _Heads:
    def __init__(self) -> None:
        self.heads = 0

    async def head_object(self, bucket: str, key: str, read: ReadConditions) -> ObjectInfo:
        self.heads += 1
        return ObjectInfo(1, ETAG, MODIFIED, ObjectAttributes())


@pytest.mark.parametrize(
    ("upstream_headers", "heads"),
    [({}, 1), ({"ETag": ETAG}, 1), ({"ETag": ETAG, "Last-Modified": MODIFIED}, 0)],
)
def test_an_upstream_304_with_a_failed_if_unmodified_since_is_412(
    upstream_headers: dict[str, str], heads: int
) -> None:
    """Ceph RGW 16 answered 304 to a GET/HEAD whose If-Unmodified-Since and If-Modified-Since
    both failed; S3 evaluates If-Unmodified-Since first: 412."""
    backend = _Heads()
    location = UpstreamLocation("u", "b", "k")
    both = ReadConditions(if_unmodified_since=BEFORE, if_modified_since=MODIFIED)
    error = S3Error(S3ErrorCode.NotModified, headers=upstream_headers)
    answered = asyncio.run(_with_validators(error, backend, location, both))  # type: ignore[arg-type]
    assert answered.code is S3ErrorCode.PreconditionFailed and backend.heads == heads
    assert "ETag" not in answered.headers
    only_modified = ReadConditions(if_modified_since=MODIFIED)
    error = S3Error(S3ErrorCode.NotModified, headers=upstream_headers)
    answered = asyncio.run(_with_validators(error, backend, location, only_modified))  # type: ignore[arg-type]
    assert answered.code is S3ErrorCode.NotModified
    assert answered.headers == {"ETag": ETAG, "Last-Modified": MODIFIED}


@pytest.mark.parametrize(
    ("if_match", "sent"),
    [
        (None, None),
        (ETAG, ETAG),
        ("*", "*"),
        ('"0000", ' + ETAG, ETAG),
        ('"0000","1111"', ETAG),
    ],
)
def test_a_copy_sends_an_etag_list_as_the_etag_checked(if_match: str | None, sent: str) -> None:
    """SeaweedFS 4.48 answers a server-side copy whose x-amz-copy-source-if-match is a list 412
    even when the list names the source; the gateway checked the list on its HEAD already."""
    asked = ReadConditions(if_match=if_match, if_modified_since=BEFORE)
    upstream = sent_source_conditions(asked, ETAG)
    assert upstream.if_match == sent and upstream.if_modified_since == BEFORE
    if if_match is None or "," not in if_match:
        assert upstream is asked
