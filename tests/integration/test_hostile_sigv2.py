"""Hostile SigV2 (header and query forms) and anonymous requests, sent raw.

Signature Version 2 is restated here from AWS's description (RESTAuthentication: StringToSign =
Method, Content-MD5, Content-Type, Date or Expires, CanonicalizedAmzHeaders,
CanonicalizedResource; base64 HMAC-SHA1), not taken from the proxy, so that one thing at a time
can be broken after a valid signature. Every refusal is checked for AWS's status and Code, for
nothing stored or changed afterwards, and for no traceback in the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import time
from collections.abc import Iterator, Sequence
from email.utils import formatdate
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, start_proxy
from tests.support.s3http import RawResponse

pytestmark = pytest.mark.integration

Headers = Sequence[tuple[str, str]]
OTHER_KEYS = ("AKUNKNOWN0000000000X", "unknown-secret-xxxxxxxxxxxxxxxxxx")


def http_date(offset: float = 0) -> str:
    return formatdate(time.time() + offset, usegmt=True)


def string_to_sign(method: str, headers: Headers, date_slot: str, resource: str) -> str:
    """AWS's StringToSign: x-amz-* names lower-cased and sorted, repeats joined by ','."""
    values = {name.lower(): value for name, value in headers}
    amz: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower().startswith("x-amz-"):
            amz.setdefault(name.lower(), []).append(value.strip())
    amz_lines = "".join(f"{name}:{','.join(amz[name])}\n" for name in sorted(amz))
    return "\n".join(
        [
            method,
            values.get("content-md5", ""),
            values.get("content-type", ""),
            date_slot,
            amz_lines + resource,
        ]
    )


def signature(secret: str, text: str) -> str:
    digest = hmac.digest(secret.encode(), text.encode(), "sha1")
    return base64.b64encode(digest).decode()


