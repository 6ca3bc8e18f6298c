"""Error fields that quote the client are XML every parser reads (wave 18, review R2 of 6cee3d0).

InvalidAccessKeyId names the key the client sent (``<AWSAccessKeyId>``), NoSuchKey its key,
InvalidArgument its value: written as XML text with control characters as character references
(``&#1;``), which XML 1.0 does not allow, so no parser (botocore's included) read the document
and the client saw a bare status instead of the error's code. Every field is now written as
``<Message>`` is (xmlcodec.message_text): such a character as ``\\u0001``, a CR still exact."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import error_xml
from tests.support.asgi import call_anonymous, call_app, local_tenants_settings, tenant_keys

ENDPOINT = "http://127.0.0.1:9000"
TAG = "R2F"


def _presigned_v4(key: str) -> str:
    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={quote(key, safe='')}%2F{now[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date={now}&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=" + "0" * 64
    )


def _presigned_v2(key: str) -> str:
    return f"AWSAccessKeyId={quote(key, safe='')}&Expires={int(time.time()) + 60}&Signature=a"


@pytest.mark.parametrize("presigned", [_presigned_v4, _presigned_v2])
@pytest.mark.parametrize("control", ["\x01", "\x0b", "\x1f"])
def test_an_unknown_access_key_with_a_control_character_is_named_readably(
    tmp_path: Path, presigned: Callable[[str], str], control: str
) -> None:
    """A presigned URL's key (%01 in its query); a header's cannot hold one (both engines'
    HTTP parsers refuse control characters in header values)."""

    async def main() -> tuple[int, bytes]:
        gateway = Gateway(local_tenants_settings(str(tmp_path), ["alice"], TAG))
        try:
            query = presigned(f"AK{control}X")
            return await call_anonymous(S3App(gateway), "GET", "/docs/k", query)
        finally:
            await gateway.close()

    status, body = asyncio.run(main())
    assert status == 403
    error = ET.fromstring(body)  # ParseError before: "reference to invalid character number"
    assert error.findtext("Code") == "InvalidAccessKeyId"
    assert error.findtext("AWSAccessKeyId") == f"AK\\u{ord(control):04x}X"


def test_a_missing_key_and_a_refused_value_are_named_readably(tmp_path: Path) -> None:
    async def main() -> list[tuple[int, bytes]]:
        gateway = Gateway(local_tenants_settings(str(tmp_path), ["alice"], TAG))
        app, keys = S3App(gateway), tenant_keys("alice", TAG)
        try:
            for method, path, body in (("PUT", "/docs", b""), ("PUT", "/docs/k", b"x")):
                made = await call_app(app, method, ENDPOINT + path, keys, body)
                assert made.status == 200, made.body
            missing = await call_app(app, "GET", f"{ENDPOINT}/docs/a%01b", keys)
            version = await call_app(app, "GET", f"{ENDPOINT}/docs/k?versionId=v%01", keys)
            return [(missing.status, missing.body), (version.status, version.body)]
        finally:
            await gateway.close()

    (missing, missing_body), (version, version_body) = asyncio.run(main())
    assert missing == 404
    assert ET.fromstring(missing_body).findtext("Key") == "a\\u0001b"
    assert version == 400
    assert ET.fromstring(version_body).findtext("ArgumentValue") == "v\\u0001"


def test_a_carriage_return_in_a_field_stays_exact() -> None:
    """CR may stand as a reference in XML 1.0 (&#13;): kept, so a key with one reads back."""
    document = error_xml(S3Error(S3ErrorCode.NoSuchKey, Key="a\rb\x01"), "ID", "/b/a\rb\x02")
    error = ET.fromstring(document)
    assert error.findtext("Key") == "a\rb\\u0001"
    assert error.findtext("Resource") == "/b/a\rb\\u0002"
