"""Conditional reads (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since), decided
from an object's ETag and Last-Modified as RFC 9110 §13.2.2 orders them — which is also S3's
documented behaviour for the header combinations.

Why the proxy decides as well as the upstream: upstreams differ. Ceph RGW 16 ignores
``If-None-Match: *`` on GET and answers 304 without an ETag. Conditions are still sent
upstream (so a 304 costs no body), and the answer is checked here against what came back.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from s3proxy.errors import S3ErrorCode
from s3proxy.model import ReadConditions


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None  # an unparseable date is ignored, as HTTP says
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)  # "-0000"


def usable_date(value: str | None) -> str | None:
    """An If-Modified-Since / If-Unmodified-Since value (``x-amz-copy-source-`` ones too) as
    the IMF-fixdate S3 writes, or None where S3 ignores the header:

    - not an HTTP date (SeaweedFS would answer 400 to it);
    - a date later than now, which HTTP calls invalid (RFC 7232 §3.3): S3 answers 200 to a
      GET with such an If-Modified-Since and copies under such an
      ``x-amz-copy-source-if-modified-since`` (LocalStack's AWS-validated copy test, Apache
      Ozone's runs against AWS, ceph/s3-tests' note), where every lane answered 304 / 412.
      For If-Unmodified-Since it changes nothing but where clocks disagree.

    Every other form the gateway reads (RFC 850's and asctime's, which an HTTP recipient must
    read, offsets other than GMT) goes upstream rewritten: SeaweedFS 4.48 and Ceph RGW 16
    answered 400 to RFC 850's layout with a four-digit year, which the local store read."""
    parsed = _http_date(value)
    if parsed is None or parsed.timestamp() > time.time():
        return None
    assert value is not None
    if len(value) == 29 and value[3] == "," and value[-4:] == " GMT":
        return value  # already the IMF-fixdate every client sends
    return format_datetime(parsed.astimezone(UTC), usegmt=True)


def quoted_etag(value: str) -> str:
    """One If-Match ETag as every upstream reads it: quoted. S3 matches an ETag sent without
    its quotes or with one of them (moto's AWS-verified conditional PUT test), and so does the
    proxy (:func:`etag_matches`); Ceph RGW 16 answered ``"<etag>`` (no closing quote) 412 on
    GET, HEAD and copy sources, for the object's own ETag (wave 17, K). ``*``, lists and weak
    tags are left as sent."""
    stripped = value.strip()
    inner = stripped.removeprefix('"').removesuffix('"')
    if not inner or stripped == "*" or '"' in inner or "," in inner or stripped.startswith("W/"):
        return value
    return f'"{inner}"'


def upstream_conditions(conditions: ReadConditions) -> ReadConditions:
    """What to send upstream: an If-Match of ``*`` or of several ETags is left out (with the
    If-Unmodified-Since it overrides), as Ceph RGW 16 answers 412 to both even for the object's
    own ETag; the proxy decides them itself from the ETag that comes back. One ETag goes
    quoted (:func:`quoted_etag`)."""
    value = conditions.if_match
    if value is None:
        return conditions
    if "," not in value and value.strip() != "*":
        sent = quoted_etag(value)
        return conditions if sent == value else replace(conditions, if_match=sent)
    return replace(conditions, if_match=None, if_unmodified_since=None)


def sent_source_conditions(conditions: ReadConditions, etag: str) -> ReadConditions:
    """A copy's source conditions as sent upstream once checked here on a HEAD that read
    ``etag``: an ``x-amz-copy-source-if-match`` naming several ETags goes as that one, which
    still binds the copy to the bytes checked (SeaweedFS 4.48 answers a list 412 on a
    server-side copy even when it names the source's own ETag; S3 and the other lanes copy);
    one ETag goes quoted (:func:`quoted_etag`)."""
    value = conditions.if_match
    if value is None:
        return conditions
    sent = etag if "," in value else quoted_etag(value)
    return conditions if sent == value else replace(conditions, if_match=sent)


def etag_matches(header: str, etag: str, *, strong: bool = False) -> bool:
    """Whether an If-Match / If-None-Match value names ``etag`` (``*``, lists, W/, quotes).
    ``strong``: RFC 9110's strong comparison, which If-Match uses: a weak tag (``W/"…"``)
    never matches (SeaweedFS and Ceph RGW answer 412 to it); If-None-Match compares weakly."""
    if header.strip() == "*":
        return True
    wanted = etag.strip().removeprefix("W/").strip('"')
    items = (item.strip() for item in header.split(","))
    if strong:
        items = (item for item in items if not item.startswith("W/"))
    return any(item.removeprefix("W/").strip('"') == wanted for item in items)


def failed_condition(
    conditions: ReadConditions, etag: str, last_modified: str
) -> S3ErrorCode | None:
    """PreconditionFailed or NotModified when the conditions fail for this object, else None."""
    if not any_condition(conditions):  # the common GET: no date to parse
        return None
    modified = _http_date(last_modified)
    if conditions.if_match is not None:
        if not etag_matches(conditions.if_match, etag, strong=True):
            return S3ErrorCode.PreconditionFailed
    else:
        since = _http_date(conditions.if_unmodified_since)
        if since is not None and modified is not None and modified > since:
            return S3ErrorCode.PreconditionFailed
    if conditions.if_none_match is not None:
        if etag_matches(conditions.if_none_match, etag):
            return S3ErrorCode.NotModified
    else:
        since = _http_date(conditions.if_modified_since)
        if since is not None and modified is not None and modified <= since:
            return S3ErrorCode.NotModified
    return None


def copy_source_failed(conditions: ReadConditions, etag: str, last_modified: str) -> bool:
    """``x-amz-copy-source-if-*``: any failure is 412 for a copy (there is no 304)."""
    return failed_condition(conditions, etag, last_modified) is not None


def failed_source_condition(
    conditions: ReadConditions, etag: str, last_modified: str
) -> str | None:
    """The ``x-amz-copy-source-If-*`` header that fails for this source object, as S3 names
    it in a copy's 412 ``<Condition>``; None when none fails. The order of
    :func:`failed_condition`: If-Match decides alone when sent, else If-Unmodified-Since; then
    If-None-Match, else If-Modified-Since."""
    if failed_condition(ReadConditions(if_match=conditions.if_match), etag, last_modified):
        return "x-amz-copy-source-If-Match"
    unmodified = ReadConditions(if_unmodified_since=conditions.if_unmodified_since)
    if conditions.if_match is None and failed_condition(unmodified, etag, last_modified):
        return "x-amz-copy-source-If-Unmodified-Since"
    if failed_condition(
        ReadConditions(if_none_match=conditions.if_none_match), etag, last_modified
    ):
        return "x-amz-copy-source-If-None-Match"
    modified = ReadConditions(if_modified_since=conditions.if_modified_since)
    if conditions.if_none_match is None and failed_condition(modified, etag, last_modified):
        return "x-amz-copy-source-If-Modified-Since"
    return None


def any_condition(conditions: ReadConditions) -> bool:
    """Whether any If-* header was given (an SSE-C key, also carried there, is not one)."""
    return (
        conditions.if_match is not None
        or conditions.if_none_match is not None
        or conditions.if_modified_since is not None
        or conditions.if_unmodified_since is not None
    )
