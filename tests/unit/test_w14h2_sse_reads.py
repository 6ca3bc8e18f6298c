"""Wave 14 H2: a GET/HEAD with an SSE-C key on a bucket whose upstream does not take SSE-C.

It was 501 even for a missing key or a plain object, so ``rclone copy --s3-sse-customer-key``
took its destination for an existing file (rclone reads any HEAD answer but 404 as "exists").
No object there can be SSE-C encrypted, so S3's answers are exact: 400 InvalidRequest over plain
HTTP, 404 NoSuchKey for a missing key, 400 InvalidRequest "not applicable" for a plain object;
a write with a key stays 501. Also: the copy behaviour of an upstream is learnt only from an
answer of the S3 server itself (one naming its request), never from a page in front of it."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from s3proxy import sse
from s3proxy.app import Gateway, S3App
from s3proxy.backends.s3_multipart import _COPIES_OWN_ETAG, _KEEPS_COPY_CONDITIONS
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CustomerKey, ReadConditions
from tests.support.asgi import Answer, call_app, own_context, tenant_keys
from tests.unit.test_s3_multipart import upstream

KEY = bytes(range(32))
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
    "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
        hashlib.md5(KEY).digest()
    ).decode(),
}
ENDPOINT = "http://127.0.0.1:9000/docs"
KEYS = tenant_keys("ann", "SSEREADS00")
NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
"""S3's message (boto/boto3#982, minio/minio#7332)."""


def _settings(root: Path, over_http: bool) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "sse_c_over_http": over_http},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                "ann": {
                    "keys": [{"access_key": KEYS[0], "secret_key": KEYS[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                }
            },
        }
    )


def _message(answer: Answer) -> str | None:
    return ET.fromstring(answer.body).findtext("Message")


async def _call(app: S3App, method: str, key: str, body: bytes = b"", **headers: str) -> Answer:
    url = f"{ENDPOINT}/{key}"
    return await own_context(call_app(app, method, url, KEYS, body, headers))


def test_the_local_store_answers_a_reads_key_as_s3_answers_it_for_a_plain_object(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        for over_http in (True, False):
            gateway = Gateway(_settings(tmp_path / str(over_http), over_http))
            call = functools.partial(_call, S3App(gateway))
            try:
                assert (await call("PUT", "")).status == 200  # the bucket
                assert (await call("PUT", "plain", b"in the clear")).status == 200
                for key in ("plain", "missing"):
                    get, head = await call("GET", key, **SSE_C), await call("HEAD", key, **SSE_C)
                    if not over_http:  # S3 refuses a key over HTTP before anything else
                        assert (get.status, get.code) == (400, "InvalidRequest")
                        assert _message(get) == sse.INSECURE_CUSTOMER_KEY
                        assert (head.status, head.body) == (400, b"")
                    elif key == "missing":
                        assert (get.status, get.code) == (404, "NoSuchKey")
                        assert (head.status, head.body) == (404, b"")
                    else:
                        assert (get.status, get.code) == (400, "InvalidRequest")
                        assert _message(get) == NOT_APPLICABLE
                        assert (head.status, head.body) == (400, b"")
                # Writes with a key stay refused: the store would not encrypt.
                put = await call("PUT", "with-key", b"secret", **SSE_C)
                assert (put.status, put.code) == (501, "NotImplemented")
                assert (await call("HEAD", "with-key")).status == 404
                assert (await call("GET", "plain")).body == b"in the clear"
            finally:
                await gateway.close()

    asyncio.run(main())


class _Backend:
    def __init__(self, *modes: str) -> None:
        self.encryption_modes = frozenset(modes)


class _Storage:
    """MappedStorage's two calls for_object_read makes; records what a HEAD was asked."""

    def __init__(self, backend: object, missing: bool = False) -> None:
        self.backend, self.missing = backend, missing
        self.heads: list[ReadConditions] = []

    def locate(self, bucket: str, key: str) -> tuple[object, None]:
        return self.backend, None

    async def head_object(self, bucket: str, key: str, conditions: ReadConditions) -> None:
        self.heads.append(conditions)
        if self.missing:
            raise S3Error(S3ErrorCode.NoSuchKey, Key=key)


def _read(storage: _Storage, secure: bool = True, headers: dict[str, str] = SSE_C) -> Any:
    """What GetObject/HeadObject do: the key, or the answer to one on a plain-only store."""

    async def read() -> CustomerKey | None:
        try:
            return sse.for_object_read(storage, "b", "k", headers, secure=secure)  # type: ignore[arg-type]
        except sse.KeyForPlainObject as error:
            raise await sse.plain_read_error(storage, "b", "k", error) from None  # type: ignore[arg-type]

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("backend", "missing", "expected"),
    [
        (_Backend("AES256"), False, (S3ErrorCode.InvalidRequest, NOT_APPLICABLE)),
        (_Backend(), True, (S3ErrorCode.NoSuchKey, None)),
        (object(), False, (S3ErrorCode.InvalidRequest, NOT_APPLICABLE)),
    ],
)
def test_an_upstream_without_sse_c_never_sees_the_key(
    backend: object, missing: bool, expected: tuple[S3ErrorCode, str | None]
) -> None:
    storage = _Storage(backend, missing)
    with pytest.raises(S3Error) as caught:
        _read(storage)
    assert caught.value.code is expected[0]
    assert expected[1] is None or caught.value.message == expected[1]
    assert storage.heads == [ReadConditions()]  # asked without the key or any condition


def test_an_upstream_with_sse_c_gets_the_key_and_no_extra_request() -> None:
    storage = _Storage(_Backend("SSE-C"))
    found = _read(storage)
    assert found is not None and found.key == SSE_C[sse.CUSTOMER + "key"]
    assert storage.heads == []
    with pytest.raises(S3Error) as caught:
        _read(storage, secure=False)
    assert caught.value.code is S3ErrorCode.InvalidRequest and storage.heads == []
    assert _read(storage, secure=False, headers={}) is None


def test_copy_behaviour_is_learnt_only_from_the_s3_servers_own_answer() -> None:
    """A 200 from a page in front of SeaweedFS (no request id, its own ``Server``) taught that
    the upstream's copies keep S3's ETag and drop copy conditions, for the life of the process."""
    answers = [{"Server": "nginx"}, {"Server": "SeaweedFS 8000GB 4.48", "x-amz-request-id": "r"}]

    async def handler(request: web.Request) -> web.StreamResponse:
        modified = "Sun, 29 Nov 2026 00:00:00 GMT"
        headers: dict[str, Any] = {"ETag": '"e"', "Last-Modified": modified, **answers.pop(0)}
        return web.Response(headers=headers)

    async def go() -> tuple[bool, bool]:
        _COPIES_OWN_ETAG.clear()
        _KEEPS_COPY_CONDITIONS.clear()
        async with upstream(handler) as backend:
            first = await backend.keeps_copy_conditions("ub", "src")
            return first, await backend.keeps_copy_conditions("ub", "src")

    try:
        assert asyncio.run(go()) == (False, True)
        assert _COPIES_OWN_ETAG == {"scripted": False}
    finally:
        _COPIES_OWN_ETAG.clear()
        _KEEPS_COPY_CONDITIONS.clear()
