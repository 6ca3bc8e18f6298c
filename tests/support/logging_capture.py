"""The production logging set-up (s3proxy.logs.configure_logging) writing to a StringIO, for
unit tests that read the lines an operator would see; the previous set-up is put back."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from types import SimpleNamespace

from s3proxy.logs import ACCESS_LOGGER, configure_logging


@contextlib.contextmanager
def production_logging_to_string() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger(ACCESS_LOGGER).level)
    configure_logging(SimpleNamespace(logging=SimpleNamespace(level="info", access_log=True)))  # type: ignore[arg-type]
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger(ACCESS_LOGGER).setLevel(saved[2])