def raw(proxy: Proxy, method: str, target: str, headers: Headers, body: bytes = b"") -> RawResponse:
    """Send exactly these headers (repeats kept, order kept) and a Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        names = {name.lower() for name, _ in headers}
        if "host" not in names:
            connection.putheader("Host", proxy.host)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("PUT", "POST"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return RawResponse(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def v2(
    proxy: Proxy,
    method: str,
    path: str,
    *,
    query: str = "",
    signed_query: str | None = None,
    headers: Headers = (),
    body: bytes = b"",
    keys: tuple[str, str] | None = None,
    date: str | None = None,
    resource: str | None = None,
    tamper: dict[str, str] | None = None,
) -> RawResponse:
    """A SigV2 header-signed request; ``tamper`` replaces (or with '' drops) headers after
    signing, ``signed_query`` is the sub-resource part the signature names when it differs."""
    access, secret = keys or proxy.keys("alice")
    sent = list(headers)
    if date is None and not any(n.lower() == "x-amz-date" for n, _ in sent):
        date = http_date()
    if date is not None:
        sent.append(("Date", date))
    amz_date = any(n.lower() == "x-amz-date" for n, _ in sent)
    canonical = resource if resource is not None else path
    sub = query if signed_query is None else signed_query
    if sub:
        canonical += "?" + sub
    text = string_to_sign(method, sent, "" if amz_date else (date or ""), canonical)
    sent.append(("Authorization", f"AWS {access}:{signature(secret, text)}"))
    for name, value in (tamper or {}).items():
        sent = [(n, v) for n, v in sent if n.lower() != name.lower()]
        if value:
            sent.append((name, value))
    return raw(proxy, method, path + (f"?{query}" if query else ""), sent, body)


def presigned_v2(
    proxy: Proxy,
    method: str,
    path: str,
    expires: str,
    *,
    sub: str = "",
    keys: tuple[str, str] | None = None,
) -> str:
    access, secret = keys or proxy.keys("alice")
    text = string_to_sign(method, [], expires, path + (f"?{sub}" if sub else ""))
    sig = quote(signature(secret, text), safe="")
    params = f"AWSAccessKeyId={access}&Expires={expires}&Signature={sig}"
    return f"{path}?{sub + '&' if sub else ''}{params}"


def refused(response: RawResponse, status: int, code: str | None) -> None:
    assert (response.status, response.error_code) == (status, code), response.body[:400]
    assert b"Traceback" not in response.body and b"s3p-" not in response.body


def stored(proxy: Proxy, bucket: str, key: str) -> bool:
    try:
        proxy.client("alice").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False
    return True


@pytest.fixture()
def key(proxy: Proxy) -> str:
    return "sigv2/" + os.urandom(5).hex()


# -- the Authorization header --------------------------------------------------------------------


def test_a_valid_v2_header_request_is_served(proxy: Proxy, key: str) -> None:
    """The control for everything below: the restated signer is what the proxy verifies."""
    assert v2(proxy, "PUT", f"/docs/{key}", body=b"v2 body").status == 200
    got = v2(proxy, "GET", f"/docs/{key}")
    assert (got.status, got.body) == (200, b"v2 body")


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize(
    "value",
    [
        "AWS {ak}",  # no colon
        "AWS :{sig}",  # empty key
        "AWS {ak}:",  # empty signature
        "AWS {ak}:{sig}:extra",
        "AWS",
        "AWS  ",
    ],
    ids=["no-colon", "empty-key", "empty-signature", "two-colons", "bare", "blank"],
)
def test_malformed_authorization_is_invalid_argument(proxy: Proxy, key: str, value: str) -> None:
    ak = proxy.keys("alice")[0]
    header = value.format(ak=ak, sig="c2lnbmF0dXJl")
    response = raw(
        proxy, "PUT", f"/docs/{key}", [("Date", http_date()), ("Authorization", header)], b"x"
    )
    refused(response, 400, "InvalidArgument")
    assert not stored(proxy, "docs", key)


@pytest.mark.parametrize("sig", ["!!!not-base64!!!", "AAAA", "é" * 28, "c2ln bmF0dXJl"])
def test_a_bad_signature_value_does_not_match(proxy: Proxy, key: str, sig: str) -> None:
    ak = proxy.keys("alice")[0]
    response = raw(
        proxy,
        "PUT",
        f"/docs/{key}",
        [("Date", http_date()), ("Authorization", f"AWS {ak}:{sig}".encode().decode("latin-1"))],
        b"x",
    )
    refused(response, 403, "SignatureDoesNotMatch")
    assert not stored(proxy, "docs", key)


def test_unknown_and_foreign_keys(proxy: Proxy, key: str) -> None:
    """An unknown key is InvalidAccessKeyId; bob's key with alice's secret does not match;
    bob's own valid signature does not reach alice's bucket."""
    unknown = v2(proxy, "PUT", f"/docs/{key}", body=b"x", keys=OTHER_KEYS)
    refused(unknown, 403, "InvalidAccessKeyId")
    bob_ak = proxy.keys("bob")[0]
    forged = v2(proxy, "PUT", f"/docs/{key}", body=b"x", keys=(bob_ak, proxy.keys("alice")[1]))
    refused(forged, 403, "SignatureDoesNotMatch")
    bobs = v2(proxy, "PUT", f"/docs/{key}", body=b"x", keys=proxy.keys("bob"))
    refused(bobs, 404, "NoSuchBucket")
    assert not stored(proxy, "docs", key)


def test_date_is_required_parsed_and_within_skew(proxy: Proxy, key: str) -> None:
    path = f"/docs/{key}"
    no_date = v2(proxy, "PUT", path, body=b"x", tamper={"Date": ""})
    refused(no_date, 403, "AccessDenied")
    garbage = v2(proxy, "PUT", path, body=b"x", date="yesterday at noon")
    refused(garbage, 403, "AccessDenied")
    for offset in (-16 * 60, 16 * 60):
        skewed = v2(proxy, "PUT", path, body=b"x", date=http_date(offset))
        refused(skewed, 403, "RequestTimeTooSkewed")
    assert not stored(proxy, "docs", key)
    assert v2(proxy, "PUT", path, body=b"x", date=http_date(-10 * 60)).status == 200


def test_x_amz_date_overrides_date(proxy: Proxy, key: str) -> None:
    """With x-amz-date the Date slot is empty and Date is not looked at (AWS's rule): a stale
    Date does not matter, a stale or unreadable x-amz-date does."""
    path = f"/docs/{key}"
    stale = http_date(-3600)
    ok = v2(proxy, "PUT", path, headers=[("x-amz-date", http_date())], body=b"x", date=stale)
    assert ok.status == 200, ok.body
    skewed = v2(proxy, "PUT", path + "2", headers=[("x-amz-date", stale)], body=b"x")
    refused(skewed, 403, "RequestTimeTooSkewed")
    unreadable = v2(proxy, "PUT", path + "3", headers=[("x-amz-date", "soon")], date=http_date())
    refused(unreadable, 403, "AccessDenied")
    # x-amz-date is an x-amz-* header, part of the string: changing it after signing breaks it.
    swapped = v2(
        proxy,
        "PUT",
        path + "4",
        headers=[("x-amz-date", http_date())],
        body=b"x",
        tamper={"x-amz-date": http_date(5)},
    )
    refused(swapped, 403, "SignatureDoesNotMatch")
    assert [stored(proxy, "docs", key + n) for n in ("2", "3", "4")] == [False] * 3


def test_signed_headers_changed_after_signing(proxy: Proxy, key: str) -> None:
    path = f"/docs/{key}"
    md5 = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    signed_md5 = [("Content-MD5", md5)]
    other_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    changed = v2(
        proxy, "PUT", path, headers=signed_md5, body=b"other", tamper={"Content-MD5": other_md5}
    )
    refused(changed, 403, "SignatureDoesNotMatch")
    wrong_body = v2(proxy, "PUT", path, headers=signed_md5, body=b"not the body")
    refused(wrong_body, 400, "BadDigest")
    typed = [("Content-Type", "text/plain")]
    retyped = v2(proxy, "PUT", path, headers=typed, body=b"x", tamper={"Content-Type": "text/html"})
    refused(retyped, 403, "SignatureDoesNotMatch")
    meta = v2(
        proxy, "PUT", path, headers=[("x-amz-meta-a", "1")], body=b"x", tamper={"x-amz-meta-a": "2"}
    )
    refused(meta, 403, "SignatureDoesNotMatch")
    added = v2(proxy, "PUT", path, body=b"x", tamper={"x-amz-meta-added": "1"})
    refused(added, 403, "SignatureDoesNotMatch")
    acl = v2(proxy, "PUT", path, body=b"x", tamper={"x-amz-acl": "public-read"})
    refused(acl, 403, "SignatureDoesNotMatch")
    assert not stored(proxy, "docs", key)
    assert v2(proxy, "PUT", path, headers=[*signed_md5, *typed], body=b"body").status == 200


def test_repeated_and_padded_amz_headers(proxy: Proxy, key: str) -> None:
    """Repeated x-amz-* names are one line of values joined by ','; whitespace around a value
    is not part of it. Signing only one of two sent values does not match."""
    path = f"/docs/{key}"
    twice = [("x-amz-meta-a", "one"), ("x-amz-meta-a", "two")]
    assert v2(proxy, "PUT", path, headers=twice, body=b"x").status == 200
    assert stored(proxy, "docs", key)
    padded = v2(proxy, "PUT", path + "p", headers=[("x-amz-meta-b", "  v  ")], body=b"x")
    assert padded.status == 200
    access, secret = proxy.keys("alice")
    date = http_date()
    text = string_to_sign("PUT", [("x-amz-meta-a", "one")], date, path + "1")
    one_signed = raw(
        proxy,
        "PUT",
        path + "1",
        [*twice, ("Date", date), ("Authorization", f"AWS {access}:{signature(secret, text)}")],
        b"x",
    )
    refused(one_signed, 403, "SignatureDoesNotMatch")
    assert not stored(proxy, "docs", key + "1")


def test_folded_amz_header_is_never_misread(proxy: Proxy, key: str) -> None:
    """An obsolete line fold (RFC 7230 obs-fold) inside a signed x-amz-* header: refused by
    the HTTP layer or unfolded to one space as AWS does; never stored with other metadata."""
    path = f"/docs/{key}"
    sent = [("x-amz-meta-f", "one two")]
    date = http_date()
    access, secret = proxy.keys("alice")
    text = string_to_sign("PUT", sent, date, path)
    auth = f"AWS {access}:{signature(secret, text)}"
    response = raw(
        proxy,
        "PUT",
        path,
        [("x-amz-meta-f", "one\r\n two"), ("Date", date), ("Authorization", auth)],
        b"x",
    )
    assert response.status in (200, 400), response.body
    assert b"Traceback" not in response.body
    if response.status == 200:
        head = proxy.client("alice").head_object(Bucket="docs", Key=key)
        assert head["Metadata"] == {"f": "one two"}
    else:
        assert not stored(proxy, "docs", key)


def test_content_sha256_is_honoured_under_v2(proxy: Proxy, key: str) -> None:
    """V2 signs no payload, but x-amz-content-sha256 is an x-amz-* header the client signed:
    a literal hash is checked (before: a wrong one was stored with 200), and aws-chunked
    framing, which the proxy decodes for SigV4 only, is refused (before: 200 with the
    framing stored as the object's bytes)."""
    path = f"/docs/{key}"
    body = b"hello"
    good = [("x-amz-content-sha256", hashlib.sha256(body).hexdigest())]
    assert v2(proxy, "PUT", path, headers=good, body=body).status == 200
    wrong = [("x-amz-content-sha256", hashlib.sha256(b"other").hexdigest())]
    refused(
        v2(proxy, "PUT", path + "w", headers=wrong, body=body), 400, "XAmzContentSHA256Mismatch"
    )
    garbage = [("x-amz-content-sha256", "not-a-hash")]
    refused(v2(proxy, "PUT", path + "g", headers=garbage, body=body), 400, "InvalidArgument")
    framed = b"5\r\nhello\r\n0\r\n\r\n"
    for mode in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"):
        chunked = [
            ("x-amz-content-sha256", mode),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
        ]
        refused(v2(proxy, "PUT", path + "c", headers=chunked, body=framed), 400, "InvalidArgument")
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket="docs", Key=key + "m")["UploadId"]
    try:
        part = v2(
            proxy, "PUT", path + "m", query=f"partNumber=1&uploadId={upload}", headers=wrong,
            body=body,
        )  # fmt: skip
        refused(part, 400, "XAmzContentSHA256Mismatch")
        assert s3.list_parts(Bucket="docs", Key=key + "m", UploadId=upload).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket="docs", Key=key + "m", UploadId=upload)
    assert s3.get_object(Bucket="docs", Key=key)["Body"].read() == body
    assert [stored(proxy, "docs", key + n) for n in ("w", "g", "c")] == [False] * 3


