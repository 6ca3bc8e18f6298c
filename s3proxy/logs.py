"""Logging: one JSON line per record on stdout, access lines batched, one timestamp format.

Every line's ``time`` is RFC 3339 in UTC with milliseconds (``2026-12-03T08:39:45.123Z``), the
application log's as the access log's, so the two sort and join as one stream.

asyncio warns "socket.send() raised exception." for every write to a connection the client has
already closed (from the fifth write on): one download abandoned early made hundreds of such
lines. They say nothing an operator can act on, so they are counted in
``s3proxy_transport_noise`` instead; the abandoned request itself has its access line (499).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import sys
import time
from datetime import UTC, datetime
from typing import Any

from s3proxy import metrics
from s3proxy.config import Settings
from s3proxy.responses import ResponseAborted

ACCESS_LOGGER = "s3proxy.access"
TRANSPORT_NOISE = ("socket.send() raised exception.",)
"""asyncio's per-write messages for a connection the peer closed (selector_events.py)."""


_ENCODER = json.JSONEncoder(separators=(",", ":"))
_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_ENCODE = _C_ENCODER and _C_ENCODER(  # its arguments as JSONEncoder.iterencode passes them
    None, _ENCODER.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
)


def _to_json(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))`` without building an encoder per call (dumps
    reuses its own only with default arguments; ``JSONEncoder.encode`` builds its C encoder on
    each call, and its map of objects seen): the same text, ~3 µs less per access line than
    ``dumps``. No check for cycles: a log entry is a flat dict of strings and numbers."""
    if _ENCODE is None:  # pragma: no cover - CPython has the C encoder
        return _ENCODER.encode(value)
    return "".join(_ENCODE(value, 0))


def timestamp(seconds: float | None = None) -> str:
    """RFC 3339, UTC, milliseconds: the ``time`` of every log line (now when ``seconds`` is
    None). The text up to the second is made once per second: datetime's isoformat was ~3 % of
    a small request's own CPU (benchmarks.request_path). The microseconds are rounded as
    ``datetime.fromtimestamp`` rounds them (half to even), then truncated to milliseconds as
    ``isoformat(timespec="milliseconds")`` does, so the text is the same."""
    if seconds is None:
        seconds = time.time()
    fraction, whole = math.modf(seconds)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    elif micros < 0:  # before 1970
        second -= 1
        micros += 1_000_000
    return f"{_utc_second(second)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class CountTransportNoise(logging.Filter):
    """Drops asyncio's write-after-disconnect warnings, counting them (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in TRANSPORT_NOISE:
            metrics.TRANSPORT_NOISE.inc()
            return False
        return True


class DropCancelledCallbacks(logging.Filter):
    """Drops asyncio's "Exception in callback" error for a CancelledError. On Python 3.11 the
    streams server's done-callback asks a cancelled connection task for its exception, which
    raises CancelledError (3.12 checks ``cancelled()`` first): with the Hypercorn engine every
    shutdown that reached ``shutdown_timeout`` logged one error with a traceback per connection
    it cut, for a cut the request's own access line already reports (503 Cancelled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        raised = record.exc_info[1] if record.exc_info else None
        return not (
            isinstance(raised, asyncio.CancelledError)
            and record.getMessage().startswith("Exception in callback")
        )


class QuietAbortedResponses(logging.Filter):
    """The server's "Exception in ASGI application" for a response the app aborted on purpose.

    When an upstream body fails after the head went out, the app re-raises
    :class:`~s3proxy.responses.ResponseAborted` so that the server cuts the connection (the
    client must see a broken transfer, never a short 200), and its access line already says
    ``aborted: <cause>``. The server then logs it as an error with a traceback: an expected
    upstream failure, so it becomes one warning line without the traceback.

    Likewise a response whose body was still going out when ``server.shutdown_timeout`` passed
    (a client reading a large GET slowly): uvicorn cancels the request and logs the
    CancelledError as an application error with a traceback, at every such shutdown, for a cut
    the access line already reports (``error: Cancelled``). uvicorn says before it, at error
    level too, that it cancels them ("Cancel 1 running task(s), timeout graceful shutdown
    exceeded"): an outcome the operator chose with the timeout, not a fault (an alert on error
    lines fired at each deploy that met a slow download), and Hypercorn says nothing; it
    becomes a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        aborted = record.exc_info[1] if record.exc_info else None
        if record.name == "uvicorn.error" and record.msg == UVICORN_CANCELS:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        if isinstance(aborted, ResponseAborted):
            cause = type(aborted.__cause__).__name__ if aborted.__cause__ else "unknown"
            message = "response cut after %d body bytes: the upstream body failed (%s)"
            args: tuple[object, ...] = (aborted.sent, cause)
        elif isinstance(aborted, asyncio.CancelledError):
            message, args = "response cut: the shutdown timeout passed while it was sent", ()
        else:
            return True
        record.msg, record.args, record.exc_info, record.exc_text = message, args, None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


