"""The wave 14 I model-based fuzz (its multipart rules: tests/support/w14i_fuzz.py): a Hypothesis
state machine whose rules are S3 requests by two tenants (a whole key each, and a scoped key of
``a``'s) and anonymous callers over buckets of shared names, checked after every step against
:mod:`tests.support.w14i_model`.

Every answer must be one README allows (the model's bytes, keys, uploads, or S3's exact error
from the table with its status); a party never sees a byte, key, upload or bucket it is not
granted; every listing, as every party, equals the model's sorted keys (the listing rules:
tests/support/w14i_listings.py). A subclass names the transport
(:mod:`tests.support.w14i_transport`)."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, rule

from s3proxy.errors import S3ErrorCode
from tests.support.w14i_model import (
    ADMIN,
    DELETE,
    DELETE_MANY,
    DENIED,
    LIST,
    NAMES,
    OBJECT_ACL,
    OBJECT_GRANTING,
    OBJECT_PUBLIC,
    PARTIES,
    READ,
    SCOPED_BUCKET,
    WRITE,
    Bucket,
    Model,
    Obj,
    Outcome,
    Reach,
    Refused,
    Upload,
    access,
    tenant_of,
)
from tests.support.w14i_transport import HOME_BUCKET, HOME_PREFIX, Answer, Transport

KEYS = (
    "k", "p/x", "p/y/z", "p/ü é", "a+b", "d/", "d/e", "~t%41", "x y", "p/",
    "q/" + "L" * 300, "q/" + "L" * 253 + "~", "e\u0301", "\u00e9", "a//b", "x ", "../y", "./x",
)  # fmt: skip
BODIES = (b"", b"0", b"hello", b"hello!", bytes(range(256)))
OBJECT_ACLS = (None, "private", "public-read", "authenticated-read")
BUCKET_ACLS = (None, "private", "public-read", "public-read-write", "authenticated-read")
UPLOAD_PARTY = "upload-admin"  # ListParts, AbortMultipartUpload, UploadPart, Complete

parties = st.sampled_from(PARTIES)
signed = st.sampled_from(("a", "as", "b"))
names = st.sampled_from(NAMES)
keys = st.sampled_from(KEYS)
bodies = st.sampled_from(BODIES)


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def _texts(root: ET.Element, path: str) -> list[str]:
    return [e.text or "" for e in root.findall(path)]


def tag_set(root: ET.Element) -> dict[str, str]:
    """A ``<Tagging><TagSet>`` answer's tags."""
    return {
        t.findtext("{*}Key") or "": t.findtext("{*}Value") or ""
        for t in root.findall("{*}TagSet/{*}Tag")
    }


