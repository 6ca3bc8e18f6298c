"""GET/HEAD headers of an object (s3proxy.handlers.object): every object has a Content-Type, as
on S3, even one a store kept without any (written before the gateway named S3's default)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from s3proxy.handlers.context import RequestContext
from s3proxy.handlers.object import _object_headers, request_attributes
from s3proxy.model import ObjectAttributes, ObjectInfo


def info(headers: dict[str, str]) -> ObjectInfo:
    return ObjectInfo(
        size=3,
        etag='"e"',
        last_modified="Fri, 04 Dec 2026 21:00:00 GMT",
        attributes=ObjectAttributes(headers=headers),
    )


def content_type(headers: list[tuple[str, str]]) -> list[str]:
    return [value for name, value in headers if name.lower() == "content-type"]


def test_an_untyped_stored_object_reads_as_binary_octet_stream() -> None:
    assert content_type(_object_headers(info({}), False, {})) == ["binary/octet-stream"]


def test_a_stored_type_and_an_override_win() -> None:
    assert content_type(_object_headers(info({"content-type": "a/b"}), False, {})) == ["a/b"]
    overridden = _object_headers(info({}), False, {"content-type": "c/d"})
    assert content_type(overridden) == ["c/d"]


def _context(*headers: tuple[str, str]) -> RequestContext:
    return cast(RequestContext, SimpleNamespace(request=SimpleNamespace(headers=list(headers))))


def test_a_write_without_a_type_stores_binary_octet_stream() -> None:
    untyped = request_attributes(_context(("x-amz-meta-a", "1")))
    assert untyped.headers == {"content-type": "binary/octet-stream"}
    typed = request_attributes(_context(("content-type", "text/csv")))
    assert typed.headers == {"content-type": "text/csv"}
