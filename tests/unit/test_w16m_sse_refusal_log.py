"""An upstream's refusal of an SSE-C read, answered as S3 answers it (s3proxy.sse.refused_read),
is logged as every other upstream error is: upstream, method, status, what the client sees."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from s3proxy.backends import s3_object_reads
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CustomerKey, ReadConditions


class Answer:
    def __init__(self, status: int) -> None:
        self.status, self.method, self.released = status, "GET", False

    def release(self) -> None:
        self.released = True


class Upstream:
    name = "up1"
    encryption_modes = frozenset({"SSE-C"})


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 400, S3ErrorCode.InvalidRequest),
        (CustomerKey("AES256", "k", "m"), 403, S3ErrorCode.AccessDenied),
    ],
)
def test_a_relabelled_sse_c_refusal_writes_the_upstream_error_line(
    key: CustomerKey | None, status: int, code: S3ErrorCode, caplog: pytest.LogCaptureFixture
) -> None:
    answer = Answer(status)
    read: Any = s3_object_reads._encrypted_read_status
    caplog.set_level(logging.INFO, logger="s3proxy.upstream")
    with pytest.raises(S3Error) as raised:
        asyncio.run(read(Upstream(), answer, ReadConditions(customer_key=key)))
    assert raised.value.code is code and answer.released
    [record] = [r for r in caplog.records if r.name == "s3proxy.upstream"]
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert line.startswith(f"upstream up1: GET -> {status} - (client sees ")
    assert f"{raised.value.status} {code.name})" in line and "SSE-C read" in line