class Requests(RuleBasedStateMachine):
    """The rules on buckets and objects, and the checks every rule uses;
    :class:`tests.support.w14i_listings.Listings` adds the listing rules,
    :class:`tests.support.w14i_fuzz.Fuzz` the multipart rules, and a test's subclass sets
    :meth:`make_transport`."""

    def make_transport(self) -> Transport:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.transport = self.make_transport()
        self.gone: list[Upload] = []

    def teardown(self) -> None:
        self.transport.close()

    # --- sending and checking -----------------------------------------------------------------

    def send(self, party: str, method: str, name: str | None, key: str | None = None,
             query: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None,
             body: bytes = b"") -> Answer:  # fmt: skip
        answer = self.transport.send(party, method, name, key, query, headers, body)
        if currently_in_test_context():  # not in a replayed sequence
            event(f"{party} {method} {answer.status} {answer.code or ''}")
        assert answer.status < 500 or answer.status == 501, (method, name, key, query, answer)
        text = answer.body + repr(answer.headers).encode()
        for secret in (HOME_BUCKET.encode(), HOME_PREFIX.encode(), b"Traceback", b"w14istore"):
            assert secret not in text, (method, name, key, answer)
        if answer.status >= 300 and answer.body:
            code = answer.code
            assert code in S3ErrorCode.__members__, answer
            assert S3ErrorCode[code].status == answer.status, answer
        return answer

    def refused(self, answer: Answer, refusal: Refused, method: str) -> bool:
        if answer.status != refusal.status:
            return False
        return method == "HEAD" or answer.code == refusal.code

    def expect_refusal(self, answer: Answer, outcomes: list[Outcome], method: str) -> None:
        refusals = [o for o in outcomes if isinstance(o, Refused)]
        assert any(self.refused(answer, r, method) for r in refusals), (outcomes, answer)

    # --- buckets ------------------------------------------------------------------------------

    @rule(party=parties, name=names, acl=st.sampled_from(BUCKET_ACLS))
    def create_bucket(self, party: str, name: str, acl: str | None) -> None:
        headers = {"x-amz-acl": acl} if acl else {}
        answer = self.send(party, "PUT", name, headers=headers)
        tenant = tenant_of(party)
        if party in ("anon", "as"):
            assert self.refused(answer, DENIED, "PUT"), answer
            return
        assert tenant is not None
        assert answer.status == 200, answer  # us-east-1: re-creating one's own resets its ACL
        bucket = self.model.bucket(tenant, name)
        if bucket is None:
            bucket = self.model.buckets[(tenant, name)] = Bucket(tenant, name)
        bucket.set_acl(acl or "private", self.model.tick())

    @rule(party=parties, name=names)
    def delete_bucket(self, party: str, name: str) -> None:
        answer = self.send(party, "DELETE", name)
        outcomes = access(self.model, party, name, ADMIN) if party != "anon" else [DENIED]
        reach = outcomes[0]
        if not isinstance(reach, Reach) or not reach.own:
            self.expect_refusal(answer, [r for r in outcomes if isinstance(r, Refused)]
                                or [DENIED], "DELETE")  # fmt: skip
            return
        bucket = reach.bucket
        if bucket.objects:
            assert self.refused(answer, Refused(409, "BucketNotEmpty"), "DELETE"), answer
            return
        assert answer.status == 204, answer
        for upload in self.model.uploads_of(bucket):
            self.gone.append(self.model.uploads.pop(upload.upload_id))
        del self.model.buckets[(bucket.tenant, bucket.name)]

    @rule(party=parties, name=names, acl=st.sampled_from(BUCKET_ACLS[1:]))
    def put_bucket_acl(self, party: str, name: str, acl: str) -> None:
        answer = self.send(party, "PUT", name, query=[("acl", "")], headers={"x-amz-acl": acl})
        outcomes = access(self.model, party, name, ADMIN) if party != "anon" else [DENIED]
        reach = outcomes[0]
        if isinstance(reach, Reach) and reach.own:
            assert answer.status == 200, answer
            reach.bucket.set_acl(acl, self.model.tick())
        else:
            self.expect_refusal(answer, outcomes if isinstance(reach, Refused) else [DENIED],
                                "PUT")  # fmt: skip

    @rule(party=parties)
    def list_buckets(self, party: str) -> None:
        answer = self.send(party, "GET", None)
        if party == "anon":
            assert self.refused(answer, DENIED, "GET"), answer
            return
        tenant = tenant_of(party)
        wanted = sorted(n for (t, n) in self.model.buckets if t == tenant)
        if party == "as":
            wanted = [n for n in wanted if n == SCOPED_BUCKET]
        assert answer.status == 200, answer
        assert _texts(_xml(answer.body), "{*}Buckets/{*}Bucket/{*}Name") == wanted, answer

    @rule(party=parties, name=names)
    def head_bucket(self, party: str, name: str) -> None:
        answer = self.send(party, "HEAD", name)
        outcomes = access(self.model, party, name, LIST, "p/" if party == "as" else None)
        if party == "as":
            # HeadBucket needs any grant naming the bucket (README), no prefix.
            outcomes = access(self.model, "a", name, LIST) if name == SCOPED_BUCKET else [DENIED]
        self.check_reach(answer, outcomes, "HEAD", lambda reach: answer.status == 200)

    # --- objects ------------------------------------------------------------------------------

    @rule(party=parties, name=names, key=keys, body=bodies,
          acl=st.sampled_from((*OBJECT_ACLS, "public-read-write")))  # fmt: skip
    def put_object(self, party: str, name: str, key: str, body: bytes, acl: str | None) -> None:
        headers = {"x-amz-acl": acl} if acl else {}
        answer = self.send(party, "PUT", name, key, headers=headers, body=body)
        outcomes = access(self.model, party, name, WRITE, key)

        def done(reach: Reach) -> bool:
            if party == "anon" and acl:
                return self.refused(answer, DENIED, "PUT")
            if acl == "public-read-write":
                return self.refused(answer, Refused(501, "NotImplemented"), "PUT")
            if answer.status != 200:
                return False
            assert answer.headers.get("etag") == Obj(body).etag, answer
            self.store(reach.bucket, key, body, acl)
            return True

        self.check_reach(answer, outcomes, "PUT", done)

    def store(self, bucket: Bucket, key: str, body: bytes, acl: str | None,
              tags: dict[str, str] | None = None) -> None:  # fmt: skip
        granting = acl in OBJECT_GRANTING
        tick = self.model.tick() if granting else 0
        bucket.objects[key] = Obj(body, acl or "private", tick, tags=dict(tags or {}))

    @rule(party=parties, name=names, key=keys, head=st.booleans())
    def get_object(self, party: str, name: str, key: str, head: bool) -> None:
        method = "HEAD" if head else "GET"
        answer = self.send(party, method, name, key)
        outcomes = access(self.model, party, name, READ, key)

        def served(reach: Reach) -> bool:
            obj = reach.bucket.objects.get(key)
            if obj is None or (reach.by_object and not self.grants(party, obj)):
                if reach.by_object:
                    return False
                return self.refused(answer, Refused(404, "NoSuchKey"), method)
            if answer.status != 200 or answer.headers.get("etag") != obj.etag:
                return False
            # S3 counts an object's tags only for a caller that may read them (README: not
            # another tenant's READ, nor an anonymous caller), and only when there are some.
            count = str(len(obj.tags)) if obj.tags and reach.own else None
            tagging_count = answer.headers.get("x-amz-tagging-count")
            assert tagging_count == count, ("x-amz-tagging-count", count, obj.tags, answer)
            return head or answer.body == obj.body

        self.check_reach(answer, outcomes, method, served)

    def grants(self, party: str, obj: Obj) -> bool:
        return obj.acl in (OBJECT_PUBLIC if party == "anon" else OBJECT_GRANTING)

    @rule(party=parties, name=names, key=keys)
    def delete_object(self, party: str, name: str, key: str) -> None:
        answer = self.send(party, "DELETE", name, key)
        outcomes = access(self.model, party, name, DELETE, key)

        def deleted(reach: Reach) -> bool:
            if answer.status != 204:
                return False
            reach.bucket.objects.pop(key, None)
            return True

        self.check_reach(answer, outcomes, "DELETE", deleted)

    @rule(party=parties, name=names, key=keys, acl=st.sampled_from(OBJECT_ACLS[1:]))
    def put_object_acl(self, party: str, name: str, key: str, acl: str) -> None:
        query = [("acl", "")]
        answer = self.send(party, "PUT", name, key, query=query, headers={"x-amz-acl": acl})
        outcomes = access(self.model, party, name, OBJECT_ACL, key)
        if party == "anon":
            outcomes = [DENIED]

        def set_acl(reach: Reach) -> bool:
            obj = reach.bucket.objects.get(key)
            if obj is None:
                return self.refused(answer, Refused(404, "NoSuchKey"), "PUT")
            if answer.status != 200:
                return False
            obj.acl = acl
            obj.granted_at = self.model.tick()
            return True

        self.check_reach(answer, outcomes, "PUT", set_acl)

    @rule(party=parties, src_name=names, src_key=keys, name=names, key=keys,
          acl=st.sampled_from(OBJECT_ACLS))  # fmt: skip
    def copy_object(self, party: str, src_name: str, src_key: str, name: str, key: str,
                    acl: str | None) -> None:  # fmt: skip
        headers = {"x-amz-copy-source": quote(f"/{src_name}/{src_key}", safe="/~")}
        if acl:
            headers["x-amz-acl"] = acl
        answer = self.send(party, "PUT", name, key, headers=headers)
        if party == "anon":
            assert answer.status in (403, 501), answer
            return
        destination = access(self.model, party, name, WRITE, key)
        source = access(self.model, party, src_name, READ, src_key)
        allowed: list[Refused] = [o for o in destination + source if isinstance(o, Refused)]
        dst, src = destination[0], source[0]
        if isinstance(src, Reach) and src.bucket.objects.get(src_key) is None:
            allowed.append(Refused(404, "NoSuchKey"))
        if (src_name, src_key) == (name, key):
            allowed.append(Refused(400, "InvalidRequest"))  # a copy onto itself changes nothing
        held = src.bucket.objects.get(src_key) if isinstance(src, Reach) else None
        if isinstance(src, Reach) and not src.own and held is not None and held.tags:
            allowed.append(DENIED)  # copying its tags needs s3:GetObjectTagging (wave 15 B)
        if answer.status == 200:
            assert isinstance(dst, Reach) and isinstance(src, Reach), (destination, source, answer)
            obj = src.bucket.objects[src_key]
            assert _texts(_xml(answer.body), "{*}ETag") == [obj.etag], answer
            assert src.own or not obj.tags, ("another tenant's tags copied", answer)
            self.store(dst.bucket, key, obj.body, acl, obj.tags)  # directive COPY: its tags
            return
        assert allowed, (destination, source, answer)
        assert any(self.refused(answer, r, "PUT") for r in allowed), (allowed, answer)

    @rule(party=parties, name=names, chosen=st.lists(keys, min_size=1, max_size=4, unique=True))
    def delete_objects(self, party: str, name: str, chosen: list[str]) -> None:
        from xml.sax.saxutils import escape

        objects = "".join(f"<Object><Key>{escape(k)}</Key></Object>" for k in chosen)
        body = f"<Delete>{objects}</Delete>".encode()
        answer = self.send(party, "POST", name, query=[("delete", "")],
                           headers={"content-md5": _md5(body)}, body=body)  # fmt: skip
        outcomes = access(self.model, party, name, DELETE_MANY)
        reach = outcomes[0]
        if self.stale(answer):
            return
        if not isinstance(reach, Reach):
            self.expect_refusal(answer, outcomes, "POST")
            return
        assert answer.status == 200, (outcomes, answer)
        root = _xml(answer.body)
        deleted = _texts(root, "{*}Deleted/{*}Key")
        errors = {e.findtext("{*}Key"): e.findtext("{*}Code") for e in root.findall("{*}Error")}
        owner = reach.own or (party == "anon" and reach.bucket.acl == "public-read-write")
        for key in chosen:
            if owner and (party != "as" or key.startswith("p/")):
                assert key in deleted and key not in errors, (key, answer)
                reach.bucket.objects.pop(key, None)
            else:
                assert errors.get(key) == "AccessDenied" and key not in deleted, (key, answer)

    @rule(party=parties, name=names, key=st.one_of(st.none(), keys))
    def get_acl(self, party: str, name: str, key: str | None) -> None:
        answer = self.send(party, "GET", name, key, query=[("acl", "")])
        kind = ADMIN if key is None else OBJECT_ACL
        outcomes = access(self.model, party, name, kind, key) if party != "anon" else [DENIED]

        def shown(reach: Reach) -> bool:
            if not reach.own:
                return False
            if key is not None and key not in reach.bucket.objects:
                return self.refused(answer, Refused(404, "NoSuchKey"), "GET")
            if answer.status != 200:
                return False
            acl = reach.bucket.acl if key is None else reach.bucket.objects[key].acl
            uris = sorted(u.rsplit("/", 1)[-1] for u in _texts(_xml(answer.body), ".//{*}URI"))
            wanted = {
                "private": [],
                "public-read": ["AllUsers"],
                "public-read-write": ["AllUsers", "AllUsers"],
                "authenticated-read": ["AuthenticatedUsers"],
            }[acl]
            assert uris == wanted, (acl, answer)
            return True

        self.check_reach(answer, outcomes, "GET", shown)

    @rule(party=parties, name=names, key=keys, what=st.sampled_from(("tagging", "attributes")))
    def get_object_extras(self, party: str, name: str, key: str, what: str) -> None:
        """GetObjectTagging and GetObjectAttributes: the owner's alone (README: tag reads are
        not what a READ grant gives another tenant; anonymous callers get neither)."""
        headers = {"x-amz-object-attributes": "ETag,ObjectSize"} if what == "attributes" else {}
        answer = self.send(party, "GET", name, key, query=[(what, "")], headers=headers)
        kind = OBJECT_ACL if what == "tagging" else READ
        outcomes = access(self.model, party, name, kind, key) if party != "anon" else [DENIED]
        if isinstance(outcomes[0], Reach) and not outcomes[0].own:  # another tenant's
            outcomes = [DENIED]

        def shown(reach: Reach) -> bool:
            if not reach.own:
                return False
            obj = reach.bucket.objects.get(key)
            if obj is None:
                return self.refused(answer, Refused(404, "NoSuchKey"), "GET")
            if answer.status != 200:
                return False
            root = _xml(answer.body)
            if what == "attributes":
                assert root.findtext("{*}ObjectSize") == str(len(obj.body)), answer
                assert root.findtext("{*}ETag") == obj.etag.strip('"'), answer
            else:
                assert tag_set(root) == obj.tags, (obj.tags, answer)
            return True

        self.check_reach(answer, outcomes, "GET", shown)

    # --- one answer among the allowed ---------------------------------------------------------

    def check_reach(self, answer: Answer, outcomes: list[Outcome], method: str,
                    served: Callable[[Reach], bool]) -> None:  # fmt: skip
        """The answer is one of ``outcomes``: a refusal exactly, or a reach whose ``served``
        (which checks the answer and updates the model) says so."""
        for outcome in outcomes:
            if isinstance(outcome, Refused):
                if self.refused(answer, outcome, method):
                    return
            elif served(outcome):
                return
        if not self.stale(answer):
            raise AssertionError((method, outcomes, answer))

    def stale(self, answer: Answer) -> bool:
        """Whether ``answer`` may be a refusal the transport's replica window allows (wave 15
        I: tests/support/w15i_fuzz.py); never on one server."""
        return False
