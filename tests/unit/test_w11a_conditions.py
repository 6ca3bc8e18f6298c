"""If-Match compares strongly (RFC 9110 §13.1.1): a weak ETag never matches, as SeaweedFS and
Ceph RGW answer it; If-None-Match keeps the weak comparison (s3proxy.conditions)."""

from __future__ import annotations

import pytest

from s3proxy.conditions import copy_source_failed, etag_matches, failed_condition
from s3proxy.model import ReadConditions

ETAG = '"6654c734ccab8f440ff0825eb443dc7f"'
MODIFIED = "Sun, 29 Nov 2026 06:09:07 GMT"


@pytest.mark.parametrize("header", [f"W/{ETAG}", f'"0000", W/{ETAG}'])
def test_a_weak_tag_fails_if_match(header: str) -> None:
    failed = failed_condition(ReadConditions(if_match=header), ETAG, MODIFIED)
    assert failed is not None and failed.name == "PreconditionFailed"
    assert copy_source_failed(ReadConditions(if_match=header), ETAG, MODIFIED)


def test_a_weak_tag_still_matches_if_none_match() -> None:
    failed = failed_condition(ReadConditions(if_none_match=f"W/{ETAG}"), ETAG, MODIFIED)
    assert failed is not None and failed.name == "NotModified"
    assert etag_matches(f"W/{ETAG}", ETAG)
    assert etag_matches(f'W/"x", {ETAG}', ETAG, strong=True)
    assert etag_matches("*", ETAG, strong=True)