# -- sub-resources and the canonical resource --------------------------------------------------


def test_sub_resources_are_signed(proxy: Proxy, key: str) -> None:
    """A signature for the object does not serve its ?acl or ?tagging, and the reverse; a
    response-* override must be signed; a parameter that is no sub-resource is not signed."""
    path = f"/docs/{key}"
    assert v2(proxy, "PUT", path, body=b"secret").status == 200
    for query in ("acl", "tagging", "uploads", "versionId=null"):
        method = "POST" if query == "uploads" else "GET"
        moved = v2(proxy, method, path, query=query, signed_query="")
        refused(moved, 403, "SignatureDoesNotMatch")
    assert v2(proxy, "GET", path, query="acl").status == 200
    unsigned = v2(proxy, "GET", path, query="response-content-type=text%2Fhtml", signed_query="")
    refused(unsigned, 403, "SignatureDoesNotMatch")
    override = v2(
        proxy,
        "GET",
        path,
        query="response-content-type=text%2Fhtml",
        signed_query="response-content-type=text/html",
    )
    assert (override.status, override.header("Content-Type")) == (200, "text/html")
    other = v2(
        proxy,
        "GET",
        path,
        query="response-content-type=a%2Fb",
        signed_query="response-content-type=text/html",
    )
    refused(other, 403, "SignatureDoesNotMatch")
    extra = v2(proxy, "GET", path, query="x-id=GetObject", signed_query="")
    assert (extra.status, extra.body) == (200, b"secret")
    put_acl = v2(
        proxy,
        "PUT",
        path,
        query="acl",
        signed_query="",
        headers=[("x-amz-acl", "public-read")],
    )
    refused(put_acl, 403, "SignatureDoesNotMatch")
    grants = proxy.client("alice").get_object_acl(Bucket="docs", Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_part_number_and_upload_id_are_signed(proxy: Proxy, key: str) -> None:
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket="docs", Key=key)["UploadId"]
    try:
        path = f"/docs/{key}"
        signed = f"partNumber=1&uploadId={upload}"
        moved = v2(
            proxy,
            "PUT",
            path,
            query=f"partNumber=2&uploadId={upload}",
            signed_query=signed,
            body=b"part",
        )
        refused(moved, 403, "SignatureDoesNotMatch")
        assert s3.list_parts(Bucket="docs", Key=key, UploadId=upload).get("Parts", []) == []
        ok = v2(proxy, "PUT", path, query=signed, body=b"part")
        assert ok.status == 200
        parts = s3.list_parts(Bucket="docs", Key=key, UploadId=upload)["Parts"]
        assert [p["PartNumber"] for p in parts] == [1]
        abort = v2(proxy, "DELETE", path, query=f"uploadId={upload}", signed_query="")
        refused(abort, 403, "SignatureDoesNotMatch")
        assert s3.list_parts(Bucket="docs", Key=key, UploadId=upload)["Parts"]
    finally:
        s3.abort_multipart_upload(Bucket="docs", Key=key, UploadId=upload)


