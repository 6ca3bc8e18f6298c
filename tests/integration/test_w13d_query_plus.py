"""A bare ``+`` in the query is a space, through the running gateway (wave 13, D).

S3 decodes a query as form data: ``prefix=a+b`` lists prefix "a b", and clients that send it
that way (URLSearchParams, form encoders) sign it as ``a%20b``. The gateway read the ``+`` as a
plus sign: those clients got SignatureDoesNotMatch, and no signature made it list "a b". SDKs
send ``%20`` and ``%2B`` and are unaffected. A parameter given twice with different values is
refused, since the signature does not say which one counts.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send, sign

pytestmark = pytest.mark.integration

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.mark.one_lane  # the query's decoding, the same in front of every backend
def test_a_bare_plus_in_a_listing_prefix_is_a_space(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "w13d-" + os.urandom(4).hex()
    keys = (f"{name} a b/x", f"{name}+a+b/x")
    for key in keys:
        s3.put_object(Bucket="docs", Key=key, Body=b"x")
    try:
        signed_as = object_url(proxy.endpoint, "docs", query=f"list-type=2&prefix={name}%20a%20b")
        headers = sign("GET", signed_as, *proxy.keys("alice"))
        answer = send("GET", signed_as.replace("%20", "+"), headers)
        assert answer.status == 200, answer.body
        listed = [k.text for k in ET.fromstring(answer.body).iter(f"{NS}Key")]
        assert listed == [keys[0]]
        plus = object_url(proxy.endpoint, "docs", query=f"list-type=2&prefix={name}%2Ba%2Bb")
        answer = send("GET", plus, sign("GET", plus, *proxy.keys("alice")))
        assert [k.text for k in ET.fromstring(answer.body).iter(f"{NS}Key")] == [keys[1]]
        twice = object_url(proxy.endpoint, "docs", query=f"list-type=2&prefix={name}&prefix=x")
        answer = send("GET", twice, sign("GET", twice, *proxy.keys("alice")))
        assert (answer.status, answer.error_code) == (400, "InvalidArgument")
    finally:
        for key in keys:
            s3.delete_object(Bucket="docs", Key=key)
