"""Canned ACLs: what the gateway carries out, how grants and AccessControlPolicy bodies map onto
them, and the ``AccessControlPolicy`` documents Get(Bucket|Object)Acl answer.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl. Every bucket
and object here belongs to its tenant (one owner), so an ACL can only say one of a few things:

- ``private`` (and ``bucket-owner-read`` / ``bucket-owner-full-control``, which name the same
  single owner): only the tenant. Accepted everywhere; nothing needs storing.
- ``public-read`` / ``public-read-write`` on a *bucket*: kept in the bucket's settings record
  (:mod:`s3proxy.backends.bucket_settings`, member ``acl``) and acted on by
  :mod:`s3proxy.anonymous`. ``public-read`` on an *object* (PutObject, CopyObject,
  PutObjectAcl, CreateMultipartUpload — written at Complete): a record bound to that object
  (:mod:`s3proxy.object_acl`). Elsewhere (an object's ``public-read-write``) they are refused
  (501): accepting one would answer 200 for a grant nobody carries out.
- ``authenticated-read`` (on AWS: any signed AWS account; here: any of this gateway's tenants)
  on a bucket or an object: kept where ``public-read`` is, and acted on by
  :mod:`s3proxy.granted_reads` (reads signed by another tenant's key). Anonymous requests never
  get what it grants (:mod:`s3proxy.anonymous` serves ``PUBLIC`` only).
- ``aws-exec-read``, ``log-delivery-write``: 501, nothing here carries them out.

``x-amz-grant-*`` headers and ``AccessControlPolicy`` bodies are accepted when their grants are
exactly those of one of the canned ACLs above (the owner's FULL_CONTROL, plus AllUsers READ
[and WRITE], or AuthenticatedUsers READ); any other grantee or combination is 501, never
approximated. The operator's kill switch ``server.allow_public_acls: false`` turns every public
ACL into 403 AccessDenied
(``authenticated-read`` included: AWS counts AuthenticatedUsers grants as public, as its Block
Public Access does).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import escape

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.owner import OWNER_ID_RE, Owner
from s3proxy.request import S3Request
from s3proxy.xmlcodec import MAX_MARKUP, children_named, document, local_name
from s3proxy.xmlcodec import _parse as parse_xml  # the one defusedxml entry point

CANNED = frozenset(
    {
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
        "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
    }
)  # fmt: skip
PRIVATE_LIKE = frozenset({"private", "bucket-owner-read", "bucket-owner-full-control"})
"""One owner here: these all mean "only the tenant"."""
PUBLIC = frozenset({"public-read", "public-read-write"})
"""What grants anonymous requests (s3proxy.anonymous) on a bucket."""
AUTHENTICATED_READ = "authenticated-read"
GRANTING = PUBLIC | {AUTHENTICATED_READ}
"""The ACLs that grant someone besides the owner: the values a bucket's record may hold, all
the kill switch turns off, and what grants reads signed by another tenant's key
(s3proxy.granted_reads: AllUsers includes every signed caller, as on AWS)."""
OBJECT_ACLS = frozenset({"public-read", AUTHENTICATED_READ})
"""What an object's record (s3proxy.object_acl) may hold."""
READ, WRITE, FULL_CONTROL = "READ", "WRITE", "FULL_CONTROL"
PERMISSIONS = frozenset({READ, WRITE, "READ_ACP", "WRITE_ACP", FULL_CONTROL})
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
GROUPS = frozenset(
    {ALL_USERS, AUTHENTICATED_USERS, "http://acs.amazonaws.com/groups/s3/LogDelivery"}
)
"""S3's predefined groups: any other group URI names nothing."""
GRANT_HEADERS = {
    "x-amz-grant-read": READ,
    "x-amz-grant-write": WRITE,
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": FULL_CONTROL,
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRANTEE_RE = re.compile(
    r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^",\s]+))\s*(?:,|$)', re.IGNORECASE
)
"""One grantee of an x-amz-grant-* header: AWS's examples quote the value, aws-cli's
(``--grant-read uri=http://…/AllUsers``, ``emailaddress=…``) do not; both are S3's."""
_KINDS = {"id": "id", "uri": "uri", "emailaddress": "emailAddress"}

Grant = tuple[str, str, str]
"""(grantee kind "id"/"uri"/"emailAddress", grantee value, permission)."""


def _owner_grants(owner: Owner, acl: str) -> frozenset[Grant]:
    grants = {("id", owner.id, FULL_CONTROL)}
    if acl in ("public-read", "public-read-write"):
        grants.add(("uri", ALL_USERS, READ))
    if acl == "public-read-write":
        grants.add(("uri", ALL_USERS, WRITE))
    if acl == "authenticated-read":
        grants.add(("uri", AUTHENTICATED_USERS, READ))
    return frozenset(grants)


def _check_grantee(kind: str, value: str) -> None:
    """S3's 400 InvalidArgument for a grantee that names no one: "Invalid id" for an id no
    account here has, "Invalid group uri" for a URI that is no S3 group. Every account here is a
    tenant with a 12-digit owner id, so any other id names no one (an AWS canonical id too);
    a 12-digit id that is not the owner's stays 501 whether or not a tenant has it, so the
    answer never tells who exists."""
    if kind == "id" and not OWNER_ID_RE.fullmatch(value):
        raise S3Error(
            S3ErrorCode.InvalidArgument, "Invalid id", ArgumentName="id", ArgumentValue=value
        )
    if kind == "uri" and value not in GROUPS:
        raise S3Error(
            S3ErrorCode.InvalidArgument,
            "Invalid group uri",
            ArgumentName="uri",
            ArgumentValue=value,
        )


def _canned_for(owner: Owner, grants: Iterable[Grant]) -> str:
    """The canned ACL whose grants are exactly ``grants``; 501 when none is. An e-mail grantee
    is AWS's 405 MethodNotAllowed: S3 ended e-mail grantee ACLs on 2025-10-01 (a request naming
    one is refused there, in the regions that took them; none other ever did), so that is S3's
    answer whoever the address is."""
    wanted = frozenset(grants)
    if any(kind == "emailAddress" for kind, _, _ in wanted):
        raise S3Error(S3ErrorCode.MethodNotAllowed)
    for kind, value, _ in sorted(wanted):
        _check_grantee(kind, value)
    for acl in ("private", "public-read", "public-read-write", "authenticated-read"):
        if wanted == _owner_grants(owner, acl):
            return acl
    raise S3Error(
        S3ErrorCode.NotImplemented,
        "Only grants that say what a canned ACL says (the owner's FULL_CONTROL, plus AllUsers "
        "READ or READ and WRITE, or AuthenticatedUsers READ) are implemented.",
    )


def _claimed(request: S3Request, name: str) -> str | None:
    """A header's value, or its form hoisted into a presigned URL's query (the header policy
    lets both through, so both must be acted on)."""
    value = request.header(name)
    if value is not None or not request.query:
        return value
    return next((v for key, v in request.query.items() if key.lower() == name), None)


def claimed(request: S3Request, name: str) -> str | None:
    """A header's value or its hoisted query form, as :func:`requested` reads them."""
    return _claimed(request, name)


def _header_grants(request: S3Request) -> list[Grant]:
    grants: list[Grant] = []
    for name, permission in GRANT_HEADERS.items():
        value = _claimed(request, name)
        if value is None:
            continue
        position, text = 0, value.strip()
        while position < len(text):
            match = _GRANTEE_RE.match(text, position)
            if match is None or match.end() == position:
                raise S3Error(S3ErrorCode.InvalidArgument, ArgumentName=name, ArgumentValue=value)
            kind, quoted, bare = match.groups()
            grants.append((_KINDS[kind.lower()], bare if quoted is None else quoted, permission))
            position = match.end()
    return grants


def requested(request: S3Request, owner: Owner) -> str | None:
    """The canned ACL a request's ``x-amz-acl`` or ``x-amz-grant-*`` headers ask for (None:
    neither is sent). Validity only: what may be applied where is :func:`check`'s."""
    canned = _claimed(request, "x-amz-acl")
    grants = _header_grants(request)
    if canned is not None and grants:
        raise S3Error(
            S3ErrorCode.InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )
    if canned is not None:
        canned = canned.strip()
        if canned not in CANNED:
            raise S3Error(
                S3ErrorCode.InvalidArgument, ArgumentName="x-amz-acl", ArgumentValue=canned
            )
        return canned
    return _canned_for(owner, grants) if grants else None


def check(acl: str, *, bucket: bool, allow_public: bool) -> str | None:
    """What to store for ``acl`` on a bucket (or an object): None for private, else the public
    canned ACL; refuses what is not carried out (501) and public ACLs the operator switched
    off (403)."""
    if acl in PRIVATE_LIKE:
        return None
    if acl in GRANTING:
        if not allow_public:
            raise S3Error(S3ErrorCode.AccessDenied, "Public ACLs are turned off on this server.")
        if bucket or acl in OBJECT_ACLS:
            return acl
        raise S3Error(
            S3ErrorCode.NotImplemented,
            f"The canned ACL {acl} is not implemented on objects.",
            Header="x-amz-acl",
        )
    raise S3Error(
        S3ErrorCode.NotImplemented, f"The canned ACL {acl} is not implemented.", Header="x-amz-acl"
    )


def _value(element: ET.Element) -> str:
    """An ID, URI or Permission's text; an element inside it fails S3's schema (``.text``
    would be only what comes before it: s3proxy.xmlcodec.text_of)."""
    if len(element):
        raise S3Error(S3ErrorCode.MalformedACLError)
    return (element.text or "").strip()


def parse_policy(body: bytes, owner: Owner) -> str:
    """The canned ACL an ``AccessControlPolicy`` body says; 501 for other grants."""
    if body.count(b"<") > MAX_MARKUP:  # no ACL holds that much markup: refused unparsed
        raise S3Error(S3ErrorCode.MalformedACLError)
    root = parse_xml(body)
    if local_name(root.tag) != "AccessControlPolicy":
        raise S3Error(S3ErrorCode.MalformedACLError)
    owners = children_named(root, "Owner")
    lists = children_named(root, "AccessControlList")
    if len(owners) != 1 or len(lists) != 1:
        raise S3Error(S3ErrorCode.MalformedACLError)
    owner_ids = children_named(owners[0], "ID")
    if len(owner_ids) != 1:
        raise S3Error(S3ErrorCode.MalformedACLError)
    if _value(owner_ids[0]) != owner.id:
        raise S3Error(S3ErrorCode.AccessDenied, "The owner of a bucket or object cannot change.")
    grants: list[Grant] = []
    for element in lists[0]:
        grantees = children_named(element, "Grantee")
        permissions = children_named(element, "Permission")
        if local_name(element.tag) != "Grant" or len(grantees) != 1 or len(permissions) != 1:
            raise S3Error(S3ErrorCode.MalformedACLError)
        permission = _value(permissions[0])
        if permission not in PERMISSIONS:
            raise S3Error(S3ErrorCode.MalformedACLError)
        grantee = grantees[0]
        kinds = [
            (kind, children_named(grantee, tag))
            for kind, tag in (("id", "ID"), ("uri", "URI"), ("emailAddress", "EmailAddress"))
        ]
        present = [(kind, found) for kind, found in kinds if found]
        if len(present) != 1 or len(present[0][1]) != 1:
            raise S3Error(S3ErrorCode.MalformedACLError)
        kind, found = present[0]
        grants.append((kind, _value(found[0]), permission))
    return _canned_for(owner, grants)


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def policy_xml(owner: Owner, acl: str | None) -> bytes:
    """The ``AccessControlPolicy`` of a canned ACL (None: private), as S3 renders it."""
    person = _element("ID", owner.id) + _element("DisplayName", owner.display_name)
    grants = [
        f'<Grant><Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">{person}</Grantee>'
        f"<Permission>{FULL_CONTROL}</Permission></Grant>"
    ]
    granted = _owner_grants(owner, acl or "private")
    for group, permission in ((ALL_USERS, READ), (ALL_USERS, WRITE), (AUTHENTICATED_USERS, READ)):
        if ("uri", group, permission) in granted:
            grants.append(
                f'<Grant><Grantee xmlns:xsi="{XSI}" xsi:type="Group">'
                f"{_element('URI', group)}</Grantee>"
                f"<Permission>{permission}</Permission></Grant>"
            )
    return document(
        "AccessControlPolicy",
        [f"<Owner>{person}</Owner>", f"<AccessControlList>{''.join(grants)}</AccessControlList>"],
    )
