"""Raw S3 requests for tests that must control every byte: signed by botocore, sent by http.client.

boto3 hides status lines, header order and bodies of error responses; the bad-input and leak
tests need them verbatim, and need to tamper with a request *after* it was signed.
"""

from __future__ import annotations

import datetime
import http.client
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def error_code(self) -> str | None:
        if not self.body:
            return None
        return ET.fromstring(self.body).findtext("Code")


def aws_chunked_headers(decoded_length: int, trailer: str | None = None) -> dict[str, str]:
    """The headers that announce an aws-chunked body (a trailer named when there is one)."""
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(decoded_length),
    }
    if trailer is not None:
        headers["x-amz-trailer"] = trailer
    return headers


def object_url(endpoint: str, bucket: str, key: str | None = None, query: str = "") -> str:
    path = f"/{bucket}" + (f"/{quote(key, safe='/~')}" if key is not None else "")
    return f"{endpoint}{path}" + (f"?{query}" if query else "")


def sign(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    payload_hash: str | None = None,
    when: datetime.datetime | None = None,
) -> dict[str, str]:
    """Headers of a SigV4-signed request (botocore's signer, the reference)."""
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    if "host" not in {name.lower() for name in request.headers}:
        request.headers["Host"] = urlsplit(url).netloc
    auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", "us-east-1")
    if payload_hash is not None:  # botocore would compute the real hash: declare ours instead
        auth.payload = lambda _request: payload_hash  # type: ignore[method-assign]
    if when is not None:
        import botocore.auth

        original = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda *a, **k: when.replace(tzinfo=None)
        try:
            auth.add_auth(request)
        finally:
            botocore.auth.get_current_datetime = original
    else:
        auth.add_auth(request)
    return dict(request.headers.items())


def send(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    *,
    content_length: bool = True,
    connect: tuple[str, int] | None = None,
) -> RawResponse:
    """Send as-is; ``connect`` overrides where the connection goes (virtual-host tests)."""
    split = urlsplit(url)
    host, port = connect or (split.hostname or "", split.port)
    connection = http.client.HTTPConnection(host, port, timeout=60)
    path = split.path + (f"?{split.query}" if split.query else "")
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        present = any(name.lower() == "content-length" for name in headers)
        if content_length and not present and (body or method in ("PUT", "POST")):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body if body else None)
        response = connection.getresponse()
        data = response.read()
        return RawResponse(response.status, response.getheaders(), data)
    finally:
        connection.close()


def signed(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    tamper: Callable[[dict[str, str]], None] | None = None,
    payload_hash: str | None = None,
    when: datetime.datetime | None = None,
) -> RawResponse:
    """Sign with botocore, optionally tamper with the signed headers, then send."""
    final = sign(
        method, url, access_key, secret_key, headers, body, payload_hash=payload_hash, when=when
    )
    if tamper is not None:
        tamper(final)
    return send(method, url, final, body)
