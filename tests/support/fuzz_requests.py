"""The request surface of the wave 13 fuzz (tests/unit/test_w13h_fuzz.py): its tenants and
keys, one request as Hypothesis describes it, and how it reaches the ASGI app in process —
signed by botocore (SigV4 header or presigned, SigV2 header or presigned, aws-chunked with a
trailer) or anonymous, then changed after signing where a mutation says so."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy.app import S3App
from s3proxy.config import Settings
from s3proxy.header_policy import AMZ_PREFIX
from tests.support.s3http import sign

ENDPOINT = "http://127.0.0.1:9000"
MINE = ("AKW13HMINE000000", "w13h-mine-secret-aaaaaaaaaaaaaaaa")
SCOPED = ("AKW13HSCOPED0000", "w13h-scoped-secret-cccccccccccccc")
"""A key of tenant mine that may read and list docs under a/ and write docs under w/ only."""
SCOPED_ALLOW = [
    {"actions": ["read", "list"], "buckets": ["docs"], "prefixes": ["a/"]},
    {"actions": ["write"], "buckets": ["docs"], "prefixes": ["w/"]},
]
THEIRS = ("AKW13HTHEIRS0000", "w13h-theirs-secret-bbbbbbbbbbbbbb")
UPSTREAM_NAME = "w13hstoreupzq"
HOME_BUCKET = "w13hhomebucketzq"
HOME_PREFIX = "w13hprefixzq/"


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def gateway_settings(root: Path) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {UPSTREAM_NAME: {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": keys[0], "secret_key": keys[1]}] + (
                        [{"access_key": SCOPED[0], "secret_key": SCOPED[1],
                          "allow": SCOPED_ALLOW}] if name == "mine" else []),
                    "home": {"upstream": UPSTREAM_NAME, "bucket": HOME_BUCKET,
                             "prefix": f"{HOME_PREFIX}{name}/"},
                }
                for name, keys in (("mine", MINE), ("theirs", THEIRS))
            },
        }
    )  # fmt: skip


# --- requests ---------------------------------------------------------------------------------


@dataclass
class Req:
    method: str
    bucket: str | None
    key: str | None
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    signer: tuple[str, str] | None = MINE
    mutation: str | None = None
    """A change made to the request after it was signed (see MUTATIONS)."""
    presigned: bool = False
    v2: bool = False
    """Signed with SigV2 (botocore's HmacV1 signers) instead of SigV4."""
    streaming: str | None = None
    changed: bool = False
    """Whether ``mutation`` changed anything (set when sent)."""
    """An aws-chunked body (see STREAMING) in place of ``body``."""

    @property
    def url(self) -> str:
        path = "/"
        if self.bucket is not None:
            path += quote(self.bucket, safe="")
            if self.key is not None:
                path += "/" + quote(self.key, safe="/~")
        if self.query:
            pairs = [
                quote(name, safe="-_.~") + ("=" + quote(value, safe="-_.~") if value else "")
                for name, value in self.query
            ]
            return ENDPOINT + path + "?" + "&".join(pairs)
        return ENDPOINT + path


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def call(app: S3App, req: Req) -> Answer:
    url = req.url
    headers = dict(req.headers)
    if req.signer is not None and req.v2:
        url, headers = sign_v2(req.method, url, *req.signer, headers, query=req.presigned)
    elif req.signer is not None and req.presigned:
        url, headers = presign(req.method, url, *req.signer, headers)
    elif req.signer is not None and req.streaming is not None:
        headers.update(STREAMING_HEADERS)
        headers = sign(
            req.method, url, *req.signer, headers, req.body, payload_hash=UNSIGNED_TRAILER
        )
    elif req.signer is not None:
        headers = sign(req.method, url, *req.signer, headers, req.body)
    else:
        headers.setdefault("Host", "127.0.0.1:9000")
    split = urlsplit(url)
    # Written as botocore's http stack writes header text: UTF-8 (the bytes it signs).
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    path, query_string = split.path.encode(), split.query.encode()
    if req.mutation is not None:
        before = (path, query_string, list(raw))
        path, query_string, raw = MUTATIONS[req.mutation](path, query_string, raw)
        req.changed = (path, query_string, raw) != before
    if (req.body or req.method in ("PUT", "POST")) and all(n != b"content-length" for n, _ in raw):
        raw.append((b"content-length", str(len(req.body)).encode()))
    scope = {
        "type": "http",
        "http_version": "1.1",
        "scheme": "http",
        "method": req.method,
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query_string,
        "headers": raw,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 9000),
    }
    sent: list[dict[str, Any]] = []
    given_body = False

    async def receive() -> dict[str, Any]:
        nonlocal given_body
        if given_body:
            await asyncio.sleep(3600)  # the app asked for more than the request has
        given_body = True
        return {"type": "http.request", "body": req.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 30)
    head = [(n.decode().lower(), v.decode("latin-1")) for n, v in sent[0]["headers"]]
    payload = b"".join(message.get("body", b"") for message in sent[1:])
    return Answer(int(sent[0]["status"]), head, payload)


