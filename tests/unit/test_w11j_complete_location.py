"""A Complete's result is read without its ``<Location>`` (wave 11, J).

Ceph RGW 16 formats the Location URL of a CompleteMultipartUploadResult with a length it did
not write: once endpoint, bucket and key pass ~1,020 characters, the element ends in raw bytes
of the gateway's memory (not UTF-8, with ``&#x00;`` references XML forbids). The upload is
completed and the object written, but the document could not be parsed, so the client got 500
InternalError (botocore, talking to RGW itself, turns the same 200 into a 500 and retries).
The gateway never reads the upstream's Location (its answer names its own URL), so the element
is cut out before parsing; everything else is read as strictly as before. And a Complete's 2xx
that still cannot be read is asked about as a 500 is: its upload gone and the object made of
its parts, the Complete succeeded (upload_gone).
"""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.backends.upload_gone import after_failed_complete
from s3proxy.backends.upstream_errors import STORAGE_FAILED, STORAGE_UNREADABLE
from s3proxy.completion import multipart_etag
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.upstream_xml import parse_complete_result
from tests.unit.test_upload_gone import PART, REQUEST, Upstream

KEY = b"alice/docs/0/" + b"k" * 1000
GARBLED = b"http://127.0.0.1:8000/s3p-homes/" + KEY[:980] + b"&#x00;\xba\x86)\xfc\x96&#x7f;&#x00;"
"""What RGW 16 sent: the URL cut at its buffer's end, then memory bytes (captured, 2026-12-04)."""


def result(location: bytes, key: bytes = KEY, extra: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult'
        b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>' + location + b"</Location>"
        b"<Bucket>s3p-homes</Bucket><Key>" + key + b"</Key><ETag></ETag>" + extra + b""
        b"</CompleteMultipartUploadResult>"
    )


def test_a_garbled_location_does_not_make_a_completed_upload_unreadable() -> None:
    assert parse_complete_result(result(GARBLED)) == ("", {})  # RGW's empty ETag
    summed = result(GARBLED, extra=b"<ChecksumCRC32>AAAAAA==-2</ChecksumCRC32>")
    assert parse_complete_result(summed) == ("", {"CRC32": "AAAAAA==-2"})


def test_the_rest_of_the_document_is_read_as_strictly_as_before() -> None:
    """Only the Location is forgiven: the same bytes in the Key, or a document that is not a
    CompleteMultipartUploadResult once it is cut out, stay unreadable (InternalError)."""
    for body in (
        result(b"http://up/b/k", key=GARBLED),
        b"<Location>" + GARBLED + b"</Location>",
        b"<Html><Location>" + GARBLED + b"</Location></Html>",
    ):
        with pytest.raises(S3Error) as caught:
            parse_complete_result(body)
        assert caught.value.code is S3ErrorCode.InternalError
    assert parse_complete_result(result(b"http://up/b/k")) == ("", {})


def after(upstream: Upstream, message: str) -> str:
    """What the client gets for a Complete that failed with InternalError ``message``."""
    error = S3Error(S3ErrorCode.InternalError, message)
    try:
        done = asyncio.run(after_failed_complete(upstream, REQUEST, error))  # type: ignore[arg-type]
    except S3Error as failed:
        return failed.code.name
    return done.etag


def test_an_unreadable_complete_whose_upload_completed_is_its_200() -> None:
    etag = multipart_etag([PART])
    assert etag is not None
    completed = Upstream(upload_open=False, etag=etag)
    assert after(completed, STORAGE_UNREADABLE) == etag
    assert completed.asked == ["ListParts", "HeadObject"]
    aborted = Upstream(upload_open=False, etag=None)
    assert after(aborted, STORAGE_UNREADABLE) == "NoSuchUpload"


def test_an_unreadable_complete_whose_upload_is_open_stays_500() -> None:
    upstream = Upstream(upload_open=True, etag=None)
    assert after(upstream, STORAGE_UNREADABLE) == "InternalError"
    assert upstream.asked == ["ListParts"]
    other = Upstream(upload_open=False, etag=None)  # a 500 the retries already asked about
    assert after(other, STORAGE_FAILED) == "InternalError"
    assert other.asked == []
