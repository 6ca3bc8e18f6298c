"""A value element holding an element is refused, never read as the text before it (wave 18, I).

ElementTree's ``.text`` is only the text before an element's first child, so
``<Key>a<x/>b</Key>`` was the key ``a``: DeleteObjects deleted ``a``, a tag, a part number or an
ETag was cut short, and the request answered 200. S3 validates bodies against its schema, where
these elements hold text only: MalformedXML (MalformedACLError for an ACL). Comments and CDATA
are text as XML defines them and stay accepted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from s3proxy import acl, tagging, xmlcodec
from s3proxy.app import Gateway, S3App
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.multipart_xml import parse_complete_request
from s3proxy.owner import Owner
from tests.support.fuzz_requests import Req, call, gateway_settings

OWNER = Owner("123456789012", "t")
GROUP = b"<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"


def _acl(owner: bytes = b"123456789012", uri: bytes = GROUP, permission: bytes = b"READ") -> bytes:
    return (
        b"<AccessControlPolicy><Owner><ID>" + owner + b"</ID></Owner><AccessControlList>"
        b"<Grant><Grantee><ID>123456789012</ID></Grantee><Permission>FULL_CONTROL</Permission>"
        b"</Grant><Grant><Grantee>" + uri + b"</Grantee>"
        b"<Permission>" + permission + b"</Permission></Grant>"
        b"</AccessControlList></AccessControlPolicy>"
    )


def _complete(number: bytes = b"1", etag: bytes = b'"e"', checksum: bytes = b"AAAAAA==") -> bytes:
    return (
        b"<CompleteMultipartUpload><Part><PartNumber>" + number + b"</PartNumber>"
        b"<ETag>" + etag + b"</ETag><ChecksumCRC32>" + checksum + b"</ChecksumCRC32>"
        b"</Part></CompleteMultipartUpload>"
    )


def _delete(key: bytes = b"a", version: bytes = b"v", etag: bytes = b"e") -> bytes:
    return (
        b"<Delete><Object><Key>" + key + b"</Key><VersionId>" + version + b"</VersionId><ETag>"
        + etag + b"</ETag></Object></Delete>"
    )  # fmt: skip


def _tags(key: bytes = b"k", value: bytes = b"v") -> bytes:
    return (
        b"<Tagging><TagSet><Tag><Key>" + key + b"</Key><Value>" + value + b"</Value></Tag>"
        b"</TagSet></Tagging>"
    )


PARSERS: dict[str, tuple[Callable[[bytes], object], S3ErrorCode]] = {
    "delete": (xmlcodec.parse_delete_entries, S3ErrorCode.MalformedXML),
    "tags": (tagging.parse_document, S3ErrorCode.MalformedXML),
    "complete": (parse_complete_request, S3ErrorCode.MalformedXML),
    "acl": (lambda body: acl.parse_policy(body, OWNER), S3ErrorCode.MalformedACLError),
}
NESTED = b"a<x/>b"
REFUSED = {
    "Delete Key": ("delete", _delete(key=NESTED)),
    "Delete VersionId": ("delete", _delete(version=NESTED)),
    "Delete ETag": ("delete", _delete(etag=NESTED)),
    "Tag Key": ("tags", _tags(key=NESTED)),
    "Tag Value": ("tags", _tags(value=NESTED)),
    "Complete PartNumber": ("complete", _complete(number=b"1<x/>2")),
    "Complete ETag": ("complete", _complete(etag=b'"e"<x/>')),
    "Complete checksum": ("complete", _complete(checksum=b"AAAAAA==<x/>")),
    "ACL Owner ID": ("acl", _acl(owner=b"123456789012<x/>")),
    "ACL URI": ("acl", _acl(uri=b"<URI>http://acs.amazonaws.com/groups/global/AllUsers<x/></URI>")),
    "ACL Permission": ("acl", _acl(permission=b"READ<x/>")),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_value_holding_an_element_is_refused(name: str) -> None:
    kind, body = REFUSED[name]
    parse, code = PARSERS[kind]
    with pytest.raises(S3Error) as raised:
        parse(body)
    assert raised.value.code is code


@pytest.mark.parametrize(
    ("kind", "body", "parsed"),
    [
        ("delete", _delete(key=b"a<!--c-->b"), (False, [("ab", "v")], ["e"])),
        ("delete", _delete(key=b"a<![CDATA[<]]>b"), (False, [("a<b", "v")], ["e"])),
        ("tags", _tags(value=b"v<!---->w"), (("k", "vw"),)),
        ("acl", _acl(), "public-read"),
    ],
)
def test_comments_and_cdata_are_text(kind: str, body: bytes, parsed: object) -> None:
    assert PARSERS[kind][0](body) == parsed


def test_delete_objects_never_deletes_the_text_before_an_element(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        gateway = Gateway(gateway_settings(tmp_path / "data"))
        app = S3App(gateway)
        try:
            await call(app, Req("PUT", "docs", None))
            await call(app, Req("PUT", "docs", "a", body=b"kept"))
            body = b"<Delete><Object><Key>a<x/>b</Key></Object></Delete>"
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            deleted = await call(
                app, Req("POST", "docs", None, [("delete", "")], {"Content-MD5": md5}, body=body)
            )
            return deleted.status, (await call(app, Req("HEAD", "docs", "a"))).status
        finally:
            await gateway.close()

    assert asyncio.run(run()) == (400, 200)