def presign(
    method: str, url: str, access_key: str, secret_key: str, headers: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """A presigned URL (botocore's query signer) and the headers that go with it."""
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    request.headers["Host"] = urlsplit(url).netloc
    S3SigV4QueryAuth(Credentials(access_key, secret_key), "s3", "us-east-1", 300).add_auth(request)
    return request.url, dict(request.headers.items())


def sign_v2(
    method: str, url: str, access_key: str, secret_key: str, headers: dict[str, str], *, query: bool
) -> tuple[str, dict[str, str]]:
    """SigV2: the Authorization header, or (``query``) a presigned V2 URL."""
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    request.headers["Host"] = urlsplit(url).netloc
    credentials = Credentials(access_key, secret_key)
    signer = HmacV1QueryAuth(credentials, 300) if query else HmacV1Auth(credentials)
    signer.add_auth(request)
    sent = dict(request.headers.items())
    if query:  # what a presigned URL's user sends: the x-amz-* headers are in the URL now
        sent = {
            k: v for k, v in sent.items() if k != "Date" and not k.lower().startswith(AMZ_PREFIX)
        }
    return request.url, sent


UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_DATA = b"0123456789"
_CRC = base64.b64encode(zlib.crc32(_DATA).to_bytes(4, "big")).decode()
STREAMING_HEADERS = {
    "Content-Encoding": "aws-chunked",
    "x-amz-decoded-content-length": str(len(_DATA)),
    "x-amz-trailer": "x-amz-checksum-crc32",
}
STREAMING: dict[str, bytes] = {
    "valid": b"a\r\n" + _DATA + b"\r\n0\r\nx-amz-checksum-crc32:" + _CRC.encode() + b"\r\n\r\n",
    "wrong crc": b"a\r\n" + _DATA + b"\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
    "no trailer": b"a\r\n" + _DATA + b"\r\n0\r\n\r\n",
    "short": b"5\r\n01234\r\n0\r\nx-amz-checksum-crc32:" + _CRC.encode() + b"\r\n\r\n",
    "long": b"b\r\n" + _DATA + b"x\r\n0\r\nx-amz-checksum-crc32:" + _CRC.encode() + b"\r\n\r\n",
    "bad size": b"zz\r\n" + _DATA + b"\r\n0\r\n\r\n",
    "huge size": b"ffffffffffff\r\n" + _DATA + b"\r\n0\r\n\r\n",
    "no final": b"a\r\n" + _DATA + b"\r\n",
    "cut": b"a\r\n01234",
    "after final": b"a\r\n" + _DATA + b"\r\n0\r\nx-amz-checksum-crc32:" + _CRC.encode()
    + b"\r\n\r\n5\r\nabcde\r\n",
    "other trailer": b"a\r\n" + _DATA + b"\r\n0\r\nx-amz-checksum-sha1:AAAA\r\n\r\n",
    "ext": b"a;chunk-signature=zz\r\n" + _DATA + b"\r\n0\r\nx-amz-checksum-crc32:"
    + _CRC.encode() + b"\r\n\r\n",
}  # fmt: skip


Raw = list[tuple[bytes, bytes]]
Mutation = Callable[[bytes, bytes, Raw], tuple[bytes, bytes, Raw]]


def _path(change: Callable[[bytes], bytes]) -> Mutation:
    return lambda path, query, headers: (change(path), query, headers)


def _query(extra: bytes) -> Mutation:
    return lambda path, query, headers: (path, query + extra, headers)


def _headers(change: Callable[[Raw], Raw]) -> Mutation:
    return lambda path, query, headers: (path, query, change(headers))


def _drop(name: bytes) -> Callable[[Raw], Raw]:
    return lambda headers: [item for item in headers if item[0] != name]


def _set(name: bytes, value: bytes) -> Mutation:
    return _headers(lambda headers: [*_drop(name)(headers), (name, value)])


def _add(*added: tuple[bytes, bytes]) -> Mutation:
    return _headers(lambda headers: [*headers, *added])


def _amz_values(change: Callable[[bytes], bytes]) -> Mutation:
    """``change`` applied to every ``x-amz-*`` value a client chose (signed by SigV4 and SigV2
    alike), not to those the signer wrote."""
    signer_written = (b"x-amz-date", b"x-amz-content-sha256", b"x-amz-security-token")
    return _headers(
        lambda headers: [
            (n, change(v) if n.startswith(b"x-amz-") and n not in signer_written else v)
            for n, v in headers
        ]
    )


def _as_latin1(value: bytes) -> bytes:
    return value.decode("utf-8", "replace").encode("latin-1", "replace")


RESPACED = "header respaced"
"""Each space of a signed x-amz-* value doubled: SigV4 folds sequential spaces (S3 too), so the
signature stays valid; SigV2 does not fold."""

MUTATIONS: dict[str, Mutation] = {
    RESPACED: _amz_values(lambda v: v.replace(b" ", b"  ")),
    "header nbsp": _amz_values(lambda v: v.replace(b" ", b"\xa0", 1)),
    "header nel": _amz_values(lambda v: v.replace(b" ", b"\x85", 1)),
    "header latin-1": _amz_values(_as_latin1),
    "path %FF": _path(lambda path: path + b"%FF"),
    "path %00": _path(lambda path: path + b"%00"),
    "path bad escape": _path(lambda path: path + b"%G1"),
    "path raw 0x80": _path(lambda path: path + b"\x80\xff"),
    "path //": _path(lambda path: b"/" + path),
    "path no slash": _path(lambda path: path.lstrip(b"/")),
    "query repeated": lambda p, q, h: (p, q + (b"&" + q if q else b"acl&acl"), h),
    "query bad escape": _query(b"&%zz=%G1"),
    "query %FF": _query(b"&prefix=%FF"),
    "query =": _query(b"&=&=="),
    "query long": _query(b"&prefix=" + b"a" * 20000),
    "header dup auth": _headers(lambda h: [*h, *(x for x in h if x[0] == b"authorization")]),
    "header dup date": _add((b"x-amz-date", b"20200101T000000Z")),
    "header 0x80": _add((b"x-amz-meta-b", b"\x80\xff")),
    "header long": _add((b"x-amz-meta-c", b"v" * 20000)),
    "header many": _add(*((b"x-amz-meta-n%d" % n, b"v") for n in range(300))),
    "no host": _headers(_drop(b"host")),
    "no date": _headers(_drop(b"x-amz-date")),
    "no sha256": _headers(_drop(b"x-amz-content-sha256")),
    "content-length -1": _set(b"content-length", b"-1"),
    "content-length x": _set(b"content-length", b"x"),
    "content-length 2": _add((b"content-length", b"99")),
    "auth garbage": _set(b"authorization", b"AWS4-HMAC-SHA256 x"),
    "auth v2 garbage": _set(b"authorization", b"AWS a:b:c"),
    "auth empty cred": _set(
        b"authorization", b"AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature="
    ),
    "host vhost": _set(b"host", b"docs.127.0.0.1:9000"),
}
