"""A full pipelining queue right after an ignored Upgrade request (wave 14, R2).

The engine serves a request with ``Connection: upgrade`` as plain HTTP/1.1
(``S3Protocol.upgraded``) and parses what followed it in the same read again. That parse ran
inside the handler of httptools' ``HttpParserUpgrade``, where the ``_Full`` a full queue raises
is not the ``__context__`` of the parser's error (the exception being handled is): the request
that did not fit was answered 400 InvalidRequest and the connection closed, instead of being
kept and answered in order as after any other request. Found by running wave 14 E's
differential fuzz longer (tests/unit/test_w14e_pipeline_fuzz.py, random seeds).
"""

from __future__ import annotations

import pytest

from s3proxy.uvicorn_pipeline import MAX_PIPELINED
from tests.unit.test_w14e_pipeline_fuzz import reference, run

GET = b"GET /b/g HTTP/1.1\r\nHost: h\r\n\r\n"
UPGRADE = b"GET /b/k HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"


@pytest.mark.parametrize("body", [b"", b"abc"], ids=["no-body", "content-length"])
def test_requests_past_a_full_queue_after_an_upgrade_request_are_all_answered(
    body: bytes,
) -> None:
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    stream = UPGRADE + length + b"\r\n" + body + GET * (MAX_PIPELINED + 2)
    expected = reference(stream)
    assert len(expected) == MAX_PIPELINED + 3
    outcome = run([stream], [False])
    assert outcome.received == expected
    assert [status for status, _ in outcome.answers] == [200] * len(expected)
