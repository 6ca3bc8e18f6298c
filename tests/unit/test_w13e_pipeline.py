"""Where a read of pipelined requests is split when a uvicorn connection's queue is full
(s3proxy.uvicorn_pipeline.after_messages): just past the n-th whole request, whatever the
requests' framing, and nowhere when the read does not hold that many."""

from __future__ import annotations

from s3proxy.uvicorn_pipeline import after_messages

GET = b"GET /b/k HTTP/1.1\r\nHost: h\r\n\r\n"
PUT = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"PUT /b/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"


def test_the_offset_is_just_past_the_nth_whole_request() -> None:
    data = GET + PUT + CHUNKED + GET[:10]
    assert after_messages(data, 0) == 0
    assert after_messages(data, 1) == len(GET)
    assert after_messages(data, 2) == len(GET + PUT)
    assert after_messages(data, 3) == len(GET + PUT + CHUNKED)
    assert after_messages(data, 4) is None  # the fourth is not whole


def test_requests_across_the_counting_slices_are_found_exactly() -> None:
    padded = b"GET /b/k HTTP/1.1\r\nHost: h\r\nx-pad: " + b"p" * 1500 + b"\r\n\r\n"
    data = GET * 50 + padded * 3 + GET
    assert after_messages(data, 50) == 50 * len(GET)
    assert after_messages(data, 52) == 50 * len(GET) + 2 * len(padded)
    assert after_messages(data, 54) == len(data)


def test_a_read_that_cannot_be_parsed_so_gives_no_offset() -> None:
    assert after_messages(b"NOT HTTP AT ALL\r\n\r\n" + GET, 1) is None
    upgrade = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"
    assert after_messages(upgrade + GET, 2) is None
