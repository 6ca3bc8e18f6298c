"""A scoped key's conditional delete with an ETag needs read on the key as well as delete, as
S3's needs s3:GetObject besides s3:DeleteObject (wave 15 A): otherwise its 412 / 204 would
tell a key that may not read an object whether it has a given ETag. ``If-Match: *`` asks only
whether an object is there, and S3 needs s3:DeleteObject alone for it.

In process, in front of an upstream nobody listens on (tests/unit/test_grants_app.py): a 403
proves no upstream request was made, a 5xx that the request went on.
"""

from __future__ import annotations

import pytest

from s3proxy.config import Settings
from tests.support.asgi import scoped_tenant_settings
from tests.support.s3http import object_url
from tests.unit.test_grants_app import ENDPOINT, call

SCOPED = ("AKSCOPEDDELETER", "scoped-secret-cccccccccccccccc")
WHOLE = ("AKWHOLETENANT2", "whole-secret-dddddddddddddddddd")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return scoped_tenant_settings(
        SCOPED,
        [
            {"actions": ["delete"], "buckets": ["docs"], "prefixes": ["d/"]},
            {"actions": ["read", "delete"], "buckets": ["docs"], "prefixes": ["rd/"]},
        ],
        WHOLE,
    )


def test_an_etag_condition_needs_read_on_the_key(settings: Settings) -> None:
    etag = {"If-Match": '"0123456789abcdef0123456789abcdef"'}
    url = object_url(ENDPOINT, "docs", "d/x")
    assert call(settings, "DELETE", url, SCOPED, headers=etag)[:2] == (403, "AccessDenied")
    status, code, _ = call(settings, "DELETE", url, SCOPED, headers={"If-Match": "*"})
    assert status >= 500 and code != "AccessDenied"  # went on to the (unreachable) upstream
    readable = object_url(ENDPOINT, "docs", "rd/x")
    status, code, _ = call(settings, "DELETE", readable, SCOPED, headers=etag)
    assert status >= 500 and code != "AccessDenied"
    status, code, _ = call(settings, "DELETE", url, WHOLE, headers=etag)
    assert status >= 500 and code != "AccessDenied"