def test_a_signature_for_another_path_or_method(proxy: Proxy, key: str) -> None:
    path = f"/docs/{key}"
    other_key = v2(proxy, "PUT", path, resource=path + "x", body=b"x")
    refused(other_key, 403, "SignatureDoesNotMatch")
    other_bucket = v2(proxy, "PUT", path, resource=f"/shared/{key}", body=b"x")
    refused(other_bucket, 403, "SignatureDoesNotMatch")
    date = http_date()
    access, secret = proxy.keys("alice")
    text = string_to_sign("GET", [], date, path)
    as_delete = raw(
        proxy,
        "DELETE",
        path,
        [("Date", date), ("Authorization", f"AWS {access}:{signature(secret, text)}")],
    )
    refused(as_delete, 403, "SignatureDoesNotMatch")
    assert not stored(proxy, "docs", key)


# -- presigned V2 ---------------------------------------------------------------------------------


def test_presigned_v2_expires(proxy: Proxy, key: str) -> None:
    path = f"/docs/{key}"
    proxy.client("alice").put_object(Bucket="docs", Key=key, Body=b"shared")
    now = int(time.time())
    good = raw(proxy, "GET", presigned_v2(proxy, "GET", path, str(now + 300)), [])
    assert (good.status, good.body) == (200, b"shared")
    for expires in (str(now - 60), "abc", "-5", "1e12", "١٢٣", "9" * 40, str(now + 8 * 86400)):
        response = raw(proxy, "GET", presigned_v2(proxy, "GET", path, quote(expires)), [])
        refused(response, 403, "AccessDenied")
    put = raw(proxy, "PUT", presigned_v2(proxy, "PUT", path + "p", str(now - 1)), [], b"x")
    refused(put, 403, "AccessDenied")
    assert not stored(proxy, "docs", key + "p")


