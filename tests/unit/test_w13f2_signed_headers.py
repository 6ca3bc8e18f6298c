"""s3proxy.backends.upstream_kind.signed_headers_for: what the gateway signs for the upstream."""

from __future__ import annotations

from s3proxy.backends.upstream_kind import signed_headers_for

TAB = {"host": "h", "Content-Type": "a\tb", "x-amz-meta-k": "v"}


def test_a_tab_in_content_type_goes_unsigned_on_ceph_rgw_or_an_unknown_upstream() -> None:
    for ceph_rgw in (True, None):
        assert signed_headers_for(TAB, ceph_rgw) == {"host": "h", "x-amz-meta-k": "v"}
        assert signed_headers_for({"content-type": "a \t\tb"}, ceph_rgw) == {}


def test_everything_else_is_signed() -> None:
    assert signed_headers_for(TAB, False) is TAB  # another server: as before
    for value in ("text/plain", "a  b", "\ta\t"):  # no inner tab (ends are HTTP's whitespace)
        headers = {"host": "h", "content-type": value}
        assert signed_headers_for(headers, True) is headers
