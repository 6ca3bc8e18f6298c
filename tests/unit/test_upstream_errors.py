"""Upstream error answers as a client sees them: 4xx stay client errors, only upstream faults
are 500/503, nothing of the upstream's text passes, and the upstream's code is logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from s3proxy.backends.s3 import S3Upstream
from s3proxy.backends.upstream_errors import translate
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions
from tests.unit.test_s3_multipart import upstream

C = S3ErrorCode


@pytest.mark.parametrize(
    ("status", "code_name", "expected"),
    [
        (400, "InvalidRequest", C.InvalidRequest),  # SeaweedFS on `a/../b`
        (400, "InvalidArgument", C.InvalidArgument),
        (400, "KeyTooLongError", C.KeyTooLongError),
        (400, "InvalidURI", C.InvalidURI),
        (400, "SomethingUpstreamOnly", C.InvalidRequest),
        (400, "", C.InvalidRequest),
        (409, "OperationAborted", C.InvalidRequest),
        (413, "", C.EntityTooLarge),
        (414, "", C.KeyTooLongError),
        (429, "", C.SlowDown),
        (404, "NoSuchKey", C.NoSuchKey),
        (404, "NoSuchBucket", C.NoSuchBucket),
        (404, "", C.NoSuchKey),
        (412, "", C.PreconditionFailed),
        (416, "InvalidRange", C.InvalidRange),
        (304, "", C.NotModified),
        (501, "NotImplemented", C.NotImplemented),
        (503, "SlowDown", C.SlowDown),
        (200, "InvalidPart", C.InvalidPart),  # an <Error> inside a 200
    ],
)
def test_client_errors_keep_a_client_status(
    status: int, code_name: str, expected: S3ErrorCode
) -> None:
    error = translate(status, code_name)
    assert error.code is expected
    assert error.status < 500 or expected in (C.NotImplemented, C.SlowDown)


@pytest.mark.parametrize(
    ("status", "code_name", "expected"),
    [
        (500, "InternalError", C.ServiceUnavailable),
        (503, "ServiceUnavailable", C.ServiceUnavailable),
        (502, "", C.ServiceUnavailable),
        (500, "InvalidRequest", C.ServiceUnavailable),  # a 5xx is a fault whatever its code
        (200, "InternalError", C.InternalError),
        (403, "AccessDenied", C.InternalError),  # the gateway's credentials, not the client's
        (403, "SignatureDoesNotMatch", C.InternalError),
        (301, "PermanentRedirect", C.InternalError),
        (411, "MissingContentLength", C.InternalError),
    ],
)
def test_upstream_faults_say_the_storage_failed(
    status: int, code_name: str, expected: S3ErrorCode
) -> None:
    error = translate(status, code_name)
    assert error.code is expected
    assert "storage behind this gateway" in error.message
    assert "reduce your request rate" not in error.message.lower()


def test_upstream_answer_reaches_the_client_as_its_code_and_the_log_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = b"<Error><Code>InvalidRequest</Code><Message>secret-upstream-text</Message></Error>"
        return web.Response(status=400, body=body)

    async def go() -> S3Error:
        async with upstream(handler) as backend:
            with pytest.raises(S3Error) as caught:
                await backend.get_object("ub", "a/../b", None, ReadConditions())
            return caught.value

    with caplog.at_level(logging.INFO, logger="s3proxy.upstream"):
        error = asyncio.run(go())
    assert (error.status, error.code) == (400, C.InvalidRequest)
    assert "secret-upstream-text" not in error.message
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("400 InvalidRequest" in r.getMessage() for r in warnings)


def test_routine_not_found_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")

    async def go() -> None:
        async with upstream(handler) as backend:
            with pytest.raises(S3Error):
                await backend.get_object("ub", "missing", None, ReadConditions())

    with caplog.at_level(logging.INFO, logger="s3proxy.upstream"):
        asyncio.run(go())
    assert [r.levelno for r in caplog.records if "NoSuchKey" in r.getMessage()] == [logging.INFO]


def test_upstream_down_is_503_that_does_not_ask_to_slow_down() -> None:
    async def go() -> S3Error:
        config = UpstreamConfig.model_validate(
            {"endpoint": "http://127.0.0.1:9", "access_key": "ak", "secret_key": "sk"}
        )
        backend = S3Upstream("down", config)
        try:
            with pytest.raises(S3Error) as caught:
                await backend.head_object("ub", "k", ReadConditions())
            return caught.value
        finally:
            await backend.close()

    error = asyncio.run(go())
    assert (error.status, error.code) == (503, C.ServiceUnavailable)
    assert "could not be reached" in error.message
    assert "reduce your request rate" not in error.message.lower()