def test_presigned_v2_tampering(proxy: Proxy, key: str) -> None:
    path = f"/docs/{key}"
    expires = str(int(time.time()) + 300)
    url = presigned_v2(proxy, "PUT", path, expires)
    refused(raw(proxy, "PUT", url.replace(key, key + "x"), [], b"x"), 403, "SignatureDoesNotMatch")
    refused(raw(proxy, "POST", url + "&uploads", [], b""), 403, "SignatureDoesNotMatch")
    refused(raw(proxy, "PUT", url + "&tagging", [], b"<Tagging/>"), 403, "SignatureDoesNotMatch")
    refused(
        raw(proxy, "PUT", url, [("x-amz-copy-source", "/shared/anything")], b""),
        403,
        "SignatureDoesNotMatch",
    )
    refused(
        raw(proxy, "PUT", url, [("Content-Type", "text/html")], b"x"), 403, "SignatureDoesNotMatch"
    )
    later = url.replace(f"Expires={expires}", f"Expires={int(expires) + 100}")
    refused(raw(proxy, "PUT", later, [], b"x"), 403, "SignatureDoesNotMatch")
    missing = url.split("&Signature=")[0]
    refused(raw(proxy, "PUT", missing, [], b"x"), 403, "AccessDenied")
    both = raw(proxy, "PUT", url, [("Authorization", "AWS a:b"), ("Date", http_date())], b"x")
    refused(both, 400, "InvalidArgument")
    bobs = raw(
        proxy, "PUT", presigned_v2(proxy, "PUT", path, expires, keys=proxy.keys("bob")), [], b"x"
    )
    refused(bobs, 404, "NoSuchBucket")
    assert not stored(proxy, "docs", key) and not stored(proxy, "docs", key + "x")
    assert raw(proxy, "PUT", url, [], b"by url").status == 200


