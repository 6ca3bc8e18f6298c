"""A response cut by the shutdown timeout is one warning line, not an error traceback (wave 15 E).

A client reading a large GET slowly when SIGTERM's ``server.shutdown_timeout`` passes: uvicorn
cancels the request while its body is going out, and logged "Exception in ASGI application"
with the CancelledError's traceback at error level, at every such shutdown (found by a SIGTERM
probe with a 256 MiB upload, a stalled GET and an idle connection in flight), for a cut the
request's access line already reports (``error: Cancelled``)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import pytest

from s3proxy.logs import SERVER_ERROR_LOGGERS, flush_logs
from tests.support.logging_capture import production_logging_to_string
from tests.unit.test_logs_aborted import _log_escaped


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    with production_logging_to_string() as stream:
        yield stream


@pytest.mark.parametrize("logger", SERVER_ERROR_LOGGERS)
def test_a_response_cut_at_shutdown_is_one_warning_without_traceback(
    lines: io.StringIO, logger: str
) -> None:
    _log_escaped(
        logger, asyncio.CancelledError("Task cancelled, timeout graceful shutdown exceeded")
    )
    flush_logs()
    [entry] = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert entry["level"] == "warning"
    assert "exception" not in entry
    assert entry["message"] == "response cut: the shutdown timeout passed while it was sent"
