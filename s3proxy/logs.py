"""Logging: one JSON line per record on stdout, access lines batched, one timestamp format.

Every line's ``time`` is RFC 3339 in UTC with milliseconds (``2026-12-03T08:39:45.123Z``), the
application log's as the access log's, so the two sort and join as one stream.

asyncio warns "socket.send() raised exception." for every write to a connection the client has
already closed (from the fifth write on): one download abandoned early made hundreds of such
lines. They say nothing an operator can act on, so they are counted in
``s3proxy_transport_noise`` instead; the abandoned request itself has its access line (499).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from s3proxy import metrics
from s3proxy.config import Settings

ACCESS_LOGGER = "s3proxy.access"
TRANSPORT_NOISE = ("socket.send() raised exception.",)
"""asyncio's per-write messages for a connection the peer closed (selector_events.py)."""


def timestamp(seconds: float | None = None) -> str:
    """RFC 3339, UTC, milliseconds: the ``time`` of every log line (now when ``seconds`` is
    None)."""
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CountTransportNoise(logging.Filter):
    """Drops asyncio's write-after-disconnect warnings, counting them (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in TRANSPORT_NOISE:
            metrics.TRANSPORT_NOISE.inc()
            return False
        return True


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
        return json.dumps(entry, separators=(",", ":"))


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
        now = time.monotonic()
        if not self._pending:
            self._oldest = now
        self._pending.append(line)
        self._size += len(line)
        if (
            record.name != ACCESS_LOGGER
            or self._size >= self.max_bytes
            or now - self._oldest >= self.max_delay
        ):
            self.flush()

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            if self._pending:
                batch, self._pending, self._size = "".join(self._pending), [], 0
                try:
                    self.stream.write(batch)
                except (OSError, ValueError):
                    return
            super().flush()


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
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, CountTransportNoise) for f in asyncio_log.filters):
        asyncio_log.addFilter(CountTransportNoise())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if settings.logging.access_log else logging.WARNING)