def test_authenticated_read_by_another_tenants_v2_signature(proxy: Proxy) -> None:
    """bob's V2 signature (header or presigned) reads alice's authenticated-read bucket; it
    writes, deletes and reads settings there as S3 refuses them in a bucket he may list (403
    AccessDenied; 404 NoSuchBucket before wave 13), and an anonymous request is refused."""
    s3 = proxy.client("alice")
    name = "v2-authr-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, ACL="authenticated-read")
    s3.put_object(Bucket=name, Key="k", Body=b"for signed readers")
    bob = proxy.keys("bob")
    try:
        got = v2(proxy, "GET", f"/{name}/k", keys=bob)
        assert (got.status, got.body) == (200, b"for signed readers")
        listed = v2(proxy, "GET", f"/{name}", keys=bob)
        assert listed.status == 200 and b"<Key>k</Key>" in listed.body
        url = presigned_v2(proxy, "GET", f"/{name}/k", str(int(time.time()) + 60), keys=bob)
        assert raw(proxy, "GET", url, []).body == b"for signed readers"
        for method, query, body in [
            ("PUT", "", b"x"),
            ("DELETE", "", b""),
            ("GET", "acl", b""),
            ("GET", "tagging", b""),
            ("PUT", "tagging", b"<Tagging><TagSet/></Tagging>"),
        ]:
            response = v2(proxy, method, f"/{name}/k", query=query, keys=bob, body=body)
            refused(response, 403, "AccessDenied")
        refused(raw(proxy, "GET", f"/{name}/k", []), 403, "AccessDenied")
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"for signed readers"
        assert s3.get_object_tagging(Bucket=name, Key="k")["TagSet"] == []
    finally:
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)


# -- a proxy of its own: virtual-hosted names and signature_v2 off --------------------------------

DOMAIN = "s3.v2.test"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Lane-independent (the verifier runs before any storage): one local-store proxy."""
    running = start_proxy(
        None, None, tmp_path_factory.mktemp("v2-hosted"), server={"virtual_host_domains": [DOMAIN]}
    )
    try:
        running.client("alice").create_bucket(Bucket="v2host")
        yield running
    finally:
        running.process.stop()


def test_virtual_hosted_requests_sign_the_bucket(hosted: Proxy) -> None:
    host = [("Host", f"v2host.{DOMAIN}")]
    ok = v2(hosted, "PUT", "/vk", headers=host, resource="/v2host/vk", body=b"x")
    assert ok.status == 200, ok.body
    without = v2(hosted, "PUT", "/vk2", headers=host, body=b"x")
    refused(without, 403, "SignatureDoesNotMatch")
    other = v2(hosted, "PUT", "/vk2", headers=host, resource="/docs/vk2", body=b"x")
    refused(other, 403, "SignatureDoesNotMatch")
    assert not stored(hosted, "v2host", "vk2")


def test_signature_v2_off_is_aws_v4_only_answer(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A region that takes SigV4 only answers V2 with 400 InvalidRequest "The authorization
    mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256." (what s3cmd
    and the SDKs print against eu-central-1), header or query form."""
    strict = start_proxy(
        None, None, tmp_path_factory.mktemp("v2-off"), server={"signature_v2": False}
    )
    try:
        strict.client("alice").create_bucket(Bucket="v4only")
        header = v2(strict, "PUT", "/v4only/k", body=b"x")
        refused(header, 400, "InvalidRequest")
        assert b"AWS4-HMAC-SHA256" in header.body
        url = presigned_v2(strict, "PUT", "/v4only/k", str(int(time.time()) + 60))
        refused(raw(strict, "PUT", url, [], b"x"), 400, "InvalidRequest")
        assert not stored(strict, "v4only", "k")
        strict.client("alice").delete_bucket(Bucket="v4only")
    finally:
        strict.process.stop()


# -- anonymous ----------------------------------------------------------------------------------


def anonymous(
    proxy: Proxy, method: str, target: str, body: bytes = b"", headers: Headers = ()
) -> RawResponse:
    return raw(proxy, method, target, list(headers), body)