UVICORN_CANCELS = "Cancel %s running task(s), timeout graceful shutdown exceeded"
"""uvicorn's line (uvicorn.server) when ``server.shutdown_timeout`` passes with requests in
flight."""


LIBRARIES_THAT_LOG_SECRETS = ("botocore", "boto3", "urllib3")
"""Loggers kept at INFO or above whatever ``logging.level`` says: at DEBUG botocore writes the
body of every answer it parses (an STS AssumeRole answer holds the role's secret key and session
token) and the headers of every request it sends (``x-amz-security-token``); urllib3 carries its
requests for the credential chain's endpoints."""

SERVER_ERROR_LOGGERS = ("uvicorn.error", "s3proxy.server")
"""Where the two engines log an exception that escaped the application (Hypercorn's errorlog
is the ``s3proxy.server`` logger, server.py)."""


class JsonFormatter(logging.Formatter):
    """Access-log records are already JSON; everything else becomes a JSON line too."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER:
            return record.getMessage()
        entry = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _to_json(entry)


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes access-log lines in batches, as nginx's ``access_log … buffer=64k flush=1s``: one
    write and flush per request was 7-9 % of the CPU of a small request (BENCHMARKS.md). A batch
    is written when it reaches ``max_bytes``, when its oldest line is ``max_delay`` old (checked
    on every line and by :func:`flush_logs`, which the server calls every second), and at exit.
    Any other record (a warning, an error) is written at once, after the lines before it."""

    def __init__(self, stream: Any, max_delay: float = 1.0, max_bytes: int = 64 * 1024) -> None:
        super().__init__(stream)
        self.max_delay = max_delay
        self.max_bytes = max_bytes
        self._pending: list[str] = []
        self._size = 0
        self._oldest = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._add(line, urgent=record.name != ACCESS_LOGGER)

    def _add(self, line: str, *, urgent: bool) -> None:
        now = time.monotonic()
        if not self._pending:
            self._oldest = now
        self._pending.append(line)
        self._size += len(line)
        if urgent or self._size >= self.max_bytes or now - self._oldest >= self.max_delay:
            self.flush()

    def add_access_line(self, line: str) -> None:
        """What :meth:`emit` does with an access record whose message is ``line``, without the
        record: see :func:`write_access_line`."""
        with self.lock or contextlib.nullcontext():
            self._add(line + self.terminator, urgent=False)

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            if self._pending:
                batch, self._pending, self._size = "".join(self._pending), [], 0
                try:
                    self.stream.write(batch)
                except (OSError, ValueError):
                    return
            super().flush()


_ROOT = logging.getLogger()
_ACCESS = logging.getLogger(ACCESS_LOGGER)
_PARENT = logging.getLogger("s3proxy")


