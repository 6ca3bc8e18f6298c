"""What the wave 13 fuzz (tests/unit/test_w13h_fuzz.py) draws requests from: bucket and key
shapes, every sub-resource and parameter, ``x-amz-*`` and standard headers with valid and
invalid values, XML bodies valid and broken; mostly a served operation (one routing rule) with
a few odd headers, sometimes any method on any target."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import strategies as st

from s3proxy.operations import RULES, SUBRESOURCES, Target
from tests.support.fuzz_requests import MINE, MUTATIONS, SCOPED, STREAMING, THEIRS, Req, md5_of

# --- strategies -------------------------------------------------------------------------------

BUCKETS = ["docs", "docs", "docs", "docs", "docs", "nosuch", "theirs", "pub", "Bad_Name", "ab",
           "x" * 64, "192.168.1.1", "new-bucket", "docs."]  # fmt: skip
KEYS = ["k", "k", "a/x", "w/x", "a/new", "new", "a/../b", "//x", "sp ace", "ü", "%", "a+b", "",
        "k" * 1025, "t\x01ab", "dir/", ".", "..", "a\rb"]  # fmt: skip
DATES = ["Mon, 01 Jan 2001 00:00:00 GMT", "Wed, 01 Jan 2celebrate", "", "2030-01-01T00:00:00Z",
         "Fri, 31 Dec 9999 23:59:59 GMT", "0", "-1"]  # fmt: skip
ETAGS = ['"x"', "*", '"d41d8cd98f00b204e9800998ecf8427e"', "", 'W/"x"', '"a", "b"']
NUMBERS = ["0", "1", "-1", "2", "10000", "10001", "1000", "99999999999999999999", "abc", "",
           "1.5", " 3"]  # fmt: skip

HEADER_VALUES: dict[str, list[str]] = {
    "x-amz-acl": ["private", "public-read", "public-read-write", "authenticated-read",
                  "bucket-owner-full-control", "log-delivery-write", "bogus", ""],
    "x-amz-grant-read": ['id="abc"', 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
                         "emailAddress=a@b.c", "garbage", ""],
    "x-amz-grant-full-control": ['id="abc"', "garbage"],
    "x-amz-grant-write": ['uri="http://acs.amazonaws.com/groups/global/AllUsers"'],
    "x-amz-grant-bogus": ['id="abc"'],
    "x-amz-storage-class": ["STANDARD", "GLACIER", "REDUCED_REDUNDANCY", "bogus", "", "standard",
                            "EXPRESS_ONEZONE", "INTELLIGENT_TIERING"],
    "x-amz-tagging": ["a=b", "a=b&c=d", "a", "=b", "a=b&a=c", "%zz", "k" * 200 + "=v", "",
                      "a=b c", "k=é"],
    "x-amz-tagging-directive": ["COPY", "REPLACE", "bogus", ""],
    "x-amz-metadata-directive": ["COPY", "REPLACE", "bogus", "copy", ""],
    "x-amz-copy-source": ["docs/k", "/docs/k", "docs/a/x", "docs/w/x", "docs/nosuch", "nosuch/k",
                          "theirs/s", "pub/p",
                          "docs/k?versionId=null", "docs/k?versionId=zz", "docs", "", "%",
                          "docs/%zz", "/docs/k?partNumber=1", "docs//k", "docs/k?x=1",
                          "docs/sp ace", "docs/ü"],
    "x-amz-copy-source-range": ["bytes=0-0", "bytes=0-100", "bytes=5-1", "bytes=-1", "0-1",
                                "bytes=0-", ""],
    "x-amz-copy-source-if-match": ETAGS,
    "x-amz-copy-source-if-none-match": ETAGS,
    "x-amz-copy-source-if-modified-since": DATES,
    "x-amz-copy-source-if-unmodified-since": DATES,
    "x-amz-meta-a": ["v", "", "ü", "x" * 3000, "café au lait", "中文", "=?UTF-8?B?w6k=?=",
                     "a  b", "tab\tin", "é" * 600],
    "x-amz-meta-b": ["y" * 1500],
    "x-amz-meta-": ["v"],
    "x-amz-meta-under_score": ["v"],
    "x-amz-server-side-encryption": ["AES256", "aws:kms", "aws:kms:dsse", "bogus", ""],
    "x-amz-server-side-encryption-aws-kms-key-id": ["k1"],
    "x-amz-server-side-encryption-customer-algorithm": ["AES256", "bogus"],
    "x-amz-server-side-encryption-customer-key": [base64.b64encode(b"k" * 32).decode(), "zz"],
    "x-amz-server-side-encryption-customer-key-md5": [md5_of(b"k" * 32), "zz"],
    "x-amz-checksum-crc32": ["AAAAAA==", "bogus", ""],
    "x-amz-checksum-sha256": [base64.b64encode(hashlib.sha256(b"").digest()).decode(), "x"],
    "x-amz-checksum-crc64nvme": ["AAAAAAAAAAA=", "zz"],
    "x-amz-checksum-sha512": ["zz"],
    "x-amz-checksum-algorithm": ["CRC32", "SHA256", "crc32", "MD5", "bogus", ""],
    "x-amz-checksum-type": ["COMPOSITE", "FULL_OBJECT", "bogus", ""],
    "x-amz-checksum-mode": ["ENABLED", "bogus", ""],
    "x-amz-sdk-checksum-algorithm": ["CRC32", "bogus"],
    "x-amz-trailer": ["x-amz-checksum-crc32", "bogus", ""],
    "x-amz-decoded-content-length": NUMBERS,
    "x-amz-mp-object-size": NUMBERS,
    "x-amz-object-attributes": ["ETag", "ObjectSize,Checksum", "bogus", "", "ObjectParts"],
    "x-amz-max-parts": NUMBERS,
    "x-amz-part-number-marker": NUMBERS,
    "x-amz-object-ownership": ["BucketOwnerEnforced", "ObjectWriter", "bogus"],
    "x-amz-bucket-object-lock-enabled": ["true", "false", "bogus"],
    "x-amz-object-lock-mode": ["GOVERNANCE", "bogus"],
    "x-amz-object-lock-retain-until-date": ["2030-01-01T00:00:00Z"],
    "x-amz-object-lock-legal-hold": ["ON"],
    "x-amz-bypass-governance-retention": ["true"],
    "x-amz-expected-bucket-owner": ["123456789012", "bogus", ""],
    "x-amz-source-expected-bucket-owner": ["123456789012", "bogus"],
    "x-amz-request-payer": ["requester"],
    "x-amz-security-token": ["tok"],
    "x-amz-website-redirect-location": ["/x"],
    "x-amz-mfa": ["a b"],
    "x-amz-write-offset-bytes": ["0"],
    "x-amz-if-match-size": ["1"],
    "x-amz-bucket-namespace": ["x"],
    "x-amz-fuzz-unknown": ["1"],
    "x-amz-zz": [""],
    "content-md5": ["", "bogus", md5_of(b"other"), "1B2M2Y8AsgTpgAmY7PhCfg=="],
    "content-type": ["text/plain", "application/xml", "multipart/form-data; boundary=x", ""],
    "content-encoding": ["gzip", "aws-chunked", "aws-chunked,gzip", ""],
    "content-disposition": ["attachment", 'attachment; filename="é 中.txt"', "a  b"],
    "content-language": ["en"],
    "cache-control": ["no-cache", "max-age=1,  public", "\u00a0x"],
    "expires": DATES,
    "if-match": ETAGS,
    "if-none-match": ETAGS,
    "if-modified-since": DATES,
    "if-unmodified-since": DATES,
    "range": ["bytes=0-0", "bytes=0-", "bytes=-1", "bytes=5-1", "bytes=0-0,2-3", "bytes=99-",
              "items=0-1", "bytes=", "bytes=-0", ""],
    "expect": ["100-continue"],
    "origin": ["http://example.com"],
    "transfer-encoding": ["chunked"],
    "x-amz-content-sha256": ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "zz"],
}  # fmt: skip
HEADER_NAMES = sorted(HEADER_VALUES)

PARAM_VALUES: dict[str, list[str]] = {
    "uploadId": ["bogus", "", "UPLOAD"],
    "partNumber": NUMBERS,
    "versionId": ["null", "bogus", "", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"],
    "list-type": ["2", "1", "3", "", "x"],
    "max-keys": NUMBERS,
    "max-uploads": NUMBERS,
    "max-parts": NUMBERS,
    "max-buckets": NUMBERS,
    "prefix": ["", "k", "a/", "%", "a/b", "w/"],
    "delimiter": ["/", "", "ab", "\x01"],
    "encoding-type": ["url", "bogus", "", "URL"],
    "marker": ["k", "", "\uffff"],
    "start-after": ["k", ""],
    "continuation-token": ["bogus", "", "AAAA"],
    "fetch-owner": ["true", "false", "bogus"],
    "key-marker": ["k", ""],
    "upload-id-marker": ["bogus", ""],
    "version-id-marker": ["bogus", "null", ""],
    "part-number-marker": NUMBERS,
    "response-content-type": ["text/plain", ""],
    "response-expires": DATES,
    "response-cache-control": ["no-cache"],
    "x-id": ["GetObject", "bogus"],
    "bucket-region": ["us-east-1"],
    "x-amz-acl": ["public-read", "private"],
    "x-amz-meta-a": ["v"],
    "x-amz-storage-class": ["GLACIER"],
    "x-amz-fuzz": ["1"],
    "X-Amz-Algorithm": ["AWS4-HMAC-SHA256"],
    "AWSAccessKeyId": [MINE[0]],
    "Signature": ["zz"],
    "Expires": ["1"],
    "fooBar": [""],
    "id": ["x"],
    "select-type": ["2"],
}
SUBRESOURCE_VALUES = ["", "", "x", "1"]
PARAM_NAMES = sorted(PARAM_VALUES)

XML_BODIES = [
    b"",
    b"<",
    b"not xml",
    b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag><Tag><Key>a</Key><Value>c</Value>"
    b"</Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Tag><Key></Key><Value>b</Value></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet>"
    + b"".join(b"<Tag><Key>k%d</Key><Value>v</Value></Tag>" % n for n in range(11))
    + b"</TagSet></Tagging>",
    b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*"
    b"</AllowedOrigin></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedMethod>BREW</AllowedMethod></CORSRule>"
    b"</CORSConfiguration>",
    b"<CORSConfiguration></CORSConfiguration>",
    b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><Status>Bogus</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>",
    b"<Delete><Object><Key>k</Key></Object></Delete>",
    b"<Delete><Quiet>true</Quiet><Object><Key>new</Key></Object></Delete>",
    b"<Delete><Object><Key>k</Key><VersionId>bogus</VersionId></Object></Delete>",
    b"<Delete></Delete>",
    b"<Delete>" + b"<Object><Key>x</Key></Object>" * 1001 + b"</Delete>",
    b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part>'
    b"</CompleteMultipartUpload>",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>x</ETag></Part><Part>"
    b"<PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
    b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
    b"</CreateBucketConfiguration>",
    b"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>"
    b"</CreateBucketConfiguration>",
    b"<CreateBucketConfiguration></CreateBucketConfiguration>",
    b"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant><Grantee "
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>'
    b"http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ"
    b"</Permission></Grant></AccessControlList></AccessControlPolicy>",
    b"<AccessControlPolicy></AccessControlPolicy>",
    b"<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>"
    b"</OwnershipControls>",
    b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
    b"</OwnershipControls>",
    b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    b"</ObjectLockConfiguration>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<Tagging><TagSet><Tag><Key>&b;</Key><Value>v</Value></Tag></TagSet></Tagging>",
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key>'
    b"</Object></Delete>",
    b"\xff\xfe<\x00",
    b"data",
    b"x" * 100,
]


BODIES_FOR: dict[str | None, list[bytes]] = {
    "tagging": [b for b in XML_BODIES if b.startswith(b"<Tagging") or b.startswith(b"<?xml")],
    "cors": [b for b in XML_BODIES if b.startswith(b"<CORS")],
    "versioning": [b for b in XML_BODIES if b.startswith(b"<Versioning")],
    "delete": [b for b in XML_BODIES if b.startswith(b"<Delete") or b.startswith(b"<!DOCTYPE")],
    "acl": [b for b in XML_BODIES if b.startswith(b"<AccessControl")],
    "ownershipControls": [b for b in XML_BODIES if b.startswith(b"<Ownership")],
    "object-lock": [b for b in XML_BODIES if b.startswith(b"<ObjectLock")],
    "uploadId": [b for b in XML_BODIES if b.startswith(b"<Complete")],
    None: [b"", b"data", b"x" * 100, b"0123456789"],
}
_TARGET_SHAPES = {Target.SERVICE: "service", Target.BUCKET: "bucket", Target.OBJECT: "object"}


@st.composite
def requests(draw: st.DrawFn) -> Req:
    """Mostly a served operation (one routing rule, its selectors and parameters) with a
    few odd headers and values; sometimes any method on any target with any query."""
    rule = draw(st.sampled_from(RULES))
    query: list[tuple[str, str]] = []
    if draw(st.integers(0, 5)) == 0:  # anything at all
        method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]))
        shape = draw(st.sampled_from(["service", "bucket", "object"]))
    else:
        method, shape = rule.method, _TARGET_SHAPES[rule.target]
        if rule.subresource is not None:
            query.append((rule.subresource, draw(st.sampled_from(["", "", "x"]))))
        for name in rule.required:
            query.append((name, draw(st.sampled_from(PARAM_VALUES[name]))))
        for name in (*rule.optional, *rule.parameters):
            if draw(st.integers(0, 3)) == 0:
                query.append((name, draw(st.sampled_from(PARAM_VALUES.get(name, ["", "x"])))))
    if draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from(sorted(SUBRESOURCES)))
        query.append((name, draw(st.sampled_from(SUBRESOURCE_VALUES))))
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(PARAM_NAMES))
        query.append((name, draw(st.sampled_from(PARAM_VALUES[name]))))
    bucket = None if shape == "service" else draw(st.sampled_from(BUCKETS))
    key = draw(st.sampled_from(KEYS)) if shape == "object" else None
    headers: dict[str, str] = {}
    if rule.header is not None and draw(st.integers(0, 5)) > 0:
        headers[rule.header] = draw(st.sampled_from(HEADER_VALUES[rule.header]))
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=3, unique=True)):
        headers[name] = draw(st.sampled_from(HEADER_VALUES[name]))
    body = b""
    if method in ("PUT", "POST"):
        kind = next((n for n, _ in query if n in BODIES_FOR), None)
        pool = BODIES_FOR.get(kind) or BODIES_FOR[None]
        body = draw(st.sampled_from(pool if draw(st.integers(0, 4)) else XML_BODIES))
    if body and "content-md5" not in headers and draw(st.integers(0, 3)) > 0:
        headers["content-md5"] = md5_of(body)
    signer = draw(st.sampled_from([MINE, MINE, MINE, MINE, MINE, SCOPED, SCOPED, THEIRS, None]))
    streaming = None
    if method == "PUT" and signer is not None and draw(st.integers(0, 5)) == 0:
        streaming = draw(st.sampled_from(sorted(STREAMING)))
        body = STREAMING[streaming]
        headers.pop("content-md5", None)
    mutation = draw(st.sampled_from(sorted(MUTATIONS))) if draw(st.integers(0, 7)) == 0 else None
    presigned = signer is not None and draw(st.integers(0, 7)) == 0
    if method == "PUT" and not key and not any(n in SUBRESOURCES for n, _ in query):
        signer = MINE  # a tenant may own a bucket of the same name as another (per-tenant
        bucket = "new-bucket" if bucket in ("theirs", "pub", "nosuch") else bucket  # names)
    v2 = signer is not None and streaming is None and draw(st.integers(0, 7)) == 0
    if streaming is not None:
        presigned = False
    return Req(
        method, bucket, key, query, headers, body, signer, mutation, presigned, v2, streaming
    )