EVERY_OPERATION: list[tuple[str, str, str, bytes, Headers]] = [
    ("GET", "k", "", b"", ()),
    ("GET", "", "", b"", ()),
    ("GET", "", "list-type=2", b"", ()),
    ("GET", "", "location", b"", ()),
    ("GET", "", "acl", b"", ()),
    ("GET", "", "cors", b"", ()),
    ("GET", "", "tagging", b"", ()),
    ("GET", "", "uploads", b"", ()),
    ("GET", "", "versions", b"", ()),
    ("GET", "k", "acl", b"", ()),
    ("GET", "k", "tagging", b"", ()),
    ("GET", "k", "attributes", b"", (("x-amz-object-attributes", "ETag"),)),
    ("PUT", "k", "", b"x", ()),
    ("PUT", "k", "", b"", (("x-amz-copy-source", "/docs/k"),)),
    ("PUT", "k", "tagging", b"<Tagging><TagSet/></Tagging>", ()),
    ("PUT", "k", "acl", b"", (("x-amz-acl", "public-read"),)),
    ("PUT", "", "acl", b"", (("x-amz-acl", "public-read-write"),)),
    ("PUT", "", "cors", b"<CORSConfiguration/>", ()),
    ("PUT", "", "tagging", b"<Tagging><TagSet/></Tagging>", ()),
    ("PUT", "", "", b"", ()),
    ("DELETE", "", "cors", b"", ()),
    ("DELETE", "", "tagging", b"", ()),
    ("DELETE", "", "", b"", ()),
    ("DELETE", "k", "", b"", ()),
    ("DELETE", "k", "tagging", b"", ()),
    ("POST", "", "delete", b"<Delete><Object><Key>k</Key></Object></Delete>", ()),
    ("POST", "k", "uploads", b"", ()),
    ("PUT", "k", "partNumber=1&uploadId=abc", b"x", ()),
    ("POST", "k", "uploadId=abc", b"<CompleteMultipartUpload/>", ()),
    ("DELETE", "k", "uploadId=abc", b"", ()),
    ("GET", "k", "uploadId=abc", b"", ()),
]


def _target(bucket: str, key: str, query: str) -> str:
    return f"/{bucket}/{key}" + (f"?{query}" if query else "")


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "anon2-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"private bytes")
    s3.put_object_tagging(Bucket=name, Key="k", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


def _untouched(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"private bytes"
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "t", "Value": "v"}]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    acl = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [g["Permission"] for g in acl] == ["FULL_CONTROL"]


def test_private_bucket_every_operation_is_access_denied(proxy: Proxy, bucket: str) -> None:
    """Every operation on a private bucket is 403 AccessDenied, with the same answer as for a
    bucket that does not exist (no existence oracle), and nothing changes."""
    missing = "anon2-missing-" + os.urandom(4).hex()
    for method, key, query, body, headers in EVERY_OPERATION:
        here = anonymous(proxy, method, _target(bucket, key, query), body, headers)
        there = anonymous(proxy, method, _target(missing, key, query), body, headers)
        assert here.status == there.status == 403, (method, key, query, here.body, there.body)
        if method != "HEAD":
            refused(here, 403, "AccessDenied")
            refused(there, 403, "AccessDenied")
    for target in (f"/{bucket}/k", f"/{bucket}", f"/{missing}/k", f"/{missing}"):
        head = anonymous(proxy, "HEAD", target)
        assert (head.status, head.body) == (403, b""), target
    _untouched(proxy, bucket)


UNSERVED_WRITES = {
    ("POST", "uploads"),
    ("PUT", "partNumber=1&uploadId=abc"),
    ("POST", "uploadId=abc"),
}
"""Anonymous in a public-read-write bucket: S3 carries them out, the gateway does not (501)."""


