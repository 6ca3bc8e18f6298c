"""Pure parts of what an operator reads (wave 10 H): the ``code`` label of
``s3proxy_errors_total``, the ``x-amz-id-2`` value of each serving process, and no error line
for asyncio's cancelled callbacks at a shutdown."""

from __future__ import annotations

import asyncio
import logging
import os

from prometheus_client import REGISTRY

from s3proxy import host_id, metrics
from s3proxy.logs import DropCancelledCallbacks


def errors(operation: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "s3proxy_errors_total", {"operation": operation, "code": code}
    )
    return value or 0.0


def test_errors_are_counted_by_code_an_aborted_body_as_one_value_a_304_not_at_all() -> None:
    before = (
        errors("GetObject", "NoSuchKey"),
        errors("GetObject", "ResponseAborted"),
        errors("GetObject", "NotModified"),
    )
    metrics.observe_request("GetObject", 404, "alice", 0.001, 0, 200, "NoSuchKey")
    metrics.observe_request("GetObject", 200, "alice", 0.001, 0, 9, "aborted: ConnectionError")
    metrics.observe_request("GetObject", 200, "alice", 0.001, 0, 9, "aborted: TimeoutError")
    metrics.observe_request("GetObject", 304, "alice", 0.001, 0, 0, "NotModified")
    metrics.observe_request("GetObject", 200, "alice", 0.001, 0, 9)
    after = (
        errors("GetObject", "NoSuchKey"),
        errors("GetObject", "ResponseAborted"),
        errors("GetObject", "NotModified"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 2, 0]


def test_each_forked_process_has_its_own_x_amz_id_2() -> None:
    assert host_id.HEADER == (b"x-amz-id-2", host_id.HOST_ID) == (b"x-amz-id-2", host_id.compute())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a forked worker sends
        os.write(write, host_id.HEADER[1] + b" " + host_id.compute())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).split()
    os.close(read)
    os.waitpid(pid, 0)
    assert child[0] == child[1] != host_id.HOST_ID


def test_asyncio_errors_for_cancelled_callbacks_are_dropped_others_kept() -> None:
    def record(message: str, error: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "asyncio", logging.ERROR, "", 0, message, None, (type(error), error, None)
        )

    drop = DropCancelledCallbacks()
    assert not drop.filter(record("Exception in callback <cb>", asyncio.CancelledError()))
    assert drop.filter(record("Exception in callback <cb>", ValueError("a real bug")))
    assert drop.filter(record("Task was destroyed", asyncio.CancelledError()))
