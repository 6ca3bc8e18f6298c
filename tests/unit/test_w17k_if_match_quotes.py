"""An If-Match ETag lacking one of its quotes, as the upstreams are sent it (wave 17, K).

S3 matches an If-Match ETag written without quotes, or with only its closing quote (moto's
AWS-verified conditional PUT test), and so do the local store and SeaweedFS behind the gateway,
which also match one with only its opening quote. Ceph RGW 16 answered that last form 412 for
the object's own ETag: a PutObject's If-Match, which RGW compares with its unquoted ETag, now
goes bare there (``if_match_for``); a read's or a copy source's goes quoted to every upstream
(``quoted_etag``), the form each of them matches.
"""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_kind import if_match_for
from s3proxy.conditions import quoted_etag, sent_source_conditions, upstream_conditions
from s3proxy.model import ReadConditions

BARE = "6654c734ccab8f440ff0825eb443dc7f"


@pytest.mark.parametrize("value", [f'"{BARE}', f'{BARE}"', f' "{BARE} ', f'\t{BARE}" '])
def test_an_etag_missing_one_quote_is_sent_bare_to_ceph(value: str) -> None:
    assert if_match_for(value, ceph_rgw=True) == BARE
    assert if_match_for(value, ceph_rgw=False) == value


@pytest.mark.parametrize("value", ['"', f'W/"{BARE}', f'"{BARE}", "{BARE}', '"a"b"'])
def test_anything_else_still_goes_as_sent(value: str) -> None:
    assert if_match_for(value, ceph_rgw=True) == value


@pytest.mark.parametrize("value", [f'"{BARE}', f'{BARE}"', BARE, f' "{BARE}" '])
def test_one_etag_goes_upstream_quoted(value: str) -> None:
    assert quoted_etag(value) == f'"{BARE}"'
    read = upstream_conditions(ReadConditions(if_match=value, if_unmodified_since="x"))
    assert (read.if_match, read.if_unmodified_since) == (f'"{BARE}"', "x")
    source = sent_source_conditions(ReadConditions(if_match=value), "other")
    assert source.if_match == f'"{BARE}"'


@pytest.mark.parametrize("value", ["*", '""', f'W/"{BARE}"', f'"{BARE}", "{BARE}"', '"a"b"'])
def test_other_forms_are_not_requoted(value: str) -> None:
    assert quoted_etag(value) == value