@pytest.mark.parametrize("acl", ["public-read", "public-read-write"])
def test_public_buckets_grant_reads_and_plain_puts_only(
    proxy: Proxy, bucket: str, acl: str
) -> None:
    """public-read: GET/HEAD object and the listings (ListObjectVersions and
    ListMultipartUploads too, as S3's READ grant gives them); public-read-write adds a plain
    PutObject, DeleteObject and DeleteObjects (S3's WRITE grant; 403 before wave 13 C2 and
    wave 14 C; a DeleteObjects in public-read is 200 naming AccessDenied per key, its body
    checked first) and nothing else (no
    copy out of a private bucket, no tagging, ACL, CORS, bucket delete); multipart uploads
    there, which S3's WRITE grant allows everyone too, are 501 NotImplemented (403 before wave
    13)."""
    s3 = proxy.client("alice")
    s3.put_bucket_acl(Bucket=bucket, ACL=acl)
    got = anonymous(proxy, "GET", f"/{bucket}/k")
    assert (got.status, got.body) == (200, b"private bytes")
    reads = {("GET", "k", ""), ("GET", "", ""), ("GET", "", "list-type=2"), ("GET", "", "versions")}
    reads.add(("GET", "", "uploads"))
    if acl == "public-read-write":
        reads.add(("PUT", "k", ""))
        reads.add(("DELETE", "k", ""))  # s3:DeleteObject, carried out below (wave 13 C2)
    for method, key, query, body, headers in EVERY_OPERATION:
        if (method, key, query) in reads and not headers:
            continue
        target = _target(bucket, key, query)
        expected = (403, "AccessDenied")
        if acl == "public-read-write" and (method, query) in UNSERVED_WRITES:
            expected = (501, "NotImplemented")
        if (method, query) == ("POST", "delete"):  # judged key by key (wave 14 C), body first
            expected = (400, "InvalidRequest")  # no Content-MD5 here
        refused(anonymous(proxy, method, target, body, headers), *expected)
    # A copy whose source is another (private) bucket of the same tenant: never served.
    copy = anonymous(
        proxy, "PUT", f"/{bucket}/stolen", headers=[("x-amz-copy-source", "/docs/anything")]
    )
    refused(copy, 403, "AccessDenied")
    # An ACL's WRITE is s3:PutObject only: setting the new object's ACL or tags as well needs
    # s3:PutObjectAcl / s3:PutObjectTagging, which no ACL grants to everyone. (Without this an
    # anonymous public-read object stayed public after the owner made the bucket private.)
    for name, value in [
        ("x-amz-acl", "public-read"),
        ("x-amz-acl", "private"),
        ("x-amz-grant-read", 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
        ("x-amz-tagging", "a=b"),
    ]:
        setting = anonymous(proxy, "PUT", f"/{bucket}/set", b"x", [(name, value)])
        refused(setting, 403, "AccessDenied")
    if acl == "public-read-write":
        plain = anonymous(proxy, "PUT", f"/{bucket}/plain", b"x")
        assert plain.status == 200
        assert anonymous(proxy, "DELETE", f"/{bucket}/plain").status == 204
        assert not stored(proxy, bucket, "plain")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert not stored(proxy, bucket, "set")
    _untouched(proxy, bucket)


def test_broken_presigned_looking_queries_are_not_anonymous(proxy: Proxy, bucket: str) -> None:
    """Credentials in any form must verify: a public bucket is not served to a query that looks
    presigned but is broken."""
    proxy.client("alice").put_bucket_acl(Bucket=bucket, ACL="public-read")
    for query, status, code in [
        ("Signature=abc", 403, "AccessDenied"),
        ("AWSAccessKeyId=" + proxy.keys("alice")[0], 403, "AccessDenied"),
        ("AWSAccessKeyId=x&Signature=y&Expires=abc", 403, "AccessDenied"),
        ("AWSAccessKeyId=x&Signature=y&Expires=9999999999", 403, "AccessDenied"),
        ("AWSAccessKeyId=&Signature=&Expires=", 403, "AccessDenied"),
        ("X-Amz-Signature=00", 400, "AuthorizationQueryParametersError"),
        (
            "X-Amz-Credential=x&X-Amz-Algorithm=AWS4-HMAC-SHA256",
            400,
            "AuthorizationQueryParametersError",
        ),
    ]:
        response = anonymous(proxy, "GET", f"/{bucket}/k?{query}")
        assert response.body != b"private bytes", query
        refused(response, status, code)
    empty_auth = anonymous(proxy, "GET", f"/{bucket}/k", headers=[("Authorization", "")])
    refused(empty_auth, 403, "AccessDenied")


def test_anonymous_preflight(proxy: Proxy, bucket: str) -> None:
    """OPTIONS needs no signature but only ever answers from the bucket's own CORS rules: none
    set → 403, and a bucket that does not exist answers the same."""
    preflight = [("Origin", "https://a.example"), ("Access-Control-Request-Method", "PUT")]
    none = anonymous(proxy, "OPTIONS", f"/{bucket}/k", headers=preflight)
    missing = anonymous(proxy, "OPTIONS", f"/anon2-nope-{os.urandom(3).hex()}/k", headers=preflight)
    assert none.status == missing.status == 403
    assert none.error_code == missing.error_code
    s3 = proxy.client("alice")
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://a.example"], "AllowedMethods": ["GET"]}]
        },
    )
    try:
        refused(
            anonymous(proxy, "OPTIONS", f"/{bucket}/k", headers=preflight), 403, none.error_code
        )
        allowed = anonymous(
            proxy,
            "OPTIONS",
            f"/{bucket}/k",
            headers=[("Origin", "https://a.example"), ("Access-Control-Request-Method", "GET")],
        )
        assert allowed.status == 200
        assert allowed.header("Access-Control-Allow-Origin") == "https://a.example"
        # The preflight granted nothing: the GET itself is still anonymous and denied.
        get = anonymous(proxy, "GET", f"/{bucket}/k", headers=[("Origin", "https://a.example")])
        refused(get, 403, "AccessDenied")
    finally:
        s3.delete_bucket_cors(Bucket=bucket)
    _untouched(proxy, bucket)
