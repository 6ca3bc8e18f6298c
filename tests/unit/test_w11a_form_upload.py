"""A browser form upload (PostObject) is told apart by its Content-Type alone, and its refusal
says what was refused (s3proxy.operations)."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3ErrorCode
from s3proxy.operations import Operation, is_form_upload, refusal, resolve
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

FORM = {"Content-Type": "multipart/form-data; boundary=xyz"}


def test_a_form_posted_to_a_bucket_is_refused_as_post_object() -> None:
    request = parse_request(http_scope("POST", "/bkt", "", FORM))
    assert is_form_upload(request)
    error = refusal(request, resolve(request))
    assert error.code is S3ErrorCode.NotImplemented
    assert "POST Object" in error.message


@pytest.mark.parametrize(
    ("path", "query", "headers"),
    [
        ("/bkt", "", {"Content-Type": "text/plain"}),  # no form: the generic refusal
        ("/bkt", "", {}),
        ("/bkt", "delete", FORM),  # DeleteObjects, whatever its type says
        ("/bkt/k", "", FORM),  # 405: S3 takes no POST on an object without a sub-resource
    ],
)
def test_other_posts_are_not_form_uploads(path: str, query: str, headers: dict[str, str]) -> None:
    request = parse_request(http_scope("POST", path, query, headers))
    assert not is_form_upload(request)
    if resolve(request) is Operation.Unsupported:
        assert "POST Object" not in refusal(request, Operation.Unsupported).message
