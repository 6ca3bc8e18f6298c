"""An upstream body that fails mid-response is one warning line, not an error traceback.

The app re-raises ResponseAborted so that the engine cuts the client's connection; the engines
then log "Exception in ASGI application" (uvicorn) / "Error in ASGI Framework" (Hypercorn, on
the s3proxy.server logger) with a traceback, which operators read as a gateway bug.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from s3proxy.logs import SERVER_ERROR_LOGGERS, flush_logs
from s3proxy.responses import ResponseAborted
from tests.support.logging_capture import production_logging_to_string


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    with production_logging_to_string() as stream:
        yield stream


def _log_escaped(logger: str, exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        logging.getLogger(logger).exception("Exception in ASGI application")


@pytest.mark.parametrize("logger", SERVER_ERROR_LOGGERS)
def test_an_aborted_response_is_one_warning_without_traceback(
    lines: io.StringIO, logger: str
) -> None:
    aborted = ResponseAborted(262144, client_gone=False)
    aborted.__cause__ = ConnectionResetError("upstream reset")
    _log_escaped(logger, aborted)
    flush_logs()
    [entry] = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert entry["level"] == "warning"
    assert "exception" not in entry
    assert entry["message"] == (
        "response cut after 262144 body bytes: the upstream body failed (ConnectionResetError)"
    )


@pytest.mark.parametrize("logger", SERVER_ERROR_LOGGERS)
def test_any_other_escaped_exception_keeps_its_error_and_traceback(
    lines: io.StringIO, logger: str
) -> None:
    _log_escaped(logger, RuntimeError("a real bug"))
    flush_logs()
    [entry] = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert entry["level"] == "error"
    assert "RuntimeError: a real bug" in entry["exception"]
