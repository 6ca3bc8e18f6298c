"""A raw UTF-8 request target meets a full pipeline queue (wave 18, review R2 of 80e05a7).

The uvicorn engine parses a request line holding raw bytes of 0x80 or more again, percent-encoded
(``S3Protocol.reread_raw_target``), from inside the handler of llhttp's error. When that re-read
filled the connection's queue, the queue's stop reached the handler as an error whose context
was the outer one, not the queue's, so the requests that did not fit were answered 400 and the
connection closed, where requests with the same target percent-encoded are kept for later and
all answered (as the Hypercorn engine answers both). The reference is one llhttp parser fed the
percent-encoded stream (tests/unit/test_w14e_pipeline_fuzz)."""

from __future__ import annotations

import pytest

from s3proxy.uvicorn_pipeline import MAX_PIPELINED
from tests.unit.test_w14e_pipeline_fuzz import reference, run

RAW = "GET /b/\u00e9t\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n".encode()
ENCODED = b"GET /b/%C3%A9t%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n"
GET = b"GET /b/g HTTP/1.1\r\nHost: h\r\n\r\n"
COUNT = MAX_PIPELINED + 8


@pytest.mark.parametrize(
    ("stream", "encoded"),
    [
        pytest.param(RAW + GET * COUNT, ENCODED + GET * COUNT, id="raw-then-plain"),
        pytest.param(RAW * COUNT, ENCODED * COUNT, id="all-raw"),
        pytest.param(GET * 4 + RAW * COUNT, GET * 4 + ENCODED * COUNT, id="plain-then-raw"),
    ],
)
def test_requests_past_a_full_queue_are_kept_after_a_raw_target(
    stream: bytes, encoded: bytes
) -> None:
    expected = reference(encoded)
    assert len(expected) == stream.count(b"GET ")
    outcome = run([stream], [False])
    assert [status for status, _ in outcome.answers] == [200] * len(expected)
    assert outcome.received == expected


def test_a_raw_target_read_after_the_queue_filled_in_an_earlier_read() -> None:
    """The same, the raw targets in a second read while the first read's requests wait."""
    expected = reference(GET * MAX_PIPELINED + ENCODED * 8)
    outcome = run([GET * MAX_PIPELINED, RAW * 8], [False, False])
    assert [status for status, _ in outcome.answers] == [200] * len(expected)
    assert outcome.received == expected
