"""What the request-surface fuzz (test_w13h_fuzz.py) found, one direct test per finding, in
process over a local store (wave 13, H)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore import parsers
from botocore.session import get_session

from s3proxy.app import Gateway, S3App
from tests.support.asgi import call_app
from tests.support.fuzz_requests import ENDPOINT, MINE, SCOPED, gateway_settings
from tests.support.s3http import object_url


@pytest.mark.parametrize("value", ["1", "3", ""])
def test_a_list_type_other_than_2_is_not_answered_as_listobjectsv2(
    tmp_path: Path, value: str
) -> None:
    """``?list-type=1`` was served as ListObjectsV2 (KeyCount, no Marker): another listing
    than the V1 one Ceph RGW answers it with, and so was any other value. Only 2 is V2 now;
    the rest are 501 NotImplemented, and a plain listing or list-type=2 is served as before."""

    async def scenario() -> list[tuple[int, str | None, bytes]]:
        gateway = Gateway(gateway_settings(tmp_path))
        app = S3App(gateway)
        try:
            bucket = object_url(ENDPOINT, "docs")
            assert (await call_app(app, "PUT", bucket, MINE)).status == 200
            assert (await call_app(app, "PUT", bucket + "/k", MINE, b"x")).status == 200
            answers = []
            for query in (f"?list-type={value}", "?list-type=2", ""):
                got = await call_app(app, "GET", bucket + query, MINE)
                answers.append((got.status, got.code, got.body))
            return answers
        finally:
            await gateway.close()

    odd, v2, v1 = asyncio.run(scenario())
    assert odd[:2] == (501, "NotImplemented")
    assert v2[0] == 200 and ET.fromstring(v2[2]).findtext("{*}KeyCount") == "1"
    assert v1[0] == 200 and ET.fromstring(v1[2]).find("{*}Marker") is not None


@pytest.mark.parametrize("key", ["t\x01ab", "t\rab", "t\x1fab\ufffe"])
def test_an_error_message_quoting_a_key_stays_parseable(tmp_path: Path, key: str) -> None:
    """A scoped key's AccessDenied quotes the key it may not read. A control character in it
    was written raw into ``<Message>``: no XML parser read the document, and botocore reported
    the bare status ("403") instead of AccessDenied. The message now writes such characters as
    ``\\u0001`` and a CR as a reference."""

    async def scenario() -> tuple[int, bytes]:
        gateway = Gateway(gateway_settings(tmp_path))
        app = S3App(gateway)
        try:
            bucket = object_url(ENDPOINT, "docs")
            assert (await call_app(app, "PUT", bucket, MINE)).status == 200
            got = await call_app(app, "GET", object_url(ENDPOINT, "docs", key), SCOPED)
            return got.status, got.body
        finally:
            await gateway.close()

    status, body = asyncio.run(scenario())
    assert status == 403
    message = ET.fromstring(body).findtext("Message") or ""
    assert "docs/t" in message
    assert ("\r" in message) if "\r" in key else ("\\u00" in message)
    parser = parsers.create_parser("rest-xml")
    shape = get_session().get_service_model("s3").operation_model("GetObject").output_shape
    parsed = parser.parse({"status_code": 403, "headers": {}, "body": body}, shape)
    assert parsed["Error"]["Code"] == "AccessDenied"
