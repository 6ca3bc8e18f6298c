"""The access log is written in batches (one write per batch, not per request), without ever
reordering or losing a line: what an operator tailing the log sees."""

from __future__ import annotations

import io
import json
import logging

from s3proxy.logs import ACCESS_LOGGER, BatchedStreamHandler, JsonFormatter


def _record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, "", 0, message, None, None)


def _handler(stream: io.StringIO, **limits: float) -> BatchedStreamHandler:
    handler = BatchedStreamHandler(stream, **limits)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    return handler


def test_access_lines_wait_for_the_batch_and_a_warning_writes_them_first_in_order() -> None:
    stream = io.StringIO()
    handler = _handler(stream, max_delay=3600, max_bytes=1 << 20)
    for number in range(3):
        handler.handle(_record(ACCESS_LOGGER, json.dumps({"n": number})))
    assert stream.getvalue() == ""
    handler.handle(_record("s3proxy", "upstream slow", logging.WARNING))
    lines = stream.getvalue().splitlines()
    assert [json.loads(line).get("n") for line in lines[:3]] == [0, 1, 2]
    assert json.loads(lines[3])["message"] == "upstream slow"


def test_a_full_batch_is_written_and_flush_writes_the_rest() -> None:
    stream = io.StringIO()
    line = json.dumps({"pad": "x" * 100})
    handler = _handler(stream, max_delay=3600, max_bytes=1000)
    for _ in range(8):
        handler.handle(_record(ACCESS_LOGGER, line))
    assert stream.getvalue() == ""  # 8 lines of 112 bytes: under 1000
    handler.handle(_record(ACCESS_LOGGER, line))
    assert stream.getvalue().count("\n") == 9
    handler.handle(_record(ACCESS_LOGGER, line))
    handler.flush()
    assert stream.getvalue().count("\n") == 10


def test_no_delay_writes_every_line_at_once() -> None:
    stream = io.StringIO()
    handler = _handler(stream, max_delay=0)
    handler.handle(_record(ACCESS_LOGGER, "{}"))
    assert stream.getvalue() == "{}\n"
