"""A request refused before its body is read leaves the client a usable connection.

Hypercorn answers ``Expect: 100-continue`` before the app runs, so the client sends the body of
a request the proxy then refuses unread (bad owner, refused header). The server cannot reuse
that connection; unless the response says ``Connection: close``, the client's next request on
it meets a closed socket (ConnectionClosedError / RemoteDisconnected) instead of an answer.
"""

from __future__ import annotations

import http.client
import os
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TENANT_KEYS, Proxy
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

BUCKET = "docs"


def test_refused_upload_says_connection_close(proxy: Proxy) -> None:
    key = "early-refusal/" + os.urandom(4).hex()
    url = object_url(proxy.endpoint, BUCKET, key)
    body = os.urandom(256 * 1024)
    refused = {"x-amz-website-redirect-location": "/x"}
    headers = sign("PUT", url, *TENANT_KEYS["alice"], refused, body)
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
    try:
        connection.putrequest("PUT", split.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        assert response.status == 501
        assert (response.getheader("Connection") or "").lower() == "close"
    finally:
        connection.close()
    with pytest.raises(ClientError) as caught:
        proxy.client("alice").head_object(Bucket=BUCKET, Key=key)
    assert caught.value.response["Error"]["Code"] == "404"


def test_calls_after_refused_uploads_on_one_client_succeed(proxy: Proxy) -> None:
    """One client, retries off: each refused PUT is followed by a call that must be answered."""
    s3 = proxy.client("alice")
    key = "early-refusal/" + os.urandom(4).hex()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")
    try:
        for _ in range(5):
            with pytest.raises(ClientError) as caught:
                s3.put_object(
                    Bucket=BUCKET,
                    Key=key,
                    Body=os.urandom(64 * 1024),
                    WebsiteRedirectLocation="/elsewhere",
                )
            assert caught.value.response["Error"]["Code"] == "NotImplemented"
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"kept"
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)