LOGGED_CHARS = {"bucket": 255, "key": 1024}
"""The most of a client's bucket name and key a long access line keeps (no valid name is
longer: S3 allows 63 characters, 255 for legacy names, and 1,024 bytes). A request head may
carry up to 16 KiB of either, which JSON's escapes (``\\u0001`` for one control byte) doubled
into lines of ~31 KiB: over the 16 KiB at which Docker's json-file driver and containerd split
a line, so a client could make log shippers read half-lines that are not JSON. Clipped, a line
stays under 16 KiB whatever the request; ``<field>_chars`` then gives the length sent."""

LONG_LINE = 4096
"""Only a line longer than this is clipped (one ``len`` per request, nothing more): an ordinary
line is far shorter (a 1,024-character key and a 200-character User-Agent make ~1.5 KiB), and a
clipped one stays far below 16 KiB."""


def _clipped(entry: dict[str, Any], line: str) -> str:
    """``line`` (``entry`` as JSON), or the line of ``entry`` with its long names clipped."""
    if len(line) <= LONG_LINE:
        return line
    for field, most in LOGGED_CHARS.items():
        value = entry.get(field)
        if value is not None and len(value) > most:
            entry[field] = value[:most]
            entry[field + "_chars"] = len(value)
    return _to_json(entry)


def write_access_line(entry: dict[str, Any]) -> None:
    """Write one access-log line (``entry`` as compact JSON) if the access log is on; a bucket
    name or key past :data:`LOGGED_CHARS` is clipped.

    With the logging configure_logging sets up (one BatchedStreamHandler on the root, nothing
    on the way there) the line goes straight into that handler's batch: a LogRecord, its
    creation and the handler walk were ~7 % of a small request's own CPU
    (benchmarks.request_path), for a record whose message is all that is written. Any other
    set-up (handlers or filters added, as tests and embedders do) takes the logging path.
    """
    access = _ACCESS
    if access.disabled or not access.isEnabledFor(logging.INFO):
        return
    line = _clipped(entry, _to_json(entry))
    handlers = _ROOT.handlers
    if (
        len(handlers) == 1
        and type(handler := handlers[0]) is BatchedStreamHandler
        and not handler.filters
        and handler.level <= logging.INFO
        and access.propagate
        and _PARENT.propagate
        and not (access.handlers or access.filters or _PARENT.handlers or _PARENT.filters)
        and type(handler.formatter) is JsonFormatter
    ):
        handler.add_access_line(line)
        return
    access.info(line)


def log_refusal(request_id: str, status: int, code: str, bytes_out: int) -> None:
    """The access line and metrics of a request the HTTP layer refused before the S3 app saw
    it (unreadable HTTP, ambiguous framing, a header section too large, too many connections
    from one address): a request like any other for the operator, whose line carries the
    ``x-amz-request-id`` the client got. No operation, tenant or bucket is known yet."""
    metrics.observe_request("Unknown", status, "-", 0.0, 0, bytes_out, code)
    write_access_line(
        {
            "time": timestamp(),
            "request_id": request_id,
            "operation": "Unknown",
            "error": code,
            "status": status,
            "bytes_in": 0,
            "bytes_out": bytes_out,
            "duration_ms": 0.0,
        }
    )


def flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(settings: Settings) -> None:
    # The logging HOWTO's "Optimization" settings: the JSON lines carry no source location,
    # thread or process, and finding the caller's frame was 10 of the 23 µs of an access line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchedStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.logging.level.upper())
    for name in LIBRARIES_THAT_LOG_SECRETS:
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, CountTransportNoise) for f in asyncio_log.filters):
        asyncio_log.addFilter(CountTransportNoise())
    if not any(isinstance(f, DropCancelledCallbacks) for f in asyncio_log.filters):
        asyncio_log.addFilter(DropCancelledCallbacks())
    for name in SERVER_ERROR_LOGGERS:
        server_log = logging.getLogger(name)
        if not any(isinstance(f, QuietAbortedResponses) for f in server_log.filters):
            server_log.addFilter(QuietAbortedResponses())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if settings.logging.access_log else logging.WARNING)
