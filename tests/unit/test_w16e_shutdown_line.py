"""uvicorn's "Cancel N running task(s), timeout graceful shutdown exceeded" is a warning (wave
16, E): when ``server.shutdown_timeout`` passes with requests in flight (a slow client's large
GET at a deploy), uvicorn logged that line at error level, beside the access line's ``error:
Cancelled`` and the warning for the cut response, so an alert on error lines fired at such
deploys; Hypercorn logs none. The timeout is the operator's choice, not a fault."""

from __future__ import annotations

import inspect
import logging

import uvicorn.server

from s3proxy.logs import QuietAbortedResponses


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, message, args, None)


def test_uvicorns_cancel_line_is_a_warning() -> None:
    message = "Cancel %s running task(s), timeout graceful shutdown exceeded"
    assert message in inspect.getsource(uvicorn.server)  # the line uvicorn logs, as written
    record = _record(message, 2)
    assert QuietAbortedResponses().filter(record)
    assert (record.levelname, record.getMessage()) == (
        "WARNING",
        "Cancel 2 running task(s), timeout graceful shutdown exceeded",
    )


def test_other_uvicorn_errors_stay_errors() -> None:
    record = _record("Exception in ASGI application")
    assert QuietAbortedResponses().filter(record)
    assert record.levelname == "ERROR"
